-- The REST API's tokens: shown once, kept as their SHA-256 only.
CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    -- The token's first characters, to tell tokens apart in the console.
    hint TEXT NOT NULL,
    scopes TEXT NOT NULL CHECK (scopes IN ('read', 'read write')),
    created_by BIGINT REFERENCES agents (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP,
    revoked_at TIMESTAMP,
    last_used_at TIMESTAMP
);

-- Webhook endpoints. The secrets sign deliveries, so they are kept as they
-- are; a rotated one keeps signing beside the new one until previous_until.
CREATE TABLE webhooks (
    id BIGSERIAL PRIMARY KEY,
    url TEXT NOT NULL,
    -- Space-separated event names.
    events TEXT NOT NULL,
    include_notes BOOLEAN NOT NULL DEFAULT FALSE,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_until TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);

-- The outbox: one row per event, written by the triggers below in the
-- transaction of the change itself (whatever wrote it), and only while some
-- endpoint is active. Turned into deliveries, and deleted, by a node.
CREATE TABLE webhook_events (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    conversation_id BIGINT,
    ref_id BIGINT NOT NULL,
    at TIMESTAMP NOT NULL
);

CREATE TABLE webhook_deliveries (
    id BIGSERIAL PRIMARY KEY,
    webhook_id BIGINT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id BIGINT NOT NULL,
    delivery_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    conversation_id BIGINT,
    body TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP,
    last_code INTEGER,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    done_at TIMESTAMP
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_at);
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (webhook_id, conversation_id, event_id);
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, id);

-- Visitors a site knows: a verified identifier is one visitor on every
-- device (its tokens in visitor_tokens); an unverified one is only shown.
ALTER TABLE visitors ADD COLUMN identifier TEXT;
ALTER TABLE visitors ADD COLUMN verified BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE visitors ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';
CREATE UNIQUE INDEX visitors_verified_identifier ON visitors (identifier) WHERE verified;

CREATE TABLE visitor_tokens (
    token_hash TEXT PRIMARY KEY,
    visitor_id BIGINT NOT NULL REFERENCES visitors (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX visitor_tokens_visitor ON visitor_tokens (visitor_id);

-- A closed conversation can be opened again.
ALTER TABLE conversation_events DROP CONSTRAINT conversation_events_kind_check;
ALTER TABLE conversation_events ADD CONSTRAINT conversation_events_kind_check
    CHECK (kind IN ('assigned', 'queued', 'closed', 'reopened'));

-- Outbox triggers: once per statement (a batch of messages is one), and a
-- look at `webhooks` only; nothing is written while no endpoint is active.
CREATE FUNCTION livedesk_outbox_messages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM webhooks WHERE active) THEN
        INSERT INTO webhook_events (kind, conversation_id, ref_id, at)
        SELECT 'message.created', conversation_id, id, created_at FROM new_rows ORDER BY id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER messages_outbox AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION livedesk_outbox_messages();

CREATE FUNCTION livedesk_outbox_notes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM webhooks WHERE active AND include_notes) THEN
        INSERT INTO webhook_events (kind, conversation_id, ref_id, at)
        SELECT 'note.created', conversation_id, id, created_at FROM new_rows ORDER BY id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER notes_outbox AFTER INSERT ON notes
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION livedesk_outbox_notes();

CREATE FUNCTION livedesk_outbox_conversations() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM webhooks WHERE active) THEN
        INSERT INTO webhook_events (kind, conversation_id, ref_id, at)
        SELECT 'conversation.created', id, id, created_at FROM new_rows ORDER BY id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER conversations_outbox AFTER INSERT ON conversations
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION livedesk_outbox_conversations();

CREATE FUNCTION livedesk_outbox_conversation_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM webhooks WHERE active) THEN
        INSERT INTO webhook_events (kind, conversation_id, ref_id, at)
        SELECT 'conversation.' || kind, conversation_id, id, at FROM new_rows
        WHERE kind IN ('assigned', 'closed', 'reopened') ORDER BY id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER conversation_events_outbox AFTER INSERT ON conversation_events
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION livedesk_outbox_conversation_events();

CREATE FUNCTION livedesk_outbox_visitors_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM webhooks WHERE active) THEN
        INSERT INTO webhook_events (kind, conversation_id, ref_id, at)
        SELECT 'visitor.identified', NULL, id, last_seen_at FROM new_rows
        WHERE identifier IS NOT NULL ORDER BY id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER visitors_outbox_new AFTER INSERT ON visitors
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION livedesk_outbox_visitors_new();

CREATE FUNCTION livedesk_outbox_visitors_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM webhooks WHERE active) THEN
        INSERT INTO webhook_events (kind, conversation_id, ref_id, at)
        SELECT 'visitor.identified', NULL, n.id, n.last_seen_at
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE n.identifier IS NOT NULL
          AND (o.identifier IS DISTINCT FROM n.identifier OR o.verified IS DISTINCT FROM n.verified)
        ORDER BY n.id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER visitors_outbox_changed AFTER UPDATE ON visitors
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION livedesk_outbox_visitors_changed();
