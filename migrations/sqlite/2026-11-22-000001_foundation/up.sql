CREATE TABLE agents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('agent', 'admin')),
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL,
    last_login_at TIMESTAMP
);

CREATE TABLE login_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id BIGINT REFERENCES agents (id) ON DELETE SET NULL,
    username TEXT NOT NULL,
    ip TEXT NOT NULL,
    success BOOLEAN NOT NULL,
    outcome TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX login_attempts_ip_time ON login_attempts (ip, created_at);
CREATE INDEX login_attempts_username_time ON login_attempts (username, created_at);

CREATE TABLE sessions (
    key_hash TEXT PRIMARY KEY,
    agent_id BIGINT REFERENCES agents (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_agent ON sessions (agent_id);

CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE visitors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT NOT NULL UNIQUE,
    name TEXT,
    email TEXT,
    page_url TEXT,
    referrer TEXT,
    user_agent TEXT,
    first_seen_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL
);

CREATE TABLE conversations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    visitor_id BIGINT NOT NULL REFERENCES visitors (id) ON DELETE CASCADE,
    agent_id BIGINT REFERENCES agents (id) ON DELETE SET NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'assigned', 'closed')),
    last_seq BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    closed_at TIMESTAMP
);
CREATE INDEX conversations_visitor_status ON conversations (visitor_id, status);
CREATE INDEX conversations_status_created ON conversations (status, created_at);
CREATE INDEX conversations_agent_status ON conversations (agent_id, status);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    sender TEXT NOT NULL CHECK (sender IN ('visitor', 'agent', 'system')),
    agent_id BIGINT REFERENCES agents (id) ON DELETE SET NULL,
    client_id TEXT,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (conversation_id, seq),
    UNIQUE (conversation_id, client_id)
);
