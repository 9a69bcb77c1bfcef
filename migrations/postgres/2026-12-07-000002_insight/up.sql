-- Satisfaction: at most one rating per episode of a conversation (an
-- episode: from its start or a reopening to its close).
CREATE TABLE csat (
    id BIGSERIAL PRIMARY KEY,
    conversation_id BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    episode INTEGER NOT NULL,
    rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment TEXT,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (conversation_id, episode)
);

-- Agents' presence as it changed (online, away, offline), for the reports.
CREATE TABLE presence_events (
    id BIGSERIAL PRIMARY KEY,
    agent_id BIGINT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('online', 'away', 'offline')),
    at TIMESTAMP NOT NULL
);
CREATE INDEX presence_events_agent_time ON presence_events (agent_id, at);

-- Left through the offline form (nobody was there).
ALTER TABLE conversations ADD COLUMN offline BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX conversations_created ON conversations (created_at);

CREATE FUNCTION livedesk_outbox_csat() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM webhooks WHERE active) THEN
        INSERT INTO webhook_events (kind, conversation_id, ref_id, at)
        SELECT 'csat.submitted', conversation_id, id, created_at FROM new_rows ORDER BY id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER csat_outbox AFTER INSERT ON csat
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION livedesk_outbox_csat();
