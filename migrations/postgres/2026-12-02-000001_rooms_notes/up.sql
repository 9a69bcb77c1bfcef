-- Private notes on a conversation: a table of their own, which no visitor
-- path reads. `seq` is the conversation's last public seq when the note was
-- written (the note sits after that message), so public seqs stay gapless.
CREATE TABLE notes (
    id BIGSERIAL PRIMARY KEY,
    conversation_id BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    agent_id BIGINT REFERENCES agents (id) ON DELETE SET NULL,
    client_id TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (conversation_id, client_id)
);
CREATE INDEX notes_conversation_seq ON notes (conversation_id, seq);

-- Team rooms. `everyone` rooms have every active agent as a member (no rows
-- in room_members); `last_seq` is bumped first by each message (row lock).
CREATE TABLE rooms (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    topic TEXT,
    everyone BOOLEAN NOT NULL DEFAULT FALSE,
    last_seq BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE room_members (
    room_id BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    agent_id BIGINT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    PRIMARY KEY (room_id, agent_id)
);
CREATE INDEX room_members_agent ON room_members (agent_id);
-- How far each agent has read a room (members of `everyone` included).
CREATE TABLE room_reads (
    room_id BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    agent_id BIGINT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    read_seq BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (room_id, agent_id)
);
CREATE TABLE room_messages (
    id BIGSERIAL PRIMARY KEY,
    room_id BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    agent_id BIGINT REFERENCES agents (id) ON DELETE SET NULL,
    agent_name TEXT NOT NULL,
    client_id TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (room_id, seq),
    UNIQUE (room_id, agent_id, client_id)
);
CREATE TABLE room_mentions (
    room_id BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    agent_id BIGINT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    PRIMARY KEY (room_id, agent_id, seq)
);
INSERT INTO rooms (name, everyone, last_seq, created_at)
VALUES ('everyone', TRUE, 0, (now() AT TIME ZONE 'utc'));

-- Admins' announcements to agents, and short notices to visitors.
CREATE TABLE announcements (
    id BIGSERIAL PRIMARY KEY,
    body TEXT NOT NULL,
    author_id BIGINT REFERENCES agents (id) ON DELETE SET NULL,
    author_name TEXT NOT NULL,
    audience TEXT NOT NULL CHECK (audience IN ('agents', 'visitors')),
    until TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX announcements_audience_time ON announcements (audience, created_at);
