-- Photos of the forms' sheets (tally contract v1's optional `photos`): what each deciding form names, and
-- every photo received on the photo topic, by the SHA-256 of its exact bytes. A photo is shown beside the
-- numbers when a counted or held form names it, it passed every rule and its bytes are the media type the
-- form says; any other photo (refused, or named by no form) is never published.

-- The photos the deciding form names, as it names them: [{"sheet", "sha256", "bytes", "media_type"}, ...].
-- NULL: the form names none.
ALTER TABLE rekap.form ADD COLUMN photos jsonb;
-- Which forms name a photo (a site build looks up the TPS of the photos received since the last).
CREATE INDEX form_photos ON rekap.form USING gin (photos jsonb_path_ops) WHERE photos IS NOT NULL;

-- Each photo once, by its digest: stored (kept, and published if a form names it) or refused (kept privately
-- for review). A photo refused only because its record's key was not its digest is stored once a record with
-- the right key brings it; every other rule is about the bytes alone.
CREATE TABLE rekap.photo (
    sha256      text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    bytes       integer NOT NULL CHECK (bytes > 0),
    media_type  text,  -- by its magic bytes: image/jpeg or image/png; NULL: neither
    width       integer,
    height      integer,
    status      text NOT NULL CHECK (status IN ('stored', 'refused')),
    reason      text,  -- a refused photo's PhotoReason
    detail      text,
    received_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'refused') = (reason IS NOT NULL))
);

-- One row per record of the photo topic, whatever became of it (its coordinates are its identity): a record
-- read twice (after a crash) is recorded once.
CREATE TABLE rekap.photo_record (
    topic           text NOT NULL,
    partition       integer NOT NULL,
    "offset"        bigint NOT NULL,
    outcome         text NOT NULL CHECK (outcome IN ('stored', 'duplicate', 'refused')),
    reason          text,
    detail          text,
    sha256          text,  -- of the record's value; NULL: it had none
    record_key      bytea,
    kafka_timestamp timestamptz,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition, "offset"),
    CHECK ((outcome = 'refused') = (reason IS NOT NULL))
);
CREATE INDEX photo_record_outcome ON rekap.photo_record (outcome, reason);

-- The photo consumer (`rekap photos run`) logs in as the tabulator.
GRANT SELECT, INSERT, UPDATE ON rekap.photo TO rekap_tabulator;
GRANT SELECT, INSERT ON rekap.photo_record TO rekap_tabulator;
GRANT SELECT ON rekap.photo, rekap.photo_record TO rekap_operator;

-- 8. Photos: every photo a deciding form names, and whether it is in. photo_status: received (stored, of the
--    media type the form says: published), missing (not received yet), refused (received, broke a rule),
--    mismatch (received, but not the media type the form says).
CREATE VIEW hasil.form_photo AS
SELECT f.tps_id, f.contest_id, f.revision,
       CASE WHEN f.status = 'quarantined' THEN 'held' ELSE 'counted' END AS form_status,
       (named ->> 'sheet')::integer AS sheet, named ->> 'sha256' AS sha256, (named ->> 'bytes')::integer AS bytes,
       named ->> 'media_type' AS media_type,
       CASE WHEN p.sha256 IS NULL THEN 'missing'
            WHEN p.status = 'refused' THEN 'refused'
            WHEN p.media_type IS DISTINCT FROM named ->> 'media_type' THEN 'mismatch'
            ELSE 'received' END AS photo_status,
       p.reason AS refused_reason, p.width, p.height, p.received_at
FROM rekap.form f
CROSS JOIN LATERAL jsonb_array_elements(f.photos) AS named
LEFT JOIN rekap.photo p ON p.sha256 = named ->> 'sha256';

-- hasil.tps_status as 0009 made it, and two columns more: how many photos the deciding form names, and how
-- many of them are received (both NULL without a form; 0 and 0 for a form that names none).
CREATE OR REPLACE VIEW hasil.tps_status AS
WITH held AS (
    SELECT t.*, c.contest_id FROM rekap.tps t JOIN rekap.contest c ON c.kind = 'pkwkp' AND c.region_code = t.provinsi_code
    UNION ALL
    SELECT t.*, c.contest_id FROM rekap.tps t JOIN rekap.contest c ON c.kind = 'pkwkk' AND c.region_code = t.kabupaten_kota_code
)
SELECT h.provinsi_code, p.name AS provinsi_name,
       h.kabupaten_kota_code, initcap(kk.kind) || ' ' || kk.name AS kabupaten_kota_name,
       h.kecamatan_code, kc.name AS kecamatan_name, h.desa_code, d.name AS desa_name,
       h.tps_id, 'TPS ' || right(h.tps_id, 3) AS tps_name, h.contest_id,
       CASE WHEN f.status IS NULL THEN 'missing' WHEN f.status = 'quarantined' THEN 'held' ELSE 'counted' END
           AS status,
       h.registered_male AS dpt_male, h.registered_female AS dpt_female,
       f.revision, f.valid, f.invalid, f.ballots_used, f.votes, f.reasons,
       f.registered_male, f.registered_female, f.voted_dpt_male, f.voted_dpt_female, f.voted_moved_in_male,
       f.voted_moved_in_female, f.voted_added_male, f.voted_added_female, f.disabled_voted_male,
       f.disabled_voted_female, f.ballots_received, f.ballots_damaged, f.ballots_unused,
       f.terminal_id, f.submitted_at, f.first_counted_at, f.updated_at,
       z.zone, (f.first_counted_at AT TIME ZONE z.time_zone) AS first_counted_local,
       (f.updated_at AT TIME ZONE z.time_zone) AS updated_local,
       CASE WHEN f.status IS NOT NULL THEN coalesce(jsonb_array_length(f.photos), 0) END AS photos_named,
       CASE WHEN f.status IS NOT NULL THEN (
           SELECT count(*)::integer FROM jsonb_array_elements(f.photos) AS named
           JOIN rekap.photo ph ON ph.sha256 = named ->> 'sha256'
           WHERE ph.status = 'stored' AND ph.media_type = named ->> 'media_type') END AS photos_received
FROM held h
JOIN rekap.provinsi p ON p.code = h.provinsi_code
JOIN rekap.provinsi_zone z ON z.provinsi_code = h.provinsi_code
JOIN rekap.kabupaten_kota kk ON kk.code = h.kabupaten_kota_code
JOIN rekap.kecamatan kc ON kc.code = h.kecamatan_code
JOIN rekap.desa d ON d.code = h.desa_code
LEFT JOIN rekap.form f ON f.tps_id = h.tps_id AND f.contest_id = h.contest_id;

GRANT SELECT ON hasil.form_photo TO kpu_reader, rekap_operator;
