"""The tabulator's loop: consume → decode and validate → judge against the deciding forms →
aggregate → write outcomes, forms, totals and offsets in one transaction → mirror offsets to Kafka.

Exactly once: the database holds how far each partition is applied, in the same transaction as
what it applied; a consumer that lost a partition cannot move it (see OffsetFencedError). Where this
tabulator believes each partition stands, what it seeks and what it admits is kept by a pure
PartitionPositions (rekap.domain.positions), which the loop drives; the consumer only fetches and seeks.

Two batches are in hand at once: the next is fetched and decoded while the one before it commits, in
the same event loop (the decoding yields between slices). The next is admitted only once the one
before is in: what it applies starts where the database now says each partition stands.
"""

from __future__ import annotations

import asyncio
import gc
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from rekap.adapters.kafka.consumer import TallyConsumer
from rekap.adapters.kafka.deadletters import DeadLetterRefusedError, DeadLetters
from rekap.adapters.postgres.errors import RefusedError
from rekap.adapters.postgres.tabulation import AlreadyCommittedError, OffsetFencedError, TabulationStore
from rekap.domain.batch import BatchChanges, ConsumedRecord, Judged, PartitionAdvance, decode_all, form_keys, tabulate
from rekap.domain.decode import Decoded, Decoder, Rejected
from rekap.domain.ledger import anchor
from rekap.domain.positions import Fetched, PartitionPositions
from rekap.domain.progress import ProgressBook
from rekap.domain.reasons import RejectReason
from rekap.errors import RekapError
from rekap.retry import Backoff, until_available
from rekap.tabulator.metrics import TabulatorMetrics

log = structlog.get_logger(__name__)

Batch = list[Judged]
DECODE_SLICE = 32  # records decoded between two turns of the event loop (a few ms: the commit waits no longer)
GARBAGE_EVERY_S = 30.0  # `rekap tabulator run` turns the automatic collector off: cycles collected this often
DecoderSource = Callable[[], Awaitable[Decoder | None]]  # a new decoder when the terminals changed
# What the adapters raise for a batch they cannot store, and would raise again for the same batch: PostgreSQL
# or its driver refused a value (the boundary in adapters/postgres/errors.py), or the broker or the producer
# refused a dead letter. `_write` splits the batch to find the record responsible. Anything else a commit
# raises is a server away (retried in `_commit`) or a bug, which stops the service rather than hide as a
# record's fault.
REFUSED = (RefusedError, DeadLetterRefusedError)


@dataclass
class Progress:
    """What the loop has done, for the periodic log line (and, later, the metrics)."""

    batches: int = 0
    records: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    fenced: int = 0


@dataclass(frozen=True, slots=True)
class _Committed:
    changes: BatchChanges
    advances: list[PartitionAdvance]
    seconds: float  # from the fetch to the commit
    db_seconds: float  # the transaction's, retries included


def _span(records: list[ConsumedRecord]) -> dict[str, str]:
    """partition -> "first-last" offsets of a batch."""
    span: dict[int, tuple[int, int]] = {}
    for record in records:
        first, _ = span.get(record.partition, (record.offset, record.offset))
        span[record.partition] = (first, record.offset)
    return {str(p): f"{first}-{last}" for p, (first, last) in sorted(span.items())}


def _unknown_terminal(decoded: Decoded) -> bool:
    return isinstance(decoded, Rejected) and decoded.reason is RejectReason.UNKNOWN_TERMINAL


class Tabulator:
    def __init__(
        self,
        *,
        consumer: TallyConsumer,
        store: TabulationStore,
        dead_letters: DeadLetters,
        decoder: Decoder,
        refresh_decoder: DecoderSource,
        metrics: TabulatorMetrics | None = None,
        refresh_every_s: float = 5.0,
        report_every_s: float = 10.0,
    ) -> None:
        self._consumer = consumer
        self._store = store
        self._dead_letters = dead_letters
        self._decoder = decoder
        self._refresh_decoder = refresh_decoder
        self._refresh_every_s = refresh_every_s
        self._report_every_s = report_every_s
        self.progress = Progress()
        self.metrics = metrics or TabulatorMetrics()
        self.metrics_address: str | None = None  # where /metrics listens, when it does
        self.positions = PartitionPositions()  # where each owned partition stands, as the database said
        self._in_flight = asyncio.Lock()  # held while a batch is written: a rebalance waits for it
        self._postgres_ok = True
        self._committed: list[_Committed] = []  # batches committed, their bookkeeping still to do
        self._tps = ProgressBook()  # TPS counted and held in the owned partitions, moved by each commit
        self._expected: list[tuple[str, str, int]] | None = None  # TPS expected, read again when it may change
        self._region_names: dict[str, str] = {}  # kabupaten/kota code -> name, read with the TPS expected
        self._next_progress_read = 0.0  # when to try reading progress again after PostgreSQL failed it
        self._reported: dict[str, object] | None = None  # the "tabulated" line's fields, as last said

    async def run(self, stop: asyncio.Event) -> None:
        """Tabulate until `stop` is set; the batch in flight is finished and committed first. Each turn:

        1. fetch: the next records, stamped with each partition's seek count (no await between the two);
        2. decode: each record decoded and validated (pure), while the batch before commits;
        3. wait: the batch before is in (its partitions advanced), or they were sought again (fenced);
        4. read progress: of the partitions positioned since the last turn, while nothing is in flight;
        5. admit: of what was fetched, what follows where each partition stands (a partition whose records
           are missing is held);
        6. write: the batch judged and written in one transaction (`_commit`), while the next is fetched;
        7. after the commits: the offsets mirrored to Kafka, the counts, the metrics;
        8. now and then: the terminals reloaded, gaps an operator accepted resumed, gauges, the totals line.

        Beside the loop, the group's rebalances: partitions taken are sought where the database says they
        stand (`_assigned`); partitions given up wait for the batch in flight (`_revoked`)."""
        structlog.contextvars.bind_contextvars(topic=self._consumer.topic)  # on every line from here on
        self._consumer.subscribe(assigned=self._assigned, revoked=self._revoked)
        next_refresh = next_report = time.monotonic()
        next_collect = next_refresh + GARBAGE_EVERY_S
        committing: asyncio.Task[None] | None = None
        try:
            while not stop.is_set():
                fetched = self.positions.fetched(await self._consumer.fetch())  # 1. fetch
                started = time.monotonic()
                decoded = await self._decode(fetched.records)  # 2. decode
                if committing is not None:
                    previous, committing = committing, None
                    await previous  # 3. wait for the batch before
                await self._read_progress()  # 4. read progress
                batch = await self._admit(fetched, decoded)  # 5. admit
                if batch:
                    committing = asyncio.create_task(self._process(batch, stop, started))  # 6. write
                await self._after_commits()  # 7. after the commits
                now = time.monotonic()  # 8. now and then
                if now >= next_refresh:
                    await self._refresh()
                    await self._observe_progress()
                    next_refresh = now + self._refresh_every_s
                if now >= next_report and self.progress.batches:
                    self._report()
                    next_report = now + self._report_every_s
                if now >= next_collect:
                    gc.collect()
                    next_collect = now + GARBAGE_EVERY_S
        finally:
            if committing is not None:
                await committing
        await self._after_commits()
        self._report()

    async def _decode(self, records: list[ConsumedRecord]) -> Batch:
        """2. Decode in slices, letting the commit in flight take its turns between them."""
        decoded: Batch = []
        for start in range(0, len(records), DECODE_SLICE):
            decoded += decode_all(self._decoder, records[start : start + DECODE_SLICE])
            await asyncio.sleep(0)
        return decoded

    async def _admit(self, fetched: Fetched, decoded: Batch) -> Batch:
        """5. The decoded records the positions admit; a partition whose first record lies past where it
        stands is admitted only if its log still starts there, else held until an operator accepts the gap."""
        admission = self.positions.admit(fetched)
        if admission.unclear:
            log_starts = await self._consumer.log_starts(sorted(admission.unclear))
            admission, gaps = self.positions.settle(admission, log_starts)
            for gap in gaps:
                self._consumer.pause(gap.partition)
                log.error(
                    "records_missing",
                    partition=gap.partition,
                    missing_from=gap.first_missing,
                    missing_to=gap.next_offset - 1,
                    records=gap.missing,
                    action="the partition is held; `rekap tabulator accept-gap` after a review",
                )
        batch = [judged for judged in decoded if admission.admits(judged[0])]
        if any(_unknown_terminal(judged[1]) for judged in batch) and await self._refresh():
            # Registered a moment ago, maybe: judged again with the terminals as the database has them now.
            batch = [
                decode_all(self._decoder, [judged[0]])[0] if _unknown_terminal(judged[1]) else judged
                for judged in batch
            ]
        return batch

    async def _process(self, decoded: Batch, stop: asyncio.Event, started: float) -> None:
        """6. Write the batch (in the background: the loop fetches and decodes the next meanwhile)."""
        # every line about this batch says which records it holds
        with structlog.contextvars.bound_contextvars(batch=_span([judged[0] for judged in decoded])):
            await self._write(decoded, stop, started)

    async def _write(self, decoded: Batch, stop: asyncio.Event, started: float) -> bool:
        """Write these records, or find the one that cannot be written: a batch that PostgreSQL or the
        dead-letter topic refuses (REFUSED) is split in halves until the record responsible is alone; that
        one is recorded as `unstorable_record`, raw, and the count goes on. Any other error is raised: a
        bug stops the service rather than pass for a record's fault. False if the rest must wait (fenced,
        or abandoned on shutdown)."""
        try:
            return await self._commit(decoded, stop, started)
        except REFUSED as error:
            refused = error
        self.metrics.db_errors.labels("refused").inc()
        if len(decoded) > 1:
            half = len(decoded) // 2
            log.warning("batch_split", error=str(refused), records=len(decoded))
            return await self._write(decoded[:half], stop, started) and await self._write(decoded[half:], stop, started)
        record, _, basis, digest = decoded[0]
        log.error("record_unstorable", partition=record.partition, offset=record.offset, error=repr(refused))
        unstorable = Rejected(RejectReason.UNSTORABLE_RECORD, f"{type(refused).__name__}: {refused}")
        return await self._commit([(record, unstorable, basis, digest)], stop, started)

    async def _commit(self, decoded: Batch, stop: asyncio.Event, started: float) -> bool:
        """One transaction, retried while PostgreSQL or Kafka are away. False when fenced or abandoned."""
        records = [judged[0] for judged in decoded]
        keys = form_keys(judged[1] for judged in decoded)
        advances = self.positions.advances(records)
        batch_id = uuid.uuid4()  # the same for every attempt: a retry can tell its own commit
        changes: BatchChanges | None = None  # what the last attempt judged: what committed, if one did
        backoff, retries = Backoff(), 0
        while True:
            try:
                async with self._in_flight:
                    db_started = time.monotonic()
                    async with self._store.batch(self._consumer.topic, batch_id) as transaction:
                        ledgers = await transaction.fence(advances)  # a. only the owner of these offsets goes on
                        forms = await transaction.deciding_forms(keys)  # b. read, and locked to commit
                        changes = tabulate(decoded, forms)  # c. judge and sum (pure)
                        anchored = anchor(changes.entries(), ledgers)  # d. each record a leaf of its ledger (pure)
                        await transaction.write(changes, anchored)  # e. outcome rows, ledgers, forms, totals
                        await self._dead_letters.send(changes)  # f. rejected copies, acknowledged
                    # g. committed (the offsets and ledgers moved with it)
                break
            except AlreadyCommittedError:
                # An earlier attempt committed and its reply was lost: the batch is in, counted once.
                log.info("batch_committed_reply_lost", records=len(records))
                break
            except OffsetFencedError as fenced:
                # Another consumer applied these partitions further: ours was a stale view. Nothing
                # of the batch was written; go back to what the database holds.
                self.progress.fenced += 1
                self.metrics.db_errors.labels("fenced").inc()
                log.warning("batch_fenced", believed=fenced.expected, records=len(records))
                await self._seek_stored(self.positions.fenced(a.partition for a in advances))
                return False
            except RekapError as error:
                if not error.retriable:
                    raise
                if stop.is_set():
                    log.warning("batch_abandoned_on_shutdown", records=len(records), error=str(error))
                    return False  # not written: it is read again on the next start
                self.metrics.db_errors.labels("retried").inc()
                retries += 1
                self._postgres_ok = False
                self._set_health()
                delay = backoff.next_delay()
                log.warning("batch_retry", error=str(error), records=len(records), retry_in_s=round(delay, 1))
                await asyncio.sleep(delay)
        assert changes is not None  # a committed batch was judged
        now = time.monotonic()
        if retries:
            log.info("recovered", retries=retries, waited_s=round(now - started, 1))
        self._postgres_ok = True
        self.positions.advanced(advances)
        self._committed.append(_Committed(changes, advances, seconds=now - started, db_seconds=now - db_started))
        return True

    async def _after_commits(self) -> None:
        """7. What follows a commit, done while the next batch commits: the offsets mirrored to Kafka (for
        lag tools), the counts, the progress and the metrics."""
        if not self._committed:
            return
        committed, self._committed = self._committed, []
        for done in committed:
            await self._consumer.commit(
                {a.partition: a.next_offset for a in done.advances if self.positions.owns(a.partition)}
            )
            self._count(done.changes)
            self._tps.add(done.changes.totals)
            self.metrics.observe_batch(done.changes, seconds=done.seconds, db_seconds=done.db_seconds)
        self._set_positions()

    async def _assigned(self, partitions: list[int]) -> None:
        """Partitions the group gave: sought where the database says they stand, before they are fetched."""
        log.info("partitions_assigned", partitions=partitions)
        await self._seek_stored(self.positions.assign(partitions))

    async def _revoked(self, partitions: list[int]) -> None:
        """Partitions the group takes away: once the batch being written is in, no longer ours."""
        async with self._in_flight:
            self.positions.revoke(partitions)
        log.info("partitions_revoked", partitions=partitions)

    async def _seek_stored(self, partitions: list[int]) -> None:
        """Seek these partitions to the offsets PostgreSQL holds (waiting for it if it is away)."""
        if not partitions:
            return
        topic, store = self._consumer.topic, self._store
        stored = await until_available("PostgreSQL (stored offsets)", lambda: store.stored_offsets(topic, partitions))
        for seek in self.positions.seeks(partitions, stored):
            await self._consumer.seek(seek.partition, seek.offset)
            self.positions.sought(seek)
        log.info("partitions_positioned", positions={p: stored.get(p, "beginning") for p in partitions})

    async def _resume_accepted_gaps(self) -> None:
        """Resume the held partitions whose stored offset an operator moved past the gap."""
        if not self.positions.gaps:
            return
        stored = await self._store.stored_offsets(self._consumer.topic, sorted(self.positions.gaps))
        for seek in self.positions.seeks(self.positions.gaps_accepted(stored), stored):
            await self._consumer.seek(seek.partition, seek.offset)
            self.positions.sought(seek)
            self._consumer.resume(seek.partition)
            log.warning("gap_accepted", partition=seek.partition, resumed_at=seek.offset)

    async def _read_progress(self) -> None:
        """4. The progress of partitions taken (or sought again) since the last look, read once, and the
        TPS expected when the owner of partition 0 takes it or the master data may have changed. Read
        while no batch is in flight, after the committed ones moved the book: every batch committed
        before is in what is read, and every one after moves it by its changes (see ProgressBook)."""
        positioned = self.positions.positioned()
        to_read = self._tps.to_read(positioned)
        if 0 not in positioned:
            self._expected = None
            self._region_names = {}
        expected_to_read = 0 in positioned and (self._expected is None or 0 in to_read)
        if not (to_read or expected_to_read) or time.monotonic() < self._next_progress_read:
            return
        await self._after_commits()
        try:
            if to_read:
                self._tps.reset(to_read, await self._store.progress(sorted(to_read)))
            if expected_to_read:
                self._region_names = await self._store.region_names()
                self._expected = await self._store.expected()
        except RekapError as error:
            if not error.retriable:
                raise
            self._postgres_ok = False
            self._next_progress_read = time.monotonic() + self._refresh_every_s

    async def _observe_progress(self) -> None:
        """8. Gaps accepted resumed; progress gauges of the owned partitions, positions and lag, health:
        every refresh period."""
        try:
            await self._resume_accepted_gaps()
        except RekapError as error:
            if not error.retriable:
                raise
            self._postgres_ok = False
        self.metrics.set_progress(self._tps.totals(), self._expected or [])
        self.metrics.set_regions(self._region_names if self._expected is not None else {})
        self.metrics.set_gaps({gap.partition: gap.missing for gap in self.positions.gaps.values()})
        self._set_positions()
        self._set_health()

    def _set_positions(self) -> None:
        self.metrics.set_positions(self.positions.positions(), self._consumer.highwater(self.positions.assigned))

    def _set_health(self) -> None:
        self.metrics.set_health(
            kafka=self._consumer.connected, postgres=self._postgres_ok, partitions=len(self.positions.assigned)
        )

    async def _refresh(self) -> bool:
        """Take the registered terminals and master data as the registry holds them now, if it grew. True if
        it did."""
        try:
            decoder = await self._refresh_decoder()
        except RekapError as error:
            log.warning("terminal_refresh_failed", error=str(error))
            self._postgres_ok = not error.retriable  # also the readiness probe of PostgreSQL when idle
            return False
        self._postgres_ok = True
        if decoder is None:
            return False
        self._decoder = decoder
        self._expected = None  # read with the master data again: it may have changed too
        log.info("terminals_reloaded", registry_size=decoder.registry_size)
        return True

    def _count(self, changes: BatchChanges) -> None:
        self.progress.batches += 1
        self.progress.records += len(changes.outcomes)
        self.progress.outcomes.update(o.judgement.outcome.value for o in changes.outcomes)

    def _report(self) -> None:
        """The running totals, when they changed since the last time they were said: an idle tabulator
        repeats nothing."""
        said = {
            "batches": self.progress.batches,
            "records": self.progress.records,
            "outcomes": dict(self.progress.outcomes),
            "fenced": self.progress.fenced,
            "partitions": self.positions.assigned,
        }
        if said != self._reported:
            log.info("tabulated", **said)
            self._reported = said
