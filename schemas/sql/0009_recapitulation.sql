-- The read contract answers what KPU asks first on election night: the whole recapitulation (D.Hasil)
-- at every level, every TPS by name with its status, the TPS still missing, each TPS's history, and
-- progress over time. Additive: every view keeps its columns, new ones come after them.

-- 1. The rest of the form's numbers, kept with the deciding form (the tabulator writes them with it).
--    They are summed when read, not kept in rekap.tally: a batch touches about one kecamatan total per
--    two records, and 13 more sums in each made the write path 15% slower (measured), where summing
--    the counted forms when asked costs a scan of rekap.form. Forms counted before this migration get
--    theirs from their record's exact bytes.
ALTER TABLE rekap.form
    ADD COLUMN registered_male       integer NOT NULL DEFAULT 0,
    ADD COLUMN registered_female     integer NOT NULL DEFAULT 0,
    ADD COLUMN voted_dpt_male        integer NOT NULL DEFAULT 0,
    ADD COLUMN voted_dpt_female      integer NOT NULL DEFAULT 0,
    ADD COLUMN voted_moved_in_male   integer NOT NULL DEFAULT 0,
    ADD COLUMN voted_moved_in_female integer NOT NULL DEFAULT 0,
    ADD COLUMN voted_added_male      integer NOT NULL DEFAULT 0,
    ADD COLUMN voted_added_female    integer NOT NULL DEFAULT 0,
    ADD COLUMN disabled_voted_male   integer NOT NULL DEFAULT 0,
    ADD COLUMN disabled_voted_female integer NOT NULL DEFAULT 0,
    ADD COLUMN ballots_received      integer NOT NULL DEFAULT 0,
    ADD COLUMN ballots_damaged       integer NOT NULL DEFAULT 0,
    ADD COLUMN ballots_unused        integer NOT NULL DEFAULT 0,
    ADD COLUMN first_counted_at      timestamptz;  -- when the TPS and contest was first counted (not held)
COMMENT ON COLUMN rekap.form.first_counted_at IS 'when a form of this TPS and contest was first counted';

UPDATE rekap.form f SET
    registered_male = (v #>> '{voters,registered,male}')::integer,
    registered_female = (v #>> '{voters,registered,female}')::integer,
    voted_dpt_male = (v #>> '{voters,voted,dpt,male}')::integer,
    voted_dpt_female = (v #>> '{voters,voted,dpt,female}')::integer,
    voted_moved_in_male = (v #>> '{voters,voted,moved_in,male}')::integer,
    voted_moved_in_female = (v #>> '{voters,voted,moved_in,female}')::integer,
    voted_added_male = (v #>> '{voters,voted,added,male}')::integer,
    voted_added_female = (v #>> '{voters,voted,added,female}')::integer,
    disabled_voted_male = (v #>> '{voters,disabled_voted,male}')::integer,
    disabled_voted_female = (v #>> '{voters,disabled_voted,female}')::integer,
    ballots_received = (v #>> '{ballots,received}')::integer,
    ballots_damaged = (v #>> '{ballots,damaged}')::integer,
    ballots_unused = (v #>> '{ballots,unused}')::integer
FROM (SELECT topic, partition, "offset", convert_from(value, 'UTF8')::jsonb AS v FROM rekap.record) r
WHERE r.topic = f.topic AND r.partition = f.partition AND r."offset" = f."offset";

-- First counted: the first record of the TPS and contest accepted and counted (a held form is not).
UPDATE rekap.form f SET first_counted_at = c.at
FROM (SELECT r.tps_id, r.contest_id, min(r.recorded_at) AS at
      FROM rekap.record r WHERE r.outcome = 'accepted' GROUP BY 1, 2) c
WHERE c.tps_id = f.tps_id AND c.contest_id = f.contest_id AND f.status = 'accepted';

CREATE INDEX form_first_counted ON rekap.form (first_counted_at) WHERE first_counted_at IS NOT NULL;

-- 2. Registered voters per the master data (the DPT of the TPS that hold the contest), kept with the
--    TPS expected by the same triggers (0005).
ALTER TABLE rekap.contest_expected
    ADD COLUMN dpt_male   bigint NOT NULL DEFAULT 0,
    ADD COLUMN dpt_female bigint NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION rekap.refresh_contest_expected() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$  -- as 0007 made it
BEGIN
    DELETE FROM rekap.contest_expected;
    -- One equi-join per contest kind (never an OR in a join condition: that is the nested loop).
    INSERT INTO rekap.contest_expected (contest_id, kecamatan_code, tps_expected, dpt_male, dpt_female)
    SELECT c.contest_id, t.kecamatan_code, count(*)::integer, sum(t.registered_male), sum(t.registered_female)
    FROM rekap.contest c JOIN rekap.tps t ON t.provinsi_code = c.region_code
    WHERE c.kind = 'pkwkp'
    GROUP BY c.contest_id, t.kecamatan_code
    UNION ALL
    SELECT c.contest_id, t.kecamatan_code, count(*)::integer, sum(t.registered_male), sum(t.registered_female)
    FROM rekap.contest c JOIN rekap.tps t ON t.kabupaten_kota_code = c.region_code
    WHERE c.kind = 'pkwkk'
    GROUP BY c.contest_id, t.kecamatan_code;
    RETURN NULL;
END
$$;
-- The registered voters now count too: an update of them refreshes.
DROP TRIGGER tps_changes_expected ON rekap.tps;
CREATE TRIGGER tps_changes_expected
AFTER INSERT OR UPDATE OF tps_id, registered_male, registered_female OR DELETE OR TRUNCATE ON rekap.tps
FOR EACH STATEMENT EXECUTE FUNCTION rekap.refresh_contest_expected();
UPDATE rekap.contest SET contest_id = contest_id WHERE false;

-- 3. Where people read times: each province's zone (WIB, WITA, WIT). Times are stored as timestamptz;
--    views show them also as the region's wall-clock time.
CREATE VIEW rekap.provinsi_zone AS
SELECT p.code AS provinsi_code, z.time_zone, z.zone
FROM rekap.provinsi p
CROSS JOIN LATERAL (
    SELECT CASE WHEN p.code IN ('51', '52', '53', '63', '64', '65') OR p.code LIKE '7%' THEN 'Asia/Makassar'
                WHEN p.code LIKE '8%' OR p.code LIKE '9%' THEN 'Asia/Jayapura'
                ELSE 'Asia/Jakarta' END AS time_zone,
           CASE WHEN p.code IN ('51', '52', '53', '63', '64', '65') OR p.code LIKE '7%' THEN 'WITA'
                WHEN p.code LIKE '8%' OR p.code LIKE '9%' THEN 'WIT'
                ELSE 'WIB' END AS zone
) z;

-- Every region of the three levels with its name, and each kecamatan under its three regions.
CREATE VIEW rekap.region AS
SELECT 'kecamatan'::text AS level, code AS region_code, name AS region_name FROM rekap.kecamatan
UNION ALL
SELECT 'kabupaten_kota', code, initcap(kind) || ' ' || name FROM rekap.kabupaten_kota
UNION ALL
SELECT 'provinsi', code, name FROM rekap.provinsi;

CREATE VIEW rekap.region_kecamatan AS
SELECT 'kecamatan'::text AS level, code AS region_code, code AS kecamatan_code FROM rekap.kecamatan
UNION ALL
SELECT 'kabupaten_kota', left(code, 4), code FROM rekap.kecamatan
UNION ALL
SELECT 'provinsi', left(code, 2), code FROM rekap.kecamatan;

-- 4. The kecamatan totals with every section (new columns after the old): the counts of 0004 from
--    rekap.tally, the sections summed over the counted forms, in the same statement (one snapshot).
CREATE OR REPLACE VIEW rekap.kecamatan_totals AS
SELECT ck.contest_id, ck.kecamatan_code, ck.tps_expected,
       coalesce(t.valid, 0)::bigint           AS valid,
       coalesce(t.invalid, 0)::bigint         AS invalid,
       coalesce(t.ballots_used, 0)::bigint    AS ballots_used,
       coalesce(t.tps_counted, 0)::integer    AS tps_counted,
       coalesce(t.tps_quarantined, 0)::integer AS tps_quarantined,
       ck.dpt_male, ck.dpt_female,
       coalesce(f.registered_male, 0)::bigint       AS registered_male,
       coalesce(f.registered_female, 0)::bigint     AS registered_female,
       coalesce(f.voted_dpt_male, 0)::bigint        AS voted_dpt_male,
       coalesce(f.voted_dpt_female, 0)::bigint      AS voted_dpt_female,
       coalesce(f.voted_moved_in_male, 0)::bigint   AS voted_moved_in_male,
       coalesce(f.voted_moved_in_female, 0)::bigint AS voted_moved_in_female,
       coalesce(f.voted_added_male, 0)::bigint      AS voted_added_male,
       coalesce(f.voted_added_female, 0)::bigint    AS voted_added_female,
       coalesce(f.disabled_voted_male, 0)::bigint   AS disabled_voted_male,
       coalesce(f.disabled_voted_female, 0)::bigint AS disabled_voted_female,
       coalesce(f.ballots_received, 0)::bigint      AS ballots_received,
       coalesce(f.ballots_damaged, 0)::bigint       AS ballots_damaged,
       coalesce(f.ballots_unused, 0)::bigint        AS ballots_unused
FROM rekap.contest_expected ck
LEFT JOIN (
    SELECT contest_id, kecamatan_code, sum(valid) AS valid, sum(invalid) AS invalid, sum(ballots_used) AS ballots_used,
           sum(tps_counted) AS tps_counted, sum(tps_quarantined) AS tps_quarantined
    FROM rekap.tally GROUP BY contest_id, kecamatan_code
) t USING (contest_id, kecamatan_code)
LEFT JOIN (
    SELECT contest_id, left(tps_id, 6) AS kecamatan_code,
           sum(registered_male) AS registered_male, sum(registered_female) AS registered_female,
           sum(voted_dpt_male) AS voted_dpt_male, sum(voted_dpt_female) AS voted_dpt_female,
           sum(voted_moved_in_male) AS voted_moved_in_male, sum(voted_moved_in_female) AS voted_moved_in_female,
           sum(voted_added_male) AS voted_added_male, sum(voted_added_female) AS voted_added_female,
           sum(disabled_voted_male) AS disabled_voted_male, sum(disabled_voted_female) AS disabled_voted_female,
           sum(ballots_received) AS ballots_received, sum(ballots_damaged) AS ballots_damaged,
           sum(ballots_unused) AS ballots_unused
    FROM rekap.form WHERE status = 'accepted' GROUP BY contest_id, left(tps_id, 6)
) f USING (contest_id, kecamatan_code);

-- 5. The recapitulation at every level: the columns of 0004, then the D.Hasil sections. Registered
--    voters twice: per the master data (dpt_*: every TPS that holds the contest) and per the counted
--    forms (registered_*); turnout is of the counted forms (voted / registered on them).
CREATE OR REPLACE VIEW hasil.summary AS
SELECT rk.level, rk.region_code, r.region_name, k.contest_id,
       sum(k.valid)::bigint AS valid, sum(k.invalid)::bigint AS invalid, sum(k.ballots_used)::bigint AS ballots_used,
       sum(k.tps_expected)::integer AS tps_expected, sum(k.tps_counted)::integer AS tps_counted,
       sum(k.tps_quarantined)::integer AS tps_quarantined,
       round(100.0 * sum(k.tps_counted) / nullif(sum(k.tps_expected), 0), 2) AS percent_counted,
       sum(k.dpt_male)::bigint AS dpt_male, sum(k.dpt_female)::bigint AS dpt_female,
       sum(k.dpt_male + k.dpt_female)::bigint AS dpt,
       sum(k.registered_male)::bigint AS registered_male, sum(k.registered_female)::bigint AS registered_female,
       sum(k.registered_male + k.registered_female)::bigint AS registered,
       sum(k.voted_dpt_male)::bigint AS voted_dpt_male, sum(k.voted_dpt_female)::bigint AS voted_dpt_female,
       sum(k.voted_moved_in_male)::bigint AS voted_moved_in_male,
       sum(k.voted_moved_in_female)::bigint AS voted_moved_in_female,
       sum(k.voted_added_male)::bigint AS voted_added_male, sum(k.voted_added_female)::bigint AS voted_added_female,
       sum(k.voted_dpt_male + k.voted_moved_in_male + k.voted_added_male)::bigint AS voted_male,
       sum(k.voted_dpt_female + k.voted_moved_in_female + k.voted_added_female)::bigint AS voted_female,
       sum(k.voted_dpt_male + k.voted_moved_in_male + k.voted_added_male
           + k.voted_dpt_female + k.voted_moved_in_female + k.voted_added_female)::bigint AS voted,
       sum(k.disabled_voted_male)::bigint AS disabled_voted_male,
       sum(k.disabled_voted_female)::bigint AS disabled_voted_female,
       sum(k.ballots_received)::bigint AS ballots_received, sum(k.ballots_damaged)::bigint AS ballots_damaged,
       sum(k.ballots_unused)::bigint AS ballots_unused,
       round(100.0 * sum(k.voted_dpt_male + k.voted_moved_in_male + k.voted_added_male
                         + k.voted_dpt_female + k.voted_moved_in_female + k.voted_added_female)
             / nullif(sum(k.registered_male + k.registered_female), 0), 2) AS turnout_percent,
       z.zone, z.time_zone, now() AS taken_at
FROM rekap.kecamatan_totals k
JOIN rekap.region_kecamatan rk USING (kecamatan_code)
JOIN rekap.region r USING (level, region_code)
JOIN rekap.provinsi_zone z ON z.provinsi_code = left(rk.region_code, 2)
GROUP BY rk.level, rk.region_code, r.region_name, k.contest_id, z.zone, z.time_zone;

-- Votes per choice, now with their share of the valid votes (the choices' sum is the valid total).
CREATE OR REPLACE VIEW hasil.votes AS
SELECT rk.level, rk.region_code, r.region_name, k.contest_id, k.choice, k.candidate_name,
       sum(k.votes)::bigint AS votes,
       round(100.0 * sum(k.votes) / nullif(sum(sum(k.votes)) OVER (PARTITION BY rk.level, rk.region_code,
                                                                   k.contest_id), 0), 2) AS percent_of_valid
FROM rekap.kecamatan_votes k
JOIN rekap.region_kecamatan rk USING (kecamatan_code)
JOIN rekap.region r USING (level, region_code)
GROUP BY rk.level, rk.region_code, r.region_name, k.contest_id, k.choice, k.candidate_name;

-- 6. Drill-down: every TPS and contest it holds, named at every level, counted / held / missing, with
--    its deciding form's numbers. Filter by any code column (each is indexed through rekap.tps).
CREATE VIEW hasil.tps_status AS
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
       (f.updated_at AT TIME ZONE z.time_zone) AS updated_local
FROM held h
JOIN rekap.provinsi p ON p.code = h.provinsi_code
JOIN rekap.provinsi_zone z ON z.provinsi_code = h.provinsi_code
JOIN rekap.kabupaten_kota kk ON kk.code = h.kabupaten_kota_code
JOIN rekap.kecamatan kc ON kc.code = h.kecamatan_code
JOIN rekap.desa d ON d.code = h.desa_code
LEFT JOIN rekap.form f ON f.tps_id = h.tps_id AND f.contest_id = h.contest_id;

-- The TPS still missing, by region (filter by kecamatan_code, kabupaten_kota_code, ...).
CREATE VIEW hasil.tps_missing AS
SELECT provinsi_code, kabupaten_kota_code, kabupaten_kota_name, kecamatan_code, kecamatan_name, desa_code,
       desa_name, tps_id, tps_name, contest_id, dpt_male, dpt_female
FROM hasil.tps_status WHERE status = 'missing';

-- 7. History: every record received about a TPS and contest, in the order received, with its outcome.
CREATE VIEW hasil.history AS
SELECT r.tps_id, r.contest_id, left(r.tps_id, 6) AS kecamatan_code, r.revision, r.outcome, r.reason, r.detail,
       r.terminal_id, r.kafka_timestamp, r.recorded_at AS received_at, z.zone,
       (r.recorded_at AT TIME ZONE z.time_zone) AS received_local, r.topic, r.partition, r."offset"
FROM rekap.record r
LEFT JOIN rekap.provinsi_zone z ON z.provinsi_code = left(r.tps_id, 2)
WHERE r.tps_id IS NOT NULL;

-- Progress over time: TPS first counted per minute and the running total, at every level and contest
-- (the election-night curve).
CREATE VIEW hasil.progress AS
WITH per_minute AS (
    SELECT rk.level, rk.region_code, f.contest_id, date_trunc('minute', f.first_counted_at) AS minute,
           count(*)::integer AS tps_first_counted
    FROM rekap.form f
    JOIN rekap.region_kecamatan rk ON rk.kecamatan_code = left(f.tps_id, 6)
    WHERE f.first_counted_at IS NOT NULL
    GROUP BY 1, 2, 3, 4
)
SELECT m.level, m.region_code, m.contest_id, m.minute, z.zone, (m.minute AT TIME ZONE z.time_zone) AS minute_local,
       m.tps_first_counted,
       (sum(m.tps_first_counted) OVER (PARTITION BY m.level, m.region_code, m.contest_id ORDER BY m.minute))::integer
           AS tps_counted_so_far
FROM per_minute m
JOIN rekap.provinsi_zone z ON z.provinsi_code = left(m.region_code, 2);

-- The review list, with the time in the region's zone (after 0004's columns).
CREATE OR REPLACE VIEW hasil.review AS
SELECT f.tps_id, f.contest_id, f.revision, f.reasons[1] AS reason, f.terminal_id, r.recorded_at AS received_at,
       f.reasons, f.submitted_at, left(f.tps_id, 6) AS kecamatan_code, z.zone,
       (r.recorded_at AT TIME ZONE z.time_zone) AS received_local
FROM rekap.form f
JOIN rekap.record r USING (topic, partition, "offset")
LEFT JOIN rekap.provinsi_zone z ON z.provinsi_code = left(f.tps_id, 2)
WHERE f.status = 'quarantined';

-- The operator reads everything in hasil (0007 granted the views there were then).
GRANT SELECT ON ALL TABLES IN SCHEMA hasil TO rekap_operator;
GRANT SELECT ON rekap.provinsi_zone, rekap.region, rekap.region_kecamatan TO rekap_operator;

-- 0001 described the schema by a document the repository does not hold; the README holds it.
COMMENT ON SCHEMA hasil IS 'Pilkada results for KPU: the read contract (README, "Reading the results (KPU)"), views only.';
