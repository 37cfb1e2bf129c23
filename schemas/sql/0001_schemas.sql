-- The two schemas of Rekap.
--   rekap: what the tabulator owns and writes (master data, forms, outcomes, offsets, aggregates).
--   hasil: the read contract for KPU (views only), readable by the role kpu_reader.
CREATE SCHEMA rekap;
CREATE SCHEMA hasil;
COMMENT ON SCHEMA rekap IS 'Rekap tabulator state: written only by the tabulator.';
COMMENT ON SCHEMA hasil IS 'Pilkada results for KPU: the read contract (CONTRACT.md), views only.';
