-- What hostile records and mixed producers taught: header names stored losslessly, the authority of
-- each deciding form, and a change counter for the terminals that no commit order can fool.

-- 1. Record headers: a Kafka header name may hold a NUL or bytes that are not UTF-8, which a jsonb
-- string cannot hold, and a value may be null. Both are stored as base64 now, the value as JSON null
-- when the header had none: [[name_base64, value_base64 or null], ...], in the order received.
UPDATE rekap.record r
SET headers = (
    SELECT coalesce(jsonb_agg(jsonb_build_array(translate(encode(convert_to(h ->> 0, 'UTF8'), 'base64'), E'\n', ''),
                                                h -> 1) ORDER BY i), '[]'::jsonb)
    FROM jsonb_array_elements(r.headers) WITH ORDINALITY AS e(h, i)
)
WHERE r.headers <> '[]'::jsonb;
COMMENT ON COLUMN rekap.record.headers IS
    'The record''s headers in order: [[name, value], ...], both base64; value null for a null header value.';

-- 2. Who sent the deciding form: 1 a KPPS terminal (scope tps), 2 a PPK operator (scope kecamatan),
-- whose form supersedes any KPPS form of its TPS. The tabulator never moves a form backwards in
-- (authority, revision).
ALTER TABLE rekap.form ADD COLUMN authority smallint NOT NULL DEFAULT 1 CHECK (authority IN (1, 2));
UPDATE rekap.form f SET authority = 2
FROM rekap.terminal t WHERE t.terminal_id = f.terminal_id AND t.scope_kind = 'kecamatan';
ALTER TABLE rekap.form ALTER COLUMN authority DROP DEFAULT;

-- 3. The terminals' version: a counter every change of rekap.terminal moves, in the changing
-- transaction. Its row lock orders the writers, so a reader that saw version N and later sees N
-- again has missed nothing (a timestamp does not say that: a transaction that started earlier may
-- commit later, with an older time).
CREATE TABLE rekap.terminal_version (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version   bigint NOT NULL
);
INSERT INTO rekap.terminal_version (version) VALUES (1);

CREATE FUNCTION rekap.bump_terminal_version() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    UPDATE rekap.terminal_version SET version = version + 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER terminal_changes_version
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON rekap.terminal
FOR EACH STATEMENT EXECUTE FUNCTION rekap.bump_terminal_version();

-- 4. Records that disappeared from a partition before they were applied (deleted, expired): the
-- tabulator holds the partition until an operator accepts the gap (`rekap tabulator accept-gap`),
-- which moves the partition's offset past it and records here who did, when and why.
CREATE TABLE rekap.offset_gap (
    topic         text NOT NULL,
    partition     integer NOT NULL,
    first_missing bigint NOT NULL CHECK (first_missing >= 0),
    next_offset   bigint NOT NULL,  -- the first offset the log still had: where counting went on
    accepted_by   text NOT NULL CHECK (accepted_by <> ''),
    reason        text NOT NULL DEFAULT '',
    accepted_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition, first_missing),
    CHECK (next_offset > first_missing)
);

-- 5. The batch that last moved each partition. A commit whose reply was lost is retried; the retry
-- finds the offset moved, and by this id knows the batch did commit (and is not fenced).
ALTER TABLE rekap.partition_offset ADD COLUMN batch_id uuid;
