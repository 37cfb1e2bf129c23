-- Least privilege: who may do what in this database.
--
-- The role that runs the migrations owns every object (the database's owner, `rekap_owner` in the
-- README's setup). Three group roles, NOLOGIN: people and services get their own logins in them
-- (`rekap db login set NAME --role ...`), which carry the per-login settings a group cannot pass on.
--   rekap_tabulator  reads master data and terminals, writes the count (records, forms, totals,
--                    partition offsets); no DDL, no temporary tables, no master data changes.
--   rekap_operator   the operators' CLI: master data, terminal registration and revocation, accepting
--                    offset gaps; reads everything in rekap and hasil; temporary tables (staging).
--   kpu_reader       reads hasil (0004), nothing else.
-- Roles belong to the whole server, so each may exist already.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rekap_tabulator') THEN
        CREATE ROLE rekap_tabulator NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rekap_operator') THEN
        CREATE ROLE rekap_operator NOLOGIN;
    END IF;
END
$$;

-- 1. Nothing for PUBLIC: not the public schema, not new functions (PostgreSQL lets everyone execute
-- a new function by default), not the migration ledger.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON public.schema_migrations FROM PUBLIC;
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION rekap.refresh_contest_expected(), rekap.bump_terminal_version() FROM PUBLIC;

-- 2. Derived tables are kept by their triggers, which now run as the owner: whoever loads TPS or
-- registers a terminal needs no right on rekap.contest_expected or rekap.terminal_version.
ALTER FUNCTION rekap.refresh_contest_expected() SECURITY DEFINER;
ALTER FUNCTION rekap.bump_terminal_version() SECURITY DEFINER;

-- 3. The tabulator locks the TPS rows of its batch (FOR NO KEY UPDATE, see tabulation.py), which
-- PostgreSQL allows only to a role that may UPDATE the table. It may not: this function takes the
-- locks for it, as the owner, and does nothing else.
CREATE FUNCTION rekap.lock_tps(tps_ids text[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM 1 FROM rekap.tps WHERE tps_id = ANY(tps_ids) ORDER BY tps_id FOR NO KEY UPDATE;
END
$$;
REVOKE EXECUTE ON FUNCTION rekap.lock_tps(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rekap.lock_tps(text[]) TO rekap_tabulator;

-- 4. The tabulator.
GRANT USAGE ON SCHEMA rekap TO rekap_tabulator;
GRANT SELECT ON rekap.dataset, rekap.provinsi, rekap.kabupaten_kota, rekap.kecamatan, rekap.desa, rekap.tps,
                rekap.contest, rekap.choice, rekap.terminal, rekap.terminal_version, rekap.contest_expected,
                rekap.contest_kecamatan, rekap.offset_gap, public.schema_migrations
      TO rekap_tabulator;
GRANT SELECT, INSERT ON rekap.record TO rekap_tabulator;
GRANT SELECT, INSERT, UPDATE ON rekap.form, rekap.tally, rekap.tally_votes, rekap.partition_offset
      TO rekap_tabulator;

-- 5. The operators.
GRANT USAGE ON SCHEMA rekap, hasil TO rekap_operator;
GRANT SELECT ON ALL TABLES IN SCHEMA rekap, hasil TO rekap_operator;
GRANT SELECT ON public.schema_migrations TO rekap_operator;
GRANT INSERT, UPDATE, DELETE ON rekap.dataset, rekap.provinsi, rekap.kabupaten_kota, rekap.kecamatan, rekap.desa,
                               rekap.tps, rekap.contest, rekap.choice
      TO rekap_operator;
GRANT INSERT, UPDATE ON rekap.terminal, rekap.partition_offset TO rekap_operator;
GRANT INSERT ON rekap.offset_gap TO rekap_operator;

-- 6. KPU's readers: limits for the role's own login (members' logins get theirs from `rekap db login
-- set`, because a group's settings do not pass to its members).
ALTER ROLE kpu_reader SET statement_timeout = '60s';
ALTER ROLE kpu_reader SET idle_in_transaction_session_timeout = '60s';
ALTER ROLE kpu_reader CONNECTION LIMIT 20;

-- 7. Who may connect, and who may create temporary tables. A database's own privileges are not copied
-- by CREATE DATABASE ... TEMPLATE or by a restore into a new database, so this is a function that
-- `rekap db migrate` calls again on every run.
CREATE FUNCTION rekap.grant_database_access() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO rekap_tabulator, rekap_operator, kpu_reader',
                   current_database());
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO rekap_operator', current_database());
END
$$;
REVOKE EXECUTE ON FUNCTION rekap.grant_database_access() FROM PUBLIC;
SELECT rekap.grant_database_access();
