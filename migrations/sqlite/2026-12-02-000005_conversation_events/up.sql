-- Who had a conversation when: each ownership change that was stored
-- (assigned, transferred: assigned with from_agent_id, back to the queue,
-- closed), written in the same transaction as the change itself.
CREATE TABLE conversation_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('assigned', 'queued', 'closed')),
    agent_id BIGINT REFERENCES agents (id) ON DELETE SET NULL,
    from_agent_id BIGINT REFERENCES agents (id) ON DELETE SET NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX conversation_events_conversation ON conversation_events (conversation_id, id);
