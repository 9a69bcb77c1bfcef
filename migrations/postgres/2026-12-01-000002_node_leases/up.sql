-- One row per running livedesk node, renewed while it runs: until nodes can
-- share their state (cluster mode), a second node on the same database must
-- not start handing out the same conversations.
CREATE TABLE node_leases (
    node_id TEXT PRIMARY KEY,
    started_at TIMESTAMP NOT NULL,
    heartbeat_at TIMESTAMP NOT NULL
);
