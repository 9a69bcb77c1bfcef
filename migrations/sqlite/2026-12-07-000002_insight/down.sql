DROP TRIGGER csat_outbox;
DROP INDEX conversations_created;
ALTER TABLE conversations DROP COLUMN offline;
DROP TABLE presence_events;
DROP TABLE csat;
