-- Full-text search over message bodies as substrings, in any script:
-- trigram GIN on the lowercased body (pg_trgm counts CJK characters as
-- word characters, so Chinese is found too). The archive's
-- `lower(body) LIKE '%…%'` uses it for terms of three characters or more.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX messages_body_trgm ON messages USING gin (lower(body) gin_trgm_ops);
