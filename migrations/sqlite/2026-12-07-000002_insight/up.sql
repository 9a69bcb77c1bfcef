-- Satisfaction: at most one rating per episode of a conversation (an
-- episode: from its start or a reopening to its close).
CREATE TABLE csat (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    episode INTEGER NOT NULL,
    rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment TEXT,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (conversation_id, episode)
);

-- Agents' presence as it changed (online, away, offline), for the reports.
CREATE TABLE presence_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id BIGINT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('online', 'away', 'offline')),
    at TIMESTAMP NOT NULL
);
CREATE INDEX presence_events_agent_time ON presence_events (agent_id, at);

-- Left through the offline form (nobody was there).
ALTER TABLE conversations ADD COLUMN offline BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX conversations_created ON conversations (created_at);

CREATE TRIGGER csat_outbox AFTER INSERT ON csat
WHEN EXISTS (SELECT 1 FROM webhooks WHERE active) BEGIN
    INSERT INTO webhook_events (kind, conversation_id, ref_id, at)
    VALUES ('csat.submitted', new.conversation_id, new.id, new.created_at);
END;
