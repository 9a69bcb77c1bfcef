-- Nothing to do on SQLite: its FTS5 index is written with each message
-- (the PostgreSQL migration of the same name explains the pending list).
SELECT 1;
