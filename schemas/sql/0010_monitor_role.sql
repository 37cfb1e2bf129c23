-- Monitoring (issue 13): the group role of the logins that PostgreSQL's Prometheus exporter connects as
-- (`rekap db login set NAME --role monitor`). It reads the server's statistics through PostgreSQL's
-- built-in role pg_monitor, and nothing of Rekap's: no schema, no table, no view, no function.
-- Roles belong to the whole server, so it may exist already.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rekap_monitor') THEN
        CREATE ROLE rekap_monitor NOLOGIN;
    END IF;
END
$$;

-- pg_monitor may be handed out only by a superuser or whoever it was given to WITH ADMIN OPTION:
-- `rekap db bootstrap` gives it so to rekap_owner (without INHERIT or SET, so the owner itself reads
-- nothing more). An owner made another way cannot: the role is then left without pg_monitor (its
-- logins connect, and see their own sessions' statistics only) until `rekap db bootstrap` runs, which
-- grants it then.
DO $$
BEGIN
    IF pg_has_role(current_user, 'pg_monitor', 'MEMBER WITH ADMIN OPTION') THEN
        GRANT pg_monitor TO rekap_monitor;
    ELSE
        RAISE WARNING 'rekap_monitor was not given pg_monitor (% may not hand it out): run `rekap db bootstrap` as a superuser, or have one run GRANT pg_monitor TO rekap_monitor', current_user;
    END IF;
END
$$;

-- Who may connect (0007's function, which `rekap db migrate` calls on every run): rekap_monitor too.
CREATE OR REPLACE FUNCTION rekap.grant_database_access() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO rekap_tabulator, rekap_operator, kpu_reader, rekap_monitor',
                   current_database());
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO rekap_operator', current_database());
END
$$;
SELECT rekap.grant_database_access();
