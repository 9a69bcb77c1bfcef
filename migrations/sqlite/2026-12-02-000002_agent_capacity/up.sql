-- How many open conversations an agent may have at once (NULL: the
-- LIVEDESK_AGENT_CAPACITY default; 0: no limit).
ALTER TABLE agents ADD COLUMN capacity INTEGER;
