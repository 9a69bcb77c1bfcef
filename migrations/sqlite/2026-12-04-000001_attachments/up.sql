-- Uploaded files: the bytes live under the data directory by SHA-256, this
-- is who may see them. A file is the visitor's (visitor_id) and, once sent,
-- part of one message or note (conversation_id, client_id; private for a note).
-- agent_id: the agent who uploaded it; NULL when the visitor did.
CREATE TABLE attachments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    visitor_id BIGINT NOT NULL REFERENCES visitors (id) ON DELETE CASCADE,
    conversation_id BIGINT REFERENCES conversations (id) ON DELETE CASCADE,
    agent_id BIGINT REFERENCES agents (id) ON DELETE SET NULL,
    uploaded_by_agent BOOLEAN NOT NULL,
    sha256 TEXT NOT NULL,
    name TEXT NOT NULL,
    mime TEXT NOT NULL,
    size BIGINT NOT NULL,
    client_id TEXT,
    private BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX attachments_message ON attachments (conversation_id, client_id);
CREATE INDEX attachments_visitor ON attachments (visitor_id, created_at);
