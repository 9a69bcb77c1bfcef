-- New messages' trigrams wait in GIN's pending list until the node merges
-- it (every second, storage::archive::tidy_search_index), not in the
-- insert that finds the list full (the default limit, 4 MB, is reached
-- within a second at a few thousand messages a second).
ALTER INDEX messages_body_trgm SET (gin_pending_list_limit = 32768);
