"""A night written straight into the database, through the tabulator's own write path (decoder, revision
rules, batch transaction), without Kafka: each record on its key's partition, in publishing order, in
batches, as a tabulator writes them. For tests and load tests of what reads the results."""

from __future__ import annotations

import uuid
import zlib

from rekap.adapters.postgres.connection import create_pool
from rekap.adapters.postgres.tabulation import TabulationStore, init_connection
from rekap.domain.batch import ConsumedRecord, PartitionAdvance, decode_all, form_keys, tabulate
from rekap.domain.decode import Decoder
from rekap.domain.ledger import anchor
from rekap.simulation.night import Planned

PARTITIONS = 6
BATCH = 500


async def write_directly(
    tabulator_url: str,
    topic: str,
    planned: list[Planned],
    decoder: Decoder,
    since: dict[int, int] | None = None,
    *,
    partitions: int = PARTITIONS,
    batch_size: int = BATCH,
) -> dict[int, int]:
    """Write the records after those written before (`since`: partition -> next offset, what the last call
    returned); returns where each partition stands now."""
    offsets: dict[int, int] = dict(since or {})
    records = []
    for p in planned:
        partition = zlib.crc32(p.key) % partitions
        offset = offsets.get(partition, 0)
        offsets[partition] = offset + 1
        records.append(ConsumedRecord(topic, partition, offset, None, p.key, p.value, tuple(p.headers)))
    pool = await create_pool(tabulator_url, min_size=1, max_size=1, init=init_connection)
    try:
        store = TabulationStore(pool)
        stands: dict[int, int | None] = dict(since or {})
        for start in range(0, len(records), batch_size):
            batch = decode_all(decoder, records[start : start + batch_size])
            last = {judged[0].partition: judged[0].offset for judged in batch}
            advances = [PartitionAdvance(p, stands.get(p), offset + 1) for p, offset in sorted(last.items())]
            async with store.batch(topic, uuid.uuid4()) as transaction:
                ledgers = await transaction.fence(advances)
                forms = await transaction.deciding_forms(form_keys(judged[1] for judged in batch))
                changes = tabulate(batch, forms)
                await transaction.write(changes, anchor(changes.entries(), ledgers))
            stands.update({a.partition: a.next_offset for a in advances})
    finally:
        await pool.close()
    return offsets
