-- 0013: hasil.contest, every race and its name, for KPU's reader.
--
-- The recapitulation (`rekap report`) names the race it recapitulates as the master data names it
-- ("Pemilihan Gubernur dan Wakil Gubernur Sumatera Selatan 2024"), and reads as kpu_reader, who may read
-- the schema hasil and nothing else: the names are shown there, as the regions' names already are.
CREATE VIEW hasil.contest AS
SELECT contest_id, kind, region_code, name FROM rekap.contest;

GRANT SELECT ON hasil.contest TO kpu_reader;
