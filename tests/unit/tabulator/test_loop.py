"""The tabulator's loop with fakes: a batch that cannot be written is split until the record responsible
is alone, that one is set aside as `unstorable_record`, and every other record is counted once; a bug is
no record's fault, and stops the service."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
from structlog.testing import capture_logs

from rekap.adapters.kafka.deadletters import DeadLetterRefusedError
from rekap.adapters.postgres.errors import RefusedError
from rekap.domain.batch import BatchChanges, ConsumedRecord, FormKey, FormState, Judged, tabulate
from rekap.domain.decode import Rejected
from rekap.errors import RekapError, UnavailableError
from rekap.tabulator import service
from rekap.tabulator.service import Tabulator
from tests.unit.tabulator.fakes import FakeConsumer, FakeDeadLetters, FakeStore
from tests.unit.world import TPS_A, TPS_B, World


def records(world: World, count: int, partition: int = 0) -> list[ConsumedRecord]:
    """Valid forms for alternating TPS and contests: every one is accepted or a duplicate/stale."""
    out = []
    for offset in range(count):
        form = world.form(TPS_A if offset % 2 else TPS_B, seed=offset)
        form["revision"] = offset + 1  # each a correction of the last: all accepted
        raw = world.record(form)
        out.append(ConsumedRecord("tallies", partition, offset, 0, raw.key, raw.value, raw.headers))
    return out


async def run_loop(world: World, batches: list[list[ConsumedRecord]], store: FakeStore,
                   stop: asyncio.Event | None = None, refresh_every_s: float = 3600,
                   report_every_s: float = 3600, consumer: FakeConsumer | None = None,
                   dead_letters: FakeDeadLetters | None = None) -> tuple[Tabulator, FakeDeadLetters]:  # fmt: skip
    stop = stop or asyncio.Event()
    consumer = consumer or FakeConsumer(batches, stop)
    dead_letters = dead_letters or FakeDeadLetters()

    async def unchanged() -> None:
        return None

    tabulator = Tabulator(consumer=consumer, store=store, dead_letters=dead_letters, decoder=world.decoder(),  # type: ignore[arg-type]
                          refresh_decoder=unchanged, refresh_every_s=refresh_every_s,
                          report_every_s=report_every_s)  # fmt: skip
    await asyncio.wait_for(tabulator.run(stop), timeout=10)
    return tabulator, dead_letters


def refusing(offset: int, error: Exception) -> Any:
    def refuse(changes: BatchChanges) -> None:
        if any(o.record.offset == offset and o.judgement.reason != "unstorable_record" for o in changes.outcomes):
            raise error

    return refuse


@pytest.mark.parametrize("refused_by", ["postgresql", "dead letters"])
async def test_the_record_a_batch_cannot_be_written_with_is_set_aside_and_the_rest_counted(
    world: World, refused_by: str
) -> None:
    batch = records(world, 40)
    if refused_by == "postgresql":
        error: Exception = RefusedError("PostgreSQL refused it")
        store, dead_letters = FakeStore(refusing(23, error)), FakeDeadLetters()
    else:
        error = DeadLetterRefusedError("Kafka refused a dead letter")
        store, dead_letters = FakeStore(), FakeDeadLetters(refusing(23, error))
    tabulator, dead_letters = await run_loop(world, [batch], store, dead_letters=dead_letters)
    outcomes = {o.record.offset: o for changes in store.committed for o in changes.outcomes}
    assert sorted(outcomes) == list(range(40)), "every record has exactly one outcome"
    assert (outcomes[23].judgement.outcome, outcomes[23].judgement.reason) == ("rejected", "unstorable_record")
    assert type(error).__name__ in (outcomes[23].detail or "")
    assert all(o.judgement.outcome == "accepted" for offset, o in outcomes.items() if offset != 23)
    assert store.offsets == {0: 40}
    assert [r.offset for r in dead_letters.sent] == [23]
    assert tabulator.metrics.db_errors.labels("refused")._value.get() > 0


@pytest.mark.parametrize("bug", [KeyError("tps"), ValueError("a bug"), TypeError("a bug a record triggers")])
async def test_a_bug_in_pure_code_stops_the_service_and_passes_for_no_record_s_fault(
    world: World, monkeypatch: pytest.MonkeyPatch, bug: Exception
) -> None:
    """Only what the adapters refuse is a record's fault (split, set aside): an exception from the pure
    judging of one record is a bug, raised as it is, with nothing of the batch written."""

    def buggy(batch: Sequence[Judged], current: Mapping[FormKey, FormState]) -> BatchChanges:
        if any(record.offset == 23 and not isinstance(decoded, Rejected) for record, decoded, *_ in batch):
            raise bug
        return tabulate(batch, current)

    monkeypatch.setattr(service, "tabulate", buggy)
    store = FakeStore()
    with pytest.raises(type(bug)) as raised:
        await run_loop(world, [records(world, 40)], store)
    assert raised.value is bug
    assert store.committed == [], "no record was set aside as unstorable_record for it"


async def test_when_even_the_set_aside_record_cannot_be_written_the_service_stops(world: World) -> None:
    def refuse_all(_: BatchChanges) -> None:
        raise RefusedError("the schema is broken")

    with pytest.raises(RekapError, match="the schema is broken"):
        await run_loop(world, [records(world, 4)], FakeStore(refuse_all))


async def test_a_commit_whose_reply_was_lost_counts_as_committed_not_fenced(world: World) -> None:
    store = FakeStore(lose_replies=1)
    tabulator, _ = await run_loop(world, [records(world, 10), records(world, 14)[10:]], store)
    assert store.offsets == {0: 14}
    assert tabulator.progress.records == 14, "the first batch is counted once, as committed"
    assert tabulator.progress.fenced == 0
    assert tabulator.metrics.db_errors.labels("fenced")._value.get() == 0
    counted = tabulator.metrics.records.labels("accepted", "")._value.get()
    assert counted == 14


async def test_a_batch_fenced_by_another_consumer_writes_nothing_and_goes_back_to_the_stored_offsets(
    world: World,
) -> None:
    store = FakeStore(moved_meanwhile={0: 7})  # another consumer applied the partition up to 7 meanwhile
    tabulator, _ = await run_loop(world, [records(world, 5)], store)
    assert store.committed == []
    assert tabulator.progress.fenced == 1
    assert tabulator.metrics.db_errors.labels("fenced")._value.get() == 1
    assert tabulator._consumer.sought == [(0, None), (0, 7)]  # type: ignore[attr-defined]
    assert tabulator.positions.positions() == {0: 7}


async def test_on_shutdown_a_batch_waiting_for_postgresql_is_abandoned_not_lost(world: World) -> None:
    class Away(FakeStore):
        @asynccontextmanager
        async def batch(self, topic: str, batch_id: Any) -> AsyncIterator[Any]:  # noqa: ARG002
            raise UnavailableError("PostgreSQL: away")
            yield  # pragma: no cover

    store, stop = Away(), asyncio.Event()
    asyncio.get_running_loop().call_later(1.0, stop.set)  # SIGTERM while the batch waits for PostgreSQL
    tabulator, _ = await asyncio.wait_for(run_loop(world, [records(world, 3)], store, stop), timeout=10)
    assert store.committed == []
    assert tabulator.progress.records == 0, "not written: read again from the stored offsets at the next start"


def gauges(tabulator: Tabulator, name: str) -> dict[tuple[str, ...], float]:
    return {tuple(s.labels.values()): s.value for m in getattr(tabulator.metrics, name).collect() for s in m.samples}


async def test_progress_is_read_once_per_partition_taken_and_then_moved_by_each_commit(world: World) -> None:
    store = FakeStore()
    batches = [records(world, 40)[start : start + 8] for start in range(0, 40, 8)]
    tabulator, _ = await run_loop(world, batches, store, refresh_every_s=0)  # gauges set on every turn
    assert store.progress_reads == [[0]], "read when the partition was taken, never again"
    assert store.expected_reads == 1, "the owner of partition 0 reads the TPS expected once"
    read_now = {
        (kabupaten, contest): (counted, held) for _, kabupaten, contest, counted, held in await store.progress([0])
    }
    assert {key: (counted, 0) for key, counted in gauges(tabulator, "tps_counted").items()} == read_now
    assert sum(gauges(tabulator, "tps_counted").values()) == 2, "both TPS counted, from the commits alone"
    assert gauges(tabulator, "tps_expected") == {("1671", "pkwkp-16"): 9}
    assert gauges(tabulator, "regions") == {("1671", "Kota Palembang"): 1}, "names for the dashboards, with them"


async def test_progress_is_read_again_when_a_partition_is_positioned_again(world: World) -> None:
    store = FakeStore(moved_meanwhile={0: 7})  # another consumer applied the partition meanwhile: fenced, re-sought
    await run_loop(world, [records(world, 5)], store, refresh_every_s=0)
    assert store.progress_reads == [[0], [0]]


async def test_the_running_totals_are_logged_again_only_when_they_changed(world: World) -> None:
    batches = [records(world, 6)[:4], [], [], [], records(world, 6)[4:], [], [], []]  # idle turns between
    with capture_logs() as logs:
        await run_loop(world, batches, FakeStore(), report_every_s=0)  # a report due on every turn
    said = [(e["batches"], e["records"]) for e in logs if e["event"] == "tabulated"]
    assert said == [(1, 4), (2, 6)], "each change once; the idle turns said nothing"


async def test_a_partition_whose_records_are_missing_is_held_until_the_gap_is_accepted(world: World) -> None:
    """Records 0-3 vanished from the log before they were applied: the partition is paused, nothing of it
    written, until an operator moves its stored offset past the gap (`rekap tabulator accept-gap`)."""
    store, stop = FakeStore(), asyncio.Event()
    left = records(world, 8)[4:]

    class Operator(FakeConsumer):
        async def fetch(self) -> list[ConsumedRecord]:
            if self.paused and 0 not in store.offsets:
                store.offsets[0] = 4  # the gap accepted; the partition resumes at the next refresh
            return await super().fetch()

    consumer = Operator([left, [], left], stop)
    consumer.log_start[0] = 4
    with capture_logs() as logs:
        tabulator, _ = await run_loop(world, [], store, stop, refresh_every_s=0, consumer=consumer)
    missing = [e for e in logs if e["event"] == "records_missing"]
    assert [(e["partition"], e["missing_from"], e["missing_to"]) for e in missing] == [(0, 0, 3)]
    assert consumer.sought == [(0, None), (0, 4)], "taken at its beginning; after the gap, where it was moved"
    assert [e["resumed_at"] for e in logs if e["event"] == "gap_accepted"] == [4]
    assert consumer.paused == set()
    assert [o.record.offset for changes in store.committed for o in changes.outcomes] == [4, 5, 6, 7]
    assert store.offsets == {0: 8}
    assert tabulator.positions.gaps == {}


async def test_a_partition_given_up_waits_for_the_batch_being_written_which_is_not_mirrored_for_it(
    world: World,
) -> None:
    writing, written = asyncio.Event(), asyncio.Event()
    revoked_during_write: list[bool] = []

    class Slow(FakeStore):
        @asynccontextmanager
        async def batch(self, topic: str, batch_id: Any) -> AsyncIterator[Any]:
            async with super().batch(topic, batch_id) as transaction:
                writing.set()
                await asyncio.sleep(0.05)  # the rebalance asks meanwhile
                yield transaction
            written.set()

    store, stop = Slow(), asyncio.Event()
    consumer = FakeConsumer([records(world, 4), []], stop)

    async def rebalance() -> None:
        await writing.wait()
        assert consumer.revoked is not None
        await consumer.revoked([0])
        revoked_during_write.append(not written.is_set())

    rebalancing = asyncio.create_task(rebalance())
    tabulator, _ = await run_loop(world, [], store, stop, consumer=consumer)
    await rebalancing
    assert revoked_during_write == [False], "given up only once the batch in flight was in"
    assert store.offsets == {0: 4}
    assert tabulator.positions.assigned == []
    assert consumer.committed == {}, "no longer ours: its offset is not mirrored to Kafka by this consumer"
