-- Tabulation: every record read with its one outcome, the form that decides each (TPS, contest),
-- the totals per kecamatan, and how far each partition has been applied. The tabulator writes all of
-- them for one batch in one transaction, so they always agree.

-- One row per Kafka record, whatever became of it: its coordinates are its identity.
CREATE TABLE rekap.record (
    topic           text NOT NULL,
    partition       integer NOT NULL,
    "offset"        bigint NOT NULL,
    outcome         text NOT NULL CHECK (outcome IN ('accepted', 'rejected', 'quarantined', 'duplicate', 'stale')),
    reason          text,  -- a RejectReason or QuarantineReason code; none for accepted, duplicate, stale
    detail          text,
    tps_id          text,  -- these four when the form could be read
    contest_id      text,
    revision        integer,
    terminal_id     text,
    kafka_timestamp timestamptz,
    record_key      bytea,
    value           bytea,
    headers         jsonb NOT NULL DEFAULT '[]',  -- [[name, base64 value], ...]
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition, "offset"),
    CHECK ((outcome IN ('rejected', 'quarantined')) = (reason IS NOT NULL))
);
CREATE INDEX record_form ON rekap.record (tps_id, contest_id) WHERE tps_id IS NOT NULL;
CREATE INDEX record_outcome ON rekap.record (outcome, reason);

-- The form that decides each (TPS, contest) now: the latest revision recorded, counted or held.
CREATE TABLE rekap.form (
    tps_id       text NOT NULL REFERENCES rekap.tps,
    contest_id   text NOT NULL REFERENCES rekap.contest,
    revision     integer NOT NULL CHECK (revision >= 1),
    digest       bytea NOT NULL,  -- of the counted numbers: what a duplicate is compared with
    status       text NOT NULL CHECK (status IN ('accepted', 'quarantined')),
    reasons      text[] NOT NULL DEFAULT '{}',  -- every rule a held form breaks, in order
    valid        integer NOT NULL,
    invalid      integer NOT NULL,
    ballots_used integer NOT NULL,
    votes        jsonb NOT NULL,
    terminal_id  text NOT NULL,
    submitted_at timestamptz NOT NULL,
    topic        text NOT NULL,
    partition    integer NOT NULL,
    "offset"     bigint NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tps_id, contest_id),
    FOREIGN KEY (topic, partition, "offset") REFERENCES rekap.record,
    CHECK ((status = 'quarantined') = (cardinality(reasons) > 0))
);
CREATE INDEX form_review ON rekap.form (contest_id) WHERE status = 'quarantined';

-- Totals per contest and kecamatan, one row per shard (the Kafka partition that wrote it), so that
-- no row is written by two consumers: no waiting, no deadlocks. Readers sum the shards; a shard
-- alone may even go below zero when a TPS moved partition, the sum never does.
CREATE TABLE rekap.tally (
    contest_id      text NOT NULL REFERENCES rekap.contest,
    kecamatan_code  text NOT NULL REFERENCES rekap.kecamatan,
    shard           integer NOT NULL,
    valid           bigint NOT NULL DEFAULT 0,
    invalid         bigint NOT NULL DEFAULT 0,
    ballots_used    bigint NOT NULL DEFAULT 0,
    tps_counted     integer NOT NULL DEFAULT 0,
    tps_quarantined integer NOT NULL DEFAULT 0,
    PRIMARY KEY (contest_id, kecamatan_code, shard)
);

CREATE TABLE rekap.tally_votes (
    contest_id     text NOT NULL,
    kecamatan_code text NOT NULL,
    shard          integer NOT NULL,
    choice         text NOT NULL,
    votes          bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (contest_id, kecamatan_code, shard, choice),
    FOREIGN KEY (contest_id, choice) REFERENCES rekap.choice
);

-- How far each partition is applied: the offset of the next record to read. The truth about
-- progress; Kafka's committed offsets only follow it, for lag tools.
CREATE TABLE rekap.partition_offset (
    topic       text NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint NOT NULL CHECK (next_offset >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition)
);
