DROP INDEX IF EXISTS messages_body_trgm;
