"""The ceiling of the peer benchmark (peer.py): the whole topic read with aiokafka and every record put
through Rekap's `Decoder` (pydantic validation, the master data and terminal checks; signatures NOT
verified), and nothing else: no revision rules, no database writes, no offsets committed.

Run by peer.py in a process of its own, configured by its environment:

    PEER_TOPIC, PEER_GROUP        the topic to read whole, and a consumer group of its own
    PEER_DSN                      a database made as a tabulator's, to read the master data and terminals from
    PEER_STATUS                   a file rewritten each second: {"done": false, "records": n}, then
                                  {"done": true, ...} once every record up to the end offsets was decoded
    REKAP_KAFKA_*                 the tabulator's Kafka login (as `rekap tabulator run` reads it)

Once done it waits for SIGTERM, so that its CPU time and memory can be read before it exits.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections import Counter
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from rekap.adapters.postgres.masterdata import read_master_data
from rekap.adapters.postgres.terminals import read_terminals
from rekap.devstack.secrets import stack_settings
from rekap.domain.decode import Authentic, Decoder, RawRecord

MAX_RECORDS = 4000  # per fetch, as a tabulator's batch


def write_status(path: Path, status: dict[str, object]) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(status))
    partial.replace(path)


async def ceiling() -> None:
    started = time.monotonic()
    topic, group, status = os.environ["PEER_TOPIC"], os.environ["PEER_GROUP"], Path(os.environ["PEER_STATUS"])
    conn = await asyncpg.connect(os.environ["PEER_DSN"])
    try:
        decoder = Decoder(await read_master_data(conn), await read_terminals(conn), verify_signatures=False)
    finally:
        await conn.close()
    ready = time.monotonic() - started
    consumer = AIOKafkaConsumer(topic, group_id=group, auto_offset_reset="earliest", enable_auto_commit=False,
                                **stack_settings().kafka("tabulator").options())  # fmt: skip
    await consumer.start()
    verdicts: Counter[str] = Counter()
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)  # joins the group (what it may fetch is read again below)
        partitions = sorted(consumer.assignment())
        begins: dict[TopicPartition, int] = await consumer.beginning_offsets(partitions)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, begins[tp])
        total, decoded, reported = sum(ends[tp] - begins[tp] for tp in partitions), 0, time.monotonic()
        while decoded < total:
            fetched = await consumer.getmany(timeout_ms=500, max_records=MAX_RECORDS)
            for records in fetched.values():
                for r in records:
                    result = decoder.decode(RawRecord(r.key, r.value, r.headers))
                    verdicts["authentic" if isinstance(result, Authentic) else str(result.reason)] += 1
                decoded += len(records)
            if time.monotonic() - reported >= 1:
                write_status(status, {"done": False, "records": decoded})
                reported = time.monotonic()
    finally:
        await consumer.stop()
    write_status(status, {"done": True, "records": decoded, "setup_s": round(ready, 2),
                          "seconds": round(time.monotonic() - started, 2), "verdicts": dict(verdicts)})  # fmt: skip
    print(json.dumps({"event": "ceiling done", "records": decoded, "verdicts": dict(verdicts)}), flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()


if __name__ == "__main__":
    asyncio.run(ceiling())
