DROP TRIGGER csat_outbox ON csat;
DROP FUNCTION livedesk_outbox_csat();
DROP INDEX conversations_created;
ALTER TABLE conversations DROP COLUMN offline;
DROP TABLE presence_events;
DROP TABLE csat;
