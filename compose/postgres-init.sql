-- A PostgreSQL login role per worker role, each owning the schema of its name and nothing else:
-- a worker (or whoever takes one over) reads and writes its own role's tables only, and a bug in
-- one role's migrations cannot drop or alter another's.
--
-- The postgres service runs this once, as POSTGRES_USER, when it starts on an empty volume
-- (/docker-entrypoint-initdb.d). It can run again on a database that has it or that predates it:
--   docker compose -f compose/compose.yaml exec postgres psql -U covenant -d covenant -f /docker-entrypoint-initdb.d/covenant-roles.sql
-- (an earlier volume's tables, made by the `covenant` user, are handed to each role). If it
-- stops on a first start, the volume stays initialized without the roles: fix the cause and run
-- it that way. Outside compose: psql -v secrets=DIR -f compose/postgres-init.sql.
\set ON_ERROR_STOP on

-- Each role's password, from the secret compose mounts into the postgres service. psql leaves a
-- variable empty when `cat` fails, and PostgreSQL would take '' as "no password" (the worker
-- could never log in), so a missing or empty file stops the script below.
\if :{?secrets}
\else
    \set secrets /run/secrets
\endif
\set provisioning_password `cat :'secrets'/postgres-provisioning`
\set rating_password `cat :'secrets'/postgres-rating`
\set commitments_password `cat :'secrets'/postgres-commitments`
\set invoicing_password `cat :'secrets'/postgres-invoicing`
\set notification_password `cat :'secrets'/postgres-notification`
\set documents_password `cat :'secrets'/postgres-documents`

BEGIN;

SELECT set_config('covenant.unreadable', concat_ws(', ',
    CASE :'provisioning_password' WHEN '' THEN :'secrets' || '/postgres-provisioning' END,
    CASE :'rating_password' WHEN '' THEN :'secrets' || '/postgres-rating' END,
    CASE :'commitments_password' WHEN '' THEN :'secrets' || '/postgres-commitments' END,
    CASE :'invoicing_password' WHEN '' THEN :'secrets' || '/postgres-invoicing' END,
    CASE :'notification_password' WHEN '' THEN :'secrets' || '/postgres-notification' END,
    CASE :'documents_password' WHEN '' THEN :'secrets' || '/postgres-documents' END), true) AS unreadable
\gset

DO $$
DECLARE
    worker text;
    relation regclass;
BEGIN
    IF current_setting('covenant.unreadable') <> '' THEN
        RAISE EXCEPTION 'no worker password in %', current_setting('covenant.unreadable')
            USING HINT = 'openssl rand -hex 32 >compose/postgres-passwords/ROLE (see compose/compose.yaml)';
    END IF;
    -- Nobody but these roles and the superuser connects, makes schemas or temporary tables; and
    -- nobody writes to `public` (PostgreSQL 15 and later already refuse that, older ones do not).
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
    REVOKE CREATE ON SCHEMA public FROM PUBLIC;
    FOREACH worker IN ARRAY ARRAY['provisioning', 'rating', 'commitments', 'invoicing', 'notification', 'documents'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'covenant_' || worker) THEN
            EXECUTE format('CREATE ROLE %I', 'covenant_' || worker);
        END IF;
        EXECUTE format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS',
            'covenant_' || worker);
        -- CONNECT only: the worker's migrations create its schema only when it does not exist
        -- (PostgresWorkerStore.migrate), so the role makes no schema, its own made here.
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), 'covenant_' || worker);
        EXECUTE format('REVOKE CREATE ON DATABASE %I FROM %I', current_database(), 'covenant_' || worker);
        -- The schema the role's migrations fill, owned by the role (so they may create tables in
        -- it), and used by nobody else: PUBLIC gets nothing on it.
        EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', worker, 'covenant_' || worker);
        EXECUTE format('ALTER SCHEMA %I OWNER TO %I', worker, 'covenant_' || worker);
        EXECUTE format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', worker);
        -- Tables an earlier volume's workers made as `covenant`; their indexes and serial
        -- sequences follow the table.
        FOR relation IN
            SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = worker AND c.relkind IN ('r', 'p')
        LOOP
            EXECUTE format('ALTER TABLE %s OWNER TO %I', relation, 'covenant_' || worker);
        END LOOP;
    END LOOP;
END
$$;

-- Here rather than in the loop: psql puts the passwords in as quoted literals, which it does not
-- do inside the dollar-quoted block.
ALTER ROLE covenant_provisioning PASSWORD :'provisioning_password';
ALTER ROLE covenant_rating PASSWORD :'rating_password';
ALTER ROLE covenant_commitments PASSWORD :'commitments_password';
ALTER ROLE covenant_invoicing PASSWORD :'invoicing_password';
ALTER ROLE covenant_notification PASSWORD :'notification_password';
ALTER ROLE covenant_documents PASSWORD :'documents_password';

COMMIT;
