"""Chaos at deployment shape: a night published at a steady rate into a cluster of three Kafka brokers and a
PostgreSQL primary with its synchronous standby, while machines are lost; then the oracle check.

    make chaos-cluster       # a stack of its own (.rekap/cluster), 200,000 records at 1,500/s
    REKAP_HOME=.rekap/cluster ... python -m loadtests.chaos_cluster --records 60000 --rate 1000

The faults, in order, while the terminals send (times scaled to the run's length):
a tabulator SIGKILLed (another started) · the leader of a busy partition SIGKILLed, restarted 10 s later ·
a broker SIGKILLed, its data folder deleted, started again empty (it copies every partition back from the
others) · a broker cut off from the others for 20 s (SIGSTOP: this machine's brokers share one loopback
network, so the cut is a frozen process, not a network partition; the compose load test cuts a container's
network for real) · the PostgreSQL primary SIGKILLed and, 3 s later, the standby promoted
(`rekap stack promote`) · a second tabulator started, then one SIGKILLed · a new standby made from the new
primary (`rekap stack standby`) while records still come. For each: when it happened, how soon the count
moved on, how soon every record published before it was counted, and records/s counted until the next.
Ends with the oracle check (every total at every level equals what the terminals were told was written:
acks=all; one outcome row per record, the one it must have). Signatures off. Writes
loadtests/results/chaos-cluster.{md,json}.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sys
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from loadtests.chaos import Chaos, night_under_faults
from loadtests.harness import write_results
from rekap.devstack.kafka import LocalKafka, cluster_id_of
from rekap.devstack.secrets import stack_settings
from rekap.devstack.stack import LocalStack

STEPS = (0.08, 0.18, 0.32, 0.50, 0.64, 0.74, 0.80, 0.86)


@dataclass
class Timeline:
    """(seconds, records counted) every 0.2 s: the rate counted between any two moments."""

    samples: list[tuple[float, int]] = field(default_factory=list)

    def rate(self, start: float, end: float) -> float | None:
        inside = [(t, n) for t, n in self.samples if start <= t <= end]
        if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
            return None
        return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])


async def leader_of(chaos: Chaos, partition: int) -> int:
    admin = AIOKafkaAdminClient(**chaos.run.settings.kafka("admin").options())
    await admin.start()
    try:
        (described,) = await admin.describe_topics([chaos.run.topic])
    finally:
        await admin.close()
    return int(next(p["leader"] for p in described["partitions"] if p["partition"] == partition))


def node(stack: LocalStack, node_id: int) -> LocalKafka:
    return next(n for n in stack.kafka if n.node_id == node_id)


def kill(broker: LocalKafka) -> None:
    pid = broker.process.pid()
    assert pid is not None, f"{broker.name} is not running"
    os.kill(pid, signal.SIGKILL)


async def play(chaos: Chaos, span: float) -> None:
    """The faults, spread over `span` seconds of publishing."""
    stack = chaos.stack

    async def at(step: float) -> None:
        await asyncio.sleep(max(0.0, step * span - chaos.now()))

    await at(STEPS[0])
    chaos.fault("tabulator SIGKILLed, another started")
    chaos.alive()[0].kill()
    chaos.spawn()

    await at(STEPS[1])
    leader = node(stack, await leader_of(chaos, 0))
    chaos.fault(f"the leader of partition 0 ({leader.name}) SIGKILLed, restarted after 10 s")
    kill(leader)
    await asyncio.sleep(10)
    await asyncio.to_thread(leader.start)

    await at(STEPS[2])
    emptied = node(stack, (leader.node_id % 3) + 1)  # another broker than the last one
    chaos.fault(f"{emptied.name} SIGKILLed, its data folder deleted, started again empty")
    cluster = cluster_id_of(leader)
    kill(emptied)
    await asyncio.sleep(2)
    shutil.rmtree(emptied.data_dir)
    await asyncio.to_thread(emptied.start, cluster_id=cluster)

    await at(STEPS[3])
    cut = node(stack, (emptied.node_id % 3) + 1)
    chaos.fault(f"{cut.name} cut off for 20 s (SIGSTOP)")
    pid = cut.process.pid()
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    await asyncio.sleep(20)
    os.kill(pid, signal.SIGCONT)

    await at(STEPS[4])
    primary = stack.primary
    assert primary is not None
    pid = primary.pid()
    assert pid is not None
    chaos.fault(f"PostgreSQL primary ({stack.shape.primary}) SIGKILLed; the standby promoted 3 s later")
    os.kill(pid, signal.SIGKILL)
    await asyncio.sleep(3)
    promoted = await asyncio.to_thread(stack.promote, lambda text: print(f"          {text}", flush=True))
    chaos.stack = LocalStack.from_settings(stack.settings)
    assert chaos.stack.shape == promoted

    await at(STEPS[5])
    chaos.fault("a second tabulator started")
    chaos.spawn()
    await at(STEPS[6])
    chaos.fault("a tabulator SIGKILLed")
    chaos.alive()[0].kill()

    await at(STEPS[7])
    chaos.fault("a new standby made from the new primary (pg_basebackup), synchronous again")
    await asyncio.to_thread(chaos.stack.make_standby_again, lambda text: print(f"          {text}", flush=True))


async def main_async(records: int, rate: int) -> tuple[list[dict[str, Any]], list[str]]:
    stack = LocalStack.from_settings(stack_settings())
    if len(stack.kafka) != 3 or stack.shape.standby is None:
        raise SystemExit(
            "chaos-cluster needs a local stack of three brokers and a PostgreSQL standby: "
            "`rekap stack up --brokers 3 --standby` (in a REKAP_HOME of its own; `make chaos-cluster` does it)"
        )
    timeline = Timeline()
    chaos, night = await night_under_faults(stack, records, rate, play, timeline.samples)
    moments = [f.at for f in chaos.faults] + [night.total_s]
    rows: list[dict[str, Any]] = []
    for fault, until in zip(chaos.faults, moments[1:], strict=True):
        counted = timeline.rate(fault.at, until)
        rows.append({
            "at s": f"{fault.at:.1f}", "fault": fault.name, "published by then": f"{fault.produced:,}",
            "count moved on after s": f"{fault.moved_at - fault.at:.1f}" if fault.moved_at is not None else "-",
            "all before it counted after s": f"{fault.recovered_at - fault.at:.1f}" if fault.recovered_at else "never",
            "records/s counted until the next": f"{counted:,.0f}" if counted is not None else "-",
        })  # fmt: skip
    rows.append({"at s": f"{night.total_s:.1f}", "fault": f"end: {night.sent:,} records published in "
                 f"{night.publishing_s:.0f} s, all counted after {night.total_s:.0f} s "
                 f"({night.sent / night.total_s:,.0f} records/s overall)",
                 "published by then": f"{night.sent:,}", "count moved on after s": "",
                 "all before it counted after s": "oracle OK" if not night.problems else "oracle FAILED",
                 "records/s counted until the next": ""})  # fmt: skip
    return rows, night.problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--rate", type=int, default=1500, help="records published per second")
    args = parser.parse_args()
    rows, problems = asyncio.run(main_async(args.records, args.rate))
    notes = [
        (
            "Three KRaft nodes (broker + controller each; topics: 3 replicas, min.insync.replicas=2, unclean leader "
            "election off), producers idempotent with acks=all; PostgreSQL primary with a synchronous streaming "
            "standby (synchronous_commit on: a commit returns once the standby has flushed it); tabulators with a "
            "URL naming both servers (target_session_attrs=read-write). The broker cut off is frozen (SIGSTOP): "
            "the local processes share one loopback network."
        ),
    ]
    write_results("chaos-cluster", "Chaos at deployment shape: three brokers, a primary and its standby",
                  "python -m loadtests.chaos_cluster " + " ".join(sys.argv[1:]), rows, notes)  # fmt: skip
    print("\n".join(problems[:50]), file=sys.stderr)
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
