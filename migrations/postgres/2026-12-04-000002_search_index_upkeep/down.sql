ALTER INDEX messages_body_trgm RESET (gin_pending_list_limit);
