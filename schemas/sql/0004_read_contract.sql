-- The read contract for KPU (CONTRACT.md): views in schema hasil, readable by the role kpu_reader,
-- which may read hasil and nothing else. Every level is summed from the same kecamatan rows in one
-- statement, so a province equals the sum of its kabupaten/kota, which equals the sum of their
-- kecamatan, in whatever a reader sees.

-- Which contests each kecamatan holds, and how many of its TPS hold each.
CREATE VIEW rekap.contest_kecamatan AS
SELECT c.contest_id, t.kecamatan_code, count(*)::integer AS tps_expected
FROM rekap.contest c
JOIN rekap.tps t
  ON (c.kind = 'pkwkp' AND t.provinsi_code = c.region_code)
  OR (c.kind = 'pkwkk' AND t.kabupaten_kota_code = c.region_code)
GROUP BY c.contest_id, t.kecamatan_code;

CREATE VIEW rekap.kecamatan_totals AS
SELECT ck.contest_id, ck.kecamatan_code, ck.tps_expected,
       coalesce(sum(t.valid), 0)::bigint           AS valid,
       coalesce(sum(t.invalid), 0)::bigint         AS invalid,
       coalesce(sum(t.ballots_used), 0)::bigint    AS ballots_used,
       coalesce(sum(t.tps_counted), 0)::integer    AS tps_counted,
       coalesce(sum(t.tps_quarantined), 0)::integer AS tps_quarantined
FROM rekap.contest_kecamatan ck
LEFT JOIN rekap.tally t USING (contest_id, kecamatan_code)
GROUP BY ck.contest_id, ck.kecamatan_code, ck.tps_expected;

CREATE VIEW rekap.kecamatan_votes AS
SELECT ck.contest_id, ck.kecamatan_code, ch.choice, ch.candidate_name,
       coalesce(sum(v.votes), 0)::bigint AS votes
FROM rekap.contest_kecamatan ck
JOIN rekap.choice ch USING (contest_id)
LEFT JOIN rekap.tally_votes v
  ON v.contest_id = ck.contest_id AND v.kecamatan_code = ck.kecamatan_code AND v.choice = ch.choice
GROUP BY ck.contest_id, ck.kecamatan_code, ch.choice, ch.candidate_name;

CREATE VIEW hasil.summary AS
WITH k AS (SELECT * FROM rekap.kecamatan_totals)
SELECT 'kecamatan'::text AS level, k.kecamatan_code AS region_code, kc.name AS region_name, k.contest_id,
       k.valid, k.invalid, k.ballots_used, k.tps_expected, k.tps_counted, k.tps_quarantined
FROM k JOIN rekap.kecamatan kc ON kc.code = k.kecamatan_code
UNION ALL
SELECT 'kabupaten_kota', kk.code, initcap(kk.kind) || ' ' || kk.name, k.contest_id,
       sum(k.valid)::bigint, sum(k.invalid)::bigint, sum(k.ballots_used)::bigint,
       sum(k.tps_expected)::integer, sum(k.tps_counted)::integer, sum(k.tps_quarantined)::integer
FROM k JOIN rekap.kabupaten_kota kk ON kk.code = left(k.kecamatan_code, 4)
GROUP BY kk.code, kk.kind, kk.name, k.contest_id
UNION ALL
SELECT 'provinsi', p.code, p.name, k.contest_id,
       sum(k.valid)::bigint, sum(k.invalid)::bigint, sum(k.ballots_used)::bigint,
       sum(k.tps_expected)::integer, sum(k.tps_counted)::integer, sum(k.tps_quarantined)::integer
FROM k JOIN rekap.provinsi p ON p.code = left(k.kecamatan_code, 2)
GROUP BY p.code, p.name, k.contest_id;

CREATE VIEW hasil.votes AS
WITH k AS (SELECT * FROM rekap.kecamatan_votes)
SELECT 'kecamatan'::text AS level, k.kecamatan_code AS region_code, kc.name AS region_name, k.contest_id,
       k.choice, k.candidate_name, k.votes
FROM k JOIN rekap.kecamatan kc ON kc.code = k.kecamatan_code
UNION ALL
SELECT 'kabupaten_kota', kk.code, initcap(kk.kind) || ' ' || kk.name, k.contest_id, k.choice, k.candidate_name,
       sum(k.votes)::bigint
FROM k JOIN rekap.kabupaten_kota kk ON kk.code = left(k.kecamatan_code, 4)
GROUP BY kk.code, kk.kind, kk.name, k.contest_id, k.choice, k.candidate_name
UNION ALL
SELECT 'provinsi', p.code, p.name, k.contest_id, k.choice, k.candidate_name, sum(k.votes)::bigint
FROM k JOIN rekap.provinsi p ON p.code = left(k.kecamatan_code, 2)
GROUP BY p.code, p.name, k.contest_id, k.choice, k.candidate_name;

CREATE VIEW hasil.tps AS
SELECT f.tps_id, f.contest_id, f.revision, f.status, f.valid, f.invalid, f.votes,
       f.ballots_used, f.reasons, f.terminal_id, f.submitted_at, f.updated_at
FROM rekap.form f;

CREATE VIEW hasil.review AS
SELECT f.tps_id, f.contest_id, f.revision, f.reasons[1] AS reason, f.terminal_id, r.recorded_at AS received_at,
       f.reasons, f.submitted_at, left(f.tps_id, 6) AS kecamatan_code
FROM rekap.form f
JOIN rekap.record r USING (topic, partition, "offset")
WHERE f.status = 'quarantined';

-- The role. NOLOGIN: give people their own login in it (CREATE ROLE ana LOGIN PASSWORD '...' IN ROLE
-- kpu_reader), or ALTER ROLE kpu_reader LOGIN PASSWORD '...'. Roles belong to the whole server, so it
-- may exist already.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kpu_reader') THEN
        CREATE ROLE kpu_reader NOLOGIN;
    END IF;
END
$$;
ALTER ROLE kpu_reader SET default_transaction_read_only = on;
GRANT USAGE ON SCHEMA hasil TO kpu_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA hasil TO kpu_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA hasil GRANT SELECT ON TABLES TO kpu_reader;
-- Everyone may create temporary tables by default; a reader must not write even those. The role that
-- runs migrations keeps the right (the master data loader uses temporary tables).
DO $$
BEGIN
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO %I', current_database(), current_user);
END
$$;
