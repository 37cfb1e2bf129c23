-- 0011: hasil.summary sums each region's kecamatan first, then names them.
--
-- As 0009 wrote it, the view joined the kecamatan totals to the regions' names and zones before summing.
-- The planner cannot see through those joins (unions of kecamatan with constant levels, a province found
-- by the first two digits of a code) and, once ANALYZE had run, expected one row where there are 723:
-- it chose nested loops that summed every kecamatan again for each of them. On Sumatera Selatan a read
-- of hasil.summary took 0.45-0.6 s instead of 0.05 s; the public site reads it at every build, and KPU's
-- readers with it. Same columns, same rows (checked against the old view on the load tests' databases).
CREATE OR REPLACE VIEW hasil.summary AS
WITH totals AS (
    SELECT rk.level, rk.region_code, k.contest_id,
           sum(k.valid)::bigint AS valid, sum(k.invalid)::bigint AS invalid,
           sum(k.ballots_used)::bigint AS ballots_used,
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
                 / nullif(sum(k.registered_male + k.registered_female), 0), 2) AS turnout_percent
    FROM rekap.kecamatan_totals k
    JOIN rekap.region_kecamatan rk USING (kecamatan_code)
    GROUP BY rk.level, rk.region_code, k.contest_id
)
SELECT t.level, t.region_code, r.region_name, t.contest_id, t.valid, t.invalid, t.ballots_used, t.tps_expected,
       t.tps_counted, t.tps_quarantined, t.percent_counted, t.dpt_male, t.dpt_female, t.dpt, t.registered_male,
       t.registered_female, t.registered, t.voted_dpt_male, t.voted_dpt_female, t.voted_moved_in_male,
       t.voted_moved_in_female, t.voted_added_male, t.voted_added_female, t.voted_male, t.voted_female, t.voted,
       t.disabled_voted_male, t.disabled_voted_female, t.ballots_received, t.ballots_damaged, t.ballots_unused,
       t.turnout_percent, z.zone, z.time_zone, now() AS taken_at
FROM totals t
JOIN rekap.region r USING (level, region_code)
JOIN rekap.provinsi_zone z ON z.provinsi_code = left(t.region_code, 2);