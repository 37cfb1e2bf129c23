-- The registry as an append-only transparency log, and a ledger of every record applied, per partition:
-- both RFC 9162 Merkle trees, whose roots a signed election head publishes (docs/audit-bundle.md).
-- Whoever holds the database can no longer change what was registered or judged without changing the
-- root that every later head signs, and that witnesses keep.

-- 0. The ledger starts with the count: a database that counted records without it cannot be given one
-- after the fact (the outcome of each record and what it was judged against were not kept).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM rekap.record) THEN
        RAISE EXCEPTION 'this database holds records counted before the anchored ledger (migration 0012)'
            USING HINT = 'Migrate before the count: a fresh database (`rekap stack reset`, or a new one) takes it.';
    END IF;
END
$$;

-- 1. The registry: every master data version, terminal registration and revocation, accepted gap and
-- election key, in order. `leaf` holds the exact bytes hashed (a JSON object as jsonb writes it).
CREATE TABLE rekap.registry_leaf (
    position    bigint PRIMARY KEY CHECK (position >= 0),
    kind        text NOT NULL CHECK (kind IN ('masterdata', 'register', 'revoke', 'gap', 'election_key')),
    leaf        bytea NOT NULL,
    leaf_hash   bytea NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
-- The tree as it stands: its size, root and frontier (one subtree hash per 1-bit of the size, largest
-- first). Its row lock orders every append: one registry, one order, whoever writes.
CREATE TABLE rekap.registry_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    size      bigint NOT NULL,
    root      bytea NOT NULL,
    frontier  bytea[] NOT NULL
);
INSERT INTO rekap.registry_head (size, root, frontier) VALUES (0, sha256(''::bytea), '{}');

CREATE FUNCTION rekap.utc_text(moment timestamptz) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT to_char(moment AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

-- Append leaves of one kind, in the order given (each a JSON object without `at`); returns the registry's
-- new size. Under the head's row lock each leaf is stamped with the clock (`at`): one order, and times
-- that never go back along it. RFC 9162: a leaf's hash is SHA-256(0x00 || leaf), a node's
-- SHA-256(0x01 || left || right).
CREATE FUNCTION rekap.registry_append(leaf_kind text, leaves text[]) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    head rekap.registry_head%ROWTYPE;
    hashes bytea[];
    f bytea[];
    n bigint;
    k bigint;
    node bytea;
    new_root bytea;
BEGIN
    IF coalesce(array_length(leaves, 1), 0) = 0 THEN
        RETURN (SELECT size FROM rekap.registry_head);
    END IF;
    SELECT * INTO head FROM rekap.registry_head FOR UPDATE;
    WITH stamped AS (
        SELECT o, convert_to((l::jsonb || jsonb_build_object('at', rekap.utc_text(clock_timestamp())))::text, 'UTF8') AS leaf
        FROM unnest(leaves) WITH ORDINALITY AS u(l, o)
    ), added AS (
        INSERT INTO rekap.registry_leaf (position, kind, leaf, leaf_hash)
        SELECT head.size + o - 1, leaf_kind, leaf, sha256('\x00'::bytea || leaf) FROM stamped
        RETURNING position, leaf_hash
    )
    SELECT array_agg(leaf_hash ORDER BY position) INTO hashes FROM added;
    f := head.frontier;
    n := head.size;
    FOR i IN 1 .. array_length(hashes, 1) LOOP
        node := hashes[i];
        k := n;
        WHILE k % 2 = 1 LOOP
            node := sha256('\x01'::bytea || f[array_length(f, 1)] || node);
            f := f[1 : array_length(f, 1) - 1];
            k := k / 2;
        END LOOP;
        f := f || node;
        n := n + 1;
    END LOOP;
    new_root := f[array_length(f, 1)];
    FOR i IN REVERSE array_length(f, 1) - 1 .. 1 LOOP
        new_root := sha256('\x01'::bytea || f[i] || new_root);
    END LOOP;
    UPDATE rekap.registry_head SET size = n, root = new_root, frontier = f;
    RETURN n;
END
$$;

-- 2. Terminals: each registration and revocation is logged by the statement that makes it, so that no
-- way of changing rekap.terminal escapes the log; and a terminal's id, key and scope never change, a
-- revoked one stays revoked, none is deleted (register a new terminal instead).
CREATE FUNCTION rekap.log_registrations() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM rekap.registry_append('register', array(
        SELECT jsonb_build_object('kind', 'register', 'terminal_id', terminal_id,
                                  'public_key', encode(public_key, 'base64'),
                                  'scope', scope_kind || ':' || scope_code)::text
        FROM added ORDER BY terminal_id));
    PERFORM rekap.registry_append('revoke', array(
        SELECT jsonb_build_object('kind', 'revoke', 'terminal_id', terminal_id)::text
        FROM added WHERE NOT active ORDER BY terminal_id));
    RETURN NULL;
END
$$;
CREATE FUNCTION rekap.log_revocations() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM rekap.registry_append('revoke', array(
        SELECT jsonb_build_object('kind', 'revoke', 'terminal_id', n.terminal_id)::text
        FROM changed n JOIN before o USING (terminal_id) WHERE o.active AND NOT n.active ORDER BY n.terminal_id));
    RETURN NULL;
END
$$;
CREATE FUNCTION rekap.refuse_rewriting_terminals() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (NEW.terminal_id, NEW.public_key, NEW.scope_kind, NEW.scope_code, NEW.registered_at)
           IS NOT DISTINCT FROM (OLD.terminal_id, OLD.public_key, OLD.scope_kind, OLD.scope_code, OLD.registered_at)
       AND ((OLD.active AND NOT NEW.active)  -- a revocation
            OR (NEW.active, NEW.revoked_at) IS NOT DISTINCT FROM (OLD.active, OLD.revoked_at)) THEN
        RETURN NEW;
    END IF;
    RAISE integrity_constraint_violation USING MESSAGE = format(
        'terminal %s: a registered terminal is never changed, reactivated or removed, only revoked '
        '(the registry logs every registration)', coalesce(OLD.terminal_id, '(all, by TRUNCATE)'));
END
$$;
REVOKE EXECUTE ON FUNCTION rekap.registry_append(text, text[]), rekap.log_registrations(), rekap.log_revocations(),
                          rekap.refuse_rewriting_terminals() FROM PUBLIC;
CREATE TRIGGER terminal_registrations_logged AFTER INSERT ON rekap.terminal
REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION rekap.log_registrations();
CREATE TRIGGER terminal_revocations_logged AFTER UPDATE ON rekap.terminal
REFERENCING OLD TABLE AS before NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION rekap.log_revocations();
CREATE TRIGGER terminal_history_kept BEFORE UPDATE OR DELETE ON rekap.terminal
FOR EACH ROW EXECUTE FUNCTION rekap.refuse_rewriting_terminals();
CREATE TRIGGER terminal_history_not_truncated BEFORE TRUNCATE ON rekap.terminal
FOR EACH STATEMENT EXECUTE FUNCTION rekap.refuse_rewriting_terminals();

-- 3. Accepted gaps: offsets that vanished from Kafka before they were applied.
CREATE FUNCTION rekap.log_gaps() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM rekap.registry_append('gap', array(
        SELECT jsonb_build_object('kind', 'gap', 'topic', topic, 'partition', partition,
                                  'first_missing', first_missing, 'next_offset', next_offset,
                                  'accepted_by', accepted_by, 'reason', reason)::text
        FROM added ORDER BY topic, partition, first_missing));
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION rekap.log_gaps() FROM PUBLIC;
CREATE TRIGGER offset_gaps_logged AFTER INSERT ON rekap.offset_gap
REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION rekap.log_gaps();

-- 4. Master data versions (the digest is of the files the audit bundle holds, which Rekap computes in
-- the loading transaction) and election keys: logged by whoever loads or creates them. A version that
-- is the last one again is not logged twice.
CREATE FUNCTION rekap.log_masterdata(dataset text, digest text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    last text;
BEGIN
    PERFORM 1 FROM rekap.registry_head FOR UPDATE;
    SELECT convert_from(leaf, 'UTF8')::jsonb ->> 'sha256' INTO last FROM rekap.registry_leaf
    WHERE kind = 'masterdata' ORDER BY position DESC LIMIT 1;
    IF last IS NOT DISTINCT FROM digest THEN
        RETURN (SELECT size FROM rekap.registry_head);
    END IF;
    RETURN rekap.registry_append('masterdata', ARRAY[jsonb_build_object(
        'kind', 'masterdata', 'dataset', dataset, 'sha256', digest)::text]);
END
$$;
CREATE FUNCTION rekap.log_election_key(key_name text, public_key bytea, endorsement bytea) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN rekap.registry_append('election_key', ARRAY[jsonb_build_object(
        'kind', 'election_key', 'name', key_name,
        'public_key', encode(public_key, 'base64'),
        'endorsement', CASE WHEN endorsement IS NULL THEN NULL ELSE translate(encode(endorsement, 'base64'), E'\n', '') END
    )::text]);
END
$$;
REVOKE EXECUTE ON FUNCTION rekap.log_masterdata(text, text), rekap.log_election_key(text, bytea, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rekap.log_masterdata(text, text), rekap.log_election_key(text, bytea, bytea)
      TO rekap_operator;

-- 5. What the registry held before this migration, logged in the order it happened: each terminal's
-- registration, then the revocations and gaps by time (each logged now: `at` is when it was logged). The
-- master data is logged by `rekap db migrate`, which computes its digest, right after.
SELECT rekap.registry_append('register', array(
    SELECT jsonb_build_object('kind', 'register', 'terminal_id', terminal_id,
                              'public_key', encode(public_key, 'base64'), 'scope', scope_kind || ':' || scope_code)::text
    FROM rekap.terminal ORDER BY registered_at, terminal_id));
SELECT rekap.registry_append('revoke', array(
    SELECT jsonb_build_object('kind', 'revoke', 'terminal_id', terminal_id)::text
    FROM rekap.terminal WHERE NOT active ORDER BY revoked_at, terminal_id));
SELECT rekap.registry_append('gap', array(
    SELECT jsonb_build_object('kind', 'gap', 'topic', topic, 'partition', partition,
                              'first_missing', first_missing, 'next_offset', next_offset, 'accepted_by', accepted_by,
                              'reason', reason)::text
    FROM rekap.offset_gap ORDER BY accepted_at, topic, partition, first_missing));

-- 6. The ledger: each record's leaf hash and what its leaf is made of beyond its row (docs/audit-bundle.md).
-- The tree after a batch (its frontier: size, then the subtree hashes) is kept with the batch's last
-- record of each partition, so the batch's one COPY carries it: no statement more per batch.
ALTER TABLE rekap.record
    ADD COLUMN skipped         bigint NOT NULL,      -- offsets before it Kafka gave no record for
    ADD COLUMN registry_size   bigint NOT NULL,      -- the registry it was judged against
    ADD COLUMN judged_at_ms    bigint NOT NULL,      -- the judging clock, milliseconds since 1970 UTC
    ADD COLUMN verified        boolean NOT NULL,     -- whether signatures were checked
    ADD COLUMN prior_topic     text,                 -- the deciding form it was judged against
    ADD COLUMN prior_partition integer,
    ADD COLUMN prior_offset    bigint,
    ADD COLUMN leaf_hash       bytea NOT NULL,       -- SHA-256(0x00 || its leaf)
    ADD COLUMN ledger          bytea;
COMMENT ON COLUMN rekap.record.ledger IS
    'The partition''s ledger after this record (8-byte size, then its frontier''s hashes): on the last record of each batch.';

-- The fence of 0008 in one round trip still, now also returning each partition's ledger as it stands
-- (the frontier kept with its last record), under the row lock the fence takes: the batch extends it.
DROP FUNCTION rekap.advance_offsets(text, integer[], bigint[], bigint[], uuid);
CREATE FUNCTION rekap.advance_ledgers(topic_name text, partitions integer[], believed bigint[], next_offsets bigint[],
                                      batch uuid)
RETURNS TABLE (partition integer, moved boolean, ledger bytea)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    FOR i IN 1 .. coalesce(array_length(partitions, 1), 0) LOOP
        IF believed[i] IS NULL THEN
            INSERT INTO rekap.partition_offset (topic, partition, next_offset, batch_id)
            VALUES (topic_name, partitions[i], next_offsets[i], batch)
            ON CONFLICT ON CONSTRAINT partition_offset_pkey DO NOTHING;
        ELSE
            UPDATE rekap.partition_offset p SET next_offset = next_offsets[i], batch_id = batch, updated_at = now()
            WHERE p.topic = topic_name AND p.partition = partitions[i] AND p.next_offset = believed[i];
        END IF;
        advance_ledgers.partition := partitions[i];
        advance_ledgers.moved := FOUND;
        advance_ledgers.ledger := NULL;
        IF FOUND AND believed[i] IS NOT NULL THEN
            SELECT r.ledger INTO advance_ledgers.ledger FROM rekap.record r
            WHERE r.topic = topic_name AND r.partition = partitions[i] AND r."offset" < believed[i]
            ORDER BY r."offset" DESC LIMIT 1;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;
REVOKE EXECUTE ON FUNCTION rekap.advance_ledgers(text, integer[], bigint[], bigint[], uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rekap.advance_ledgers(text, integer[], bigint[], bigint[], uuid) TO rekap_tabulator;

-- 7. Who reads them: the registry is public (KPU's readers see it too); the tabulator reads its size.
GRANT SELECT ON rekap.registry_leaf, rekap.registry_head TO rekap_tabulator, rekap_operator, kpu_reader;
