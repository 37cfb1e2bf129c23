-- How many TPS of each kecamatan hold each contest, kept in a table instead of computed on every read.
--
-- The view of 0004 joined contests and TPS on an OR of two conditions, which PostgreSQL can only run
-- as a nested loop over contests x TPS: at the national scale (435,798 TPS, 594 contests) one read
-- took over 20 s, and the tabulator asked every 5 s (and every hasil.summary read paid it too). The
-- numbers change only when the master data does, so they are computed then, by statement triggers on
-- the two tables they come from: whoever writes TPS or contests, the counts follow in the same
-- transaction. Each refresh is two hash joins, O(TPS), about a second at the national scale.

CREATE TABLE rekap.contest_expected (
    contest_id     text NOT NULL,
    kecamatan_code text NOT NULL,
    tps_expected   integer NOT NULL CHECK (tps_expected > 0),
    PRIMARY KEY (contest_id, kecamatan_code)
);
COMMENT ON TABLE rekap.contest_expected IS
    'TPS per kecamatan that hold each contest; kept by triggers on rekap.tps and rekap.contest.';

CREATE FUNCTION rekap.refresh_contest_expected() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM rekap.contest_expected;
    -- One equi-join per contest kind (never an OR in a join condition: that is the nested loop).
    INSERT INTO rekap.contest_expected (contest_id, kecamatan_code, tps_expected)
    SELECT c.contest_id, t.kecamatan_code, count(*)::integer
    FROM rekap.contest c JOIN rekap.tps t ON t.provinsi_code = c.region_code
    WHERE c.kind = 'pkwkp'
    GROUP BY c.contest_id, t.kecamatan_code
    UNION ALL
    SELECT c.contest_id, t.kecamatan_code, count(*)::integer
    FROM rekap.contest c JOIN rekap.tps t ON t.kabupaten_kota_code = c.region_code
    WHERE c.kind = 'pkwkk'
    GROUP BY c.contest_id, t.kecamatan_code;
    RETURN NULL;
END
$$;

-- Only the key decides the counts (the region columns are generated from it): an update of names or
-- registered voters, which every master data load makes, does not refresh them.
CREATE TRIGGER tps_changes_expected
AFTER INSERT OR UPDATE OF tps_id OR DELETE OR TRUNCATE ON rekap.tps
FOR EACH STATEMENT EXECUTE FUNCTION rekap.refresh_contest_expected();
CREATE TRIGGER contest_changes_expected
AFTER INSERT OR UPDATE OF contest_id OR DELETE OR TRUNCATE ON rekap.contest
FOR EACH STATEMENT EXECUTE FUNCTION rekap.refresh_contest_expected();

-- Fill it for the master data already loaded (a no-op statement fires the trigger).
UPDATE rekap.contest SET contest_id = contest_id WHERE false;

-- Same name and columns as before, so every view built on it stays as it is.
CREATE OR REPLACE VIEW rekap.contest_kecamatan AS
SELECT contest_id, kecamatan_code, tps_expected FROM rekap.contest_expected;
