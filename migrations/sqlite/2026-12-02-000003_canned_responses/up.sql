-- Saved replies: shared (owner_id NULL, managed by admins) or an agent's own.
CREATE TABLE canned_responses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id BIGINT REFERENCES agents (id) ON DELETE CASCADE,
    shortcut TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX canned_responses_owner ON canned_responses (owner_id);
