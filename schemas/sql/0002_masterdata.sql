-- Master data: the region hierarchy, TPS, contests and their choices, and the terminals allowed to
-- submit forms. Codes are KPU style (no dots); a region's parent is the prefix of its code, so the
-- parent columns are generated from the code and cannot disagree with it.

CREATE TABLE rekap.dataset (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    name       text NOT NULL CHECK (name <> ''),
    tps_source text NOT NULL CHECK (tps_source <> ''),  -- says SYNTHETIC when the TPS list is derived
    loaded_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE rekap.provinsi (
    code text PRIMARY KEY CHECK (code ~ '^[0-9]{2}$'),
    name text NOT NULL CHECK (name <> '')
);

CREATE TABLE rekap.kabupaten_kota (
    code          text PRIMARY KEY CHECK (code ~ '^[0-9]{4}$'),
    provinsi_code text NOT NULL GENERATED ALWAYS AS (left(code, 2)) STORED REFERENCES rekap.provinsi,
    kind          text NOT NULL CHECK (kind IN ('kabupaten', 'kota')),
    name          text NOT NULL CHECK (name <> '')
);

CREATE TABLE rekap.kecamatan (
    code                text PRIMARY KEY CHECK (code ~ '^[0-9]{6}$'),
    kabupaten_kota_code text NOT NULL GENERATED ALWAYS AS (left(code, 4)) STORED
                        REFERENCES rekap.kabupaten_kota,
    name                text NOT NULL CHECK (name <> '')
);

CREATE TABLE rekap.desa (
    code           text PRIMARY KEY CHECK (code ~ '^[0-9]{10}$'),
    kecamatan_code text NOT NULL GENERATED ALWAYS AS (left(code, 6)) STORED REFERENCES rekap.kecamatan,
    name           text NOT NULL CHECK (name <> '')
);

CREATE TABLE rekap.tps (
    tps_id              text PRIMARY KEY CHECK (tps_id ~ '^[0-9]{13}$'),
    desa_code           text NOT NULL GENERATED ALWAYS AS (left(tps_id, 10)) STORED REFERENCES rekap.desa,
    kecamatan_code      text NOT NULL GENERATED ALWAYS AS (left(tps_id, 6)) STORED,
    kabupaten_kota_code text NOT NULL GENERATED ALWAYS AS (left(tps_id, 4)) STORED,
    provinsi_code       text NOT NULL GENERATED ALWAYS AS (left(tps_id, 2)) STORED,
    registered_male     integer NOT NULL CHECK (registered_male >= 0),
    registered_female   integer NOT NULL CHECK (registered_female >= 0),
    CHECK (registered_male + registered_female <= 600)
);
CREATE INDEX tps_kecamatan ON rekap.tps (kecamatan_code);
CREATE INDEX tps_kabupaten_kota ON rekap.tps (kabupaten_kota_code);

CREATE TABLE rekap.contest (
    contest_id  text PRIMARY KEY CHECK (contest_id ~ '^(pkwkp-[0-9]{2}|pkwkk-[0-9]{4})$'),
    kind        text NOT NULL GENERATED ALWAYS AS (left(contest_id, 5)) STORED,
    region_code text NOT NULL GENERATED ALWAYS AS (substr(contest_id, 7)) STORED,
    name        text NOT NULL CHECK (name <> '')
);

CREATE TABLE rekap.choice (
    contest_id     text NOT NULL REFERENCES rekap.contest,
    choice         text NOT NULL CHECK (choice ~ '^([1-9][0-9]?|kolom_kosong)$'),
    candidate_name text NOT NULL CHECK (candidate_name <> ''),
    PRIMARY KEY (contest_id, choice)
);

-- Only public keys: a leaked database cannot forge a tally. An id is never reused: a revoked
-- terminal stays, so every form it ever signed can still be verified.
CREATE TABLE rekap.terminal (
    terminal_id   text PRIMARY KEY CHECK (terminal_id ~ '^[a-z0-9][a-z0-9._-]{2,63}$'),
    public_key    bytea NOT NULL CHECK (octet_length(public_key) = 32),
    scope_kind    text NOT NULL CHECK (scope_kind IN ('tps', 'kecamatan')),
    scope_code    text NOT NULL,
    active        boolean NOT NULL DEFAULT true,
    registered_at timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    CHECK ((scope_kind = 'tps' AND scope_code ~ '^[0-9]{13}$')
        OR (scope_kind = 'kecamatan' AND scope_code ~ '^[0-9]{6}$')),
    CHECK (active = (revoked_at IS NULL))
);
