"""The PostgreSQL schema of the Postgres store: tables, indexes and write functions.

Each write is one call of a PL/pgSQL function: one round trip, one transaction,
atomic under concurrent writers of any process (the session row is locked with
``FOR UPDATE``; a new session's row is created with ``ON CONFLICT DO NOTHING``
first, so two creators serialize instead of failing). Names carry the store's
table prefix and schema, so several applications can share one database.
"""

from __future__ import annotations

import zlib

__all__ = ["SCHEMA_VERSION", "advisory_key", "migrations"]

SCHEMA_VERSION = 1


def advisory_key(schema: str, prefix: str) -> int:
    """The advisory lock id that serializes migrations of one schema + prefix."""
    return zlib.crc32(f"agent_session:{schema}:{prefix}".encode()) - 2**31


# {s} = schema-qualified prefix, e.g. "public"."agent_session_ (quoted piecewise below)
_V1 = r"""
CREATE TABLE IF NOT EXISTS {sessions} (
    id text COLLATE "C" PRIMARY KEY,
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL,
    expires_at double precision,
    ttl double precision,
    version bigint NOT NULL,
    message_count integer NOT NULL,
    size_bytes bigint NOT NULL,
    labels jsonb NOT NULL DEFAULT '{{}}',
    next_seq bigint NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS {idx_updated} ON {sessions} (updated_at DESC, id);
CREATE INDEX IF NOT EXISTS {idx_expires} ON {sessions} (expires_at)
    WHERE expires_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS {idx_labels} ON {sessions} USING gin (labels jsonb_path_ops);
CREATE TABLE IF NOT EXISTS {messages} (
    session_id text COLLATE "C" NOT NULL REFERENCES {sessions} (id) ON DELETE CASCADE,
    seq bigint NOT NULL,
    body text NOT NULL,
    size integer NOT NULL,
    PRIMARY KEY (session_id, seq)
);

-- The locked, live row of a session, created (version 0) if missing; an expired
-- session is wiped and starts anew, as every write to it must.
CREATE OR REPLACE FUNCTION {f_lock}(p_id text, p_now double precision)
RETURNS {sessions} LANGUAGE plpgsql AS $$
DECLARE r {sessions};
BEGIN
    LOOP
        INSERT INTO {sessions} (id, created_at, updated_at, version, message_count, size_bytes)
        VALUES (p_id, p_now, p_now, 0, 0, 0) ON CONFLICT (id) DO NOTHING;
        SELECT * INTO r FROM {sessions} WHERE id = p_id FOR UPDATE;
        EXIT WHEN FOUND;  -- deleted between our insert and lock: try again
    END LOOP;
    IF r.version > 0 AND r.expires_at IS NOT NULL AND r.expires_at <= p_now THEN
        DELETE FROM {messages} WHERE session_id = p_id;
        UPDATE {sessions} SET created_at = p_now, updated_at = p_now, expires_at = NULL,
            ttl = NULL, version = 0, message_count = 0, size_bytes = 0, labels = '{{}}',
            next_seq = 0
        WHERE id = p_id RETURNING * INTO r;
    END IF;
    RETURN r;
END $$;

-- p_ttl_mode: 'D' (the session's own TTL, else p_default), 'N' (none), 'S' (p_ttl).
CREATE OR REPLACE FUNCTION {f_write}(
    p_id text, p_now double precision, p_replace boolean, p_ttl_mode text,
    p_ttl double precision, p_default double precision, p_expected bigint,
    p_max_messages integer, p_max_bytes bigint, p_labels jsonb, p_bodies text[],
    p_sizes integer[]
) RETURNS TABLE (status text, created_at double precision, updated_at double precision,
                 expires_at double precision, message_count integer, size_bytes bigint,
                 version bigint, labels jsonb)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    r {sessions};
    n integer := coalesce(array_length(p_bodies, 1), 0);
    added bigint := 0;
    new_count integer;
    new_size bigint;
    new_ttl double precision;
    seq0 bigint;
BEGIN
    r := {f_lock}(p_id, p_now);
    IF p_expected IS NOT NULL AND p_expected <> r.version THEN
        IF r.version = 0 THEN DELETE FROM {sessions} WHERE id = p_id; END IF;
        RETURN QUERY SELECT 'conflict', 0::double precision, 0::double precision,
            NULL::double precision, 0, 0::bigint, r.version, NULL::jsonb;
        RETURN;
    END IF;
    SELECT coalesce(sum(x), 0) INTO added FROM unnest(p_sizes) AS x;
    IF p_replace THEN
        new_count := n; new_size := added;
    ELSE
        new_count := r.message_count + n; new_size := r.size_bytes + added;
    END IF;
    IF (p_max_messages IS NOT NULL AND new_count > p_max_messages)
       OR (p_max_bytes IS NOT NULL AND new_size > p_max_bytes) THEN
        IF r.version = 0 THEN DELETE FROM {sessions} WHERE id = p_id; END IF;
        RETURN QUERY SELECT 'limit', 0::double precision, 0::double precision,
            NULL::double precision, new_count, new_size, r.version, NULL::jsonb;
        RETURN;
    END IF;
    IF p_ttl_mode = 'D' THEN
        new_ttl := CASE WHEN r.version > 0 THEN r.ttl ELSE p_default END;
    ELSIF p_ttl_mode = 'N' THEN
        new_ttl := NULL;
    ELSE
        new_ttl := p_ttl;
    END IF;
    IF p_replace THEN
        DELETE FROM {messages} WHERE session_id = p_id;
        seq0 := 0;
    ELSE
        seq0 := r.next_seq;
    END IF;
    INSERT INTO {messages} (session_id, seq, body, size)
    SELECT p_id, seq0 + t.ord - 1, t.body, t.size
    FROM unnest(p_bodies, p_sizes) WITH ORDINALITY AS t(body, size, ord);
    UPDATE {sessions} s SET updated_at = p_now,
        expires_at = CASE WHEN new_ttl IS NULL THEN NULL ELSE p_now + new_ttl END,
        ttl = new_ttl, version = r.version + 1, message_count = new_count,
        size_bytes = new_size, labels = coalesce(p_labels, s.labels), next_seq = seq0 + n
    WHERE s.id = p_id
    RETURNING * INTO r;
    RETURN QUERY SELECT 'ok'::text, r.created_at, r.updated_at, r.expires_at,
        r.message_count, r.size_bytes, r.version, r.labels;
END $$;

CREATE OR REPLACE FUNCTION {f_pop}(p_id text, p_now double precision)
RETURNS TABLE (status text, body text, expires_at double precision)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE r {sessions}; m {messages};
BEGIN
    SELECT * INTO r FROM {sessions} s WHERE s.id = p_id FOR UPDATE;
    IF NOT FOUND THEN RETURN QUERY SELECT 'missing', NULL::text, NULL::double precision;
        RETURN; END IF;
    IF r.expires_at IS NOT NULL AND r.expires_at <= p_now THEN
        RETURN QUERY SELECT 'expired', NULL::text, r.expires_at; RETURN;
    END IF;
    IF r.message_count = 0 THEN
        RETURN QUERY SELECT 'empty', NULL::text, r.expires_at; RETURN;
    END IF;
    DELETE FROM {messages} WHERE ctid = (
        SELECT ctid FROM {messages} x WHERE x.session_id = p_id ORDER BY x.seq DESC LIMIT 1
    ) RETURNING * INTO m;
    UPDATE {sessions} s SET updated_at = p_now,
        expires_at = CASE WHEN r.ttl IS NULL THEN NULL ELSE p_now + r.ttl END,
        version = r.version + 1, message_count = r.message_count - 1,
        size_bytes = r.size_bytes - m.size
    WHERE s.id = p_id;
    RETURN QUERY SELECT 'ok', m.body, NULL::double precision;
END $$;
"""


def migrations() -> list[str]:
    """Forward migrations, index i taking the schema from version i to i + 1."""
    return [_V1]
