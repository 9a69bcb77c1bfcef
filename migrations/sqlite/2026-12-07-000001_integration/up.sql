-- The REST API's tokens: shown once, kept as their SHA-256 only.
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
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
    id INTEGER PRIMARY KEY AUTOINCREMENT,
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
-- endpoint is active. Turned into deliveries, and deleted, by the node.
CREATE TABLE webhook_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    conversation_id BIGINT,
    ref_id BIGINT NOT NULL,
    at TIMESTAMP NOT NULL
);

CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
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

-- A closed conversation can be opened again (SQLite changes a CHECK by
-- making the table anew).
CREATE TABLE conversation_events_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('assigned', 'queued', 'closed', 'reopened')),
    agent_id BIGINT REFERENCES agents (id) ON DELETE SET NULL,
    from_agent_id BIGINT REFERENCES agents (id) ON DELETE SET NULL,
    at TIMESTAMP NOT NULL
);
INSERT INTO conversation_events_new SELECT id, conversation_id, kind, agent_id, from_agent_id, at FROM conversation_events;
DROP TABLE conversation_events;
ALTER TABLE conversation_events_new RENAME TO conversation_events;
CREATE INDEX conversation_events_conversation ON conversation_events (conversation_id, id);

-- Outbox triggers; nothing is written while no endpoint is active.
CREATE TRIGGER messages_outbox AFTER INSERT ON messages
WHEN EXISTS (SELECT 1 FROM webhooks WHERE active) BEGIN
    INSERT INTO webhook_events (kind, conversation_id, ref_id, at)
    VALUES ('message.created', new.conversation_id, new.id, new.created_at);
END;
CREATE TRIGGER notes_outbox AFTER INSERT ON notes
WHEN EXISTS (SELECT 1 FROM webhooks WHERE active AND include_notes) BEGIN
    INSERT INTO webhook_events (kind, conversation_id, ref_id, at)
    VALUES ('note.created', new.conversation_id, new.id, new.created_at);
END;
CREATE TRIGGER conversations_outbox AFTER INSERT ON conversations
WHEN EXISTS (SELECT 1 FROM webhooks WHERE active) BEGIN
    INSERT INTO webhook_events (kind, conversation_id, ref_id, at)
    VALUES ('conversation.created', new.id, new.id, new.created_at);
END;
CREATE TRIGGER conversation_events_outbox AFTER INSERT ON conversation_events
WHEN new.kind IN ('assigned', 'closed', 'reopened') AND EXISTS (SELECT 1 FROM webhooks WHERE active) BEGIN
    INSERT INTO webhook_events (kind, conversation_id, ref_id, at)
    VALUES ('conversation.' || new.kind, new.conversation_id, new.id, new.at);
END;
CREATE TRIGGER visitors_outbox_new AFTER INSERT ON visitors
WHEN new.identifier IS NOT NULL AND EXISTS (SELECT 1 FROM webhooks WHERE active) BEGIN
    INSERT INTO webhook_events (kind, conversation_id, ref_id, at)
    VALUES ('visitor.identified', NULL, new.id, new.last_seen_at);
END;
CREATE TRIGGER visitors_outbox_changed AFTER UPDATE OF identifier, verified ON visitors
WHEN new.identifier IS NOT NULL
 AND (old.identifier IS NOT new.identifier OR old.verified IS NOT new.verified)
 AND EXISTS (SELECT 1 FROM webhooks WHERE active) BEGIN
    INSERT INTO webhook_events (kind, conversation_id, ref_id, at)
    VALUES ('visitor.identified', NULL, new.id, new.last_seen_at);
END;
