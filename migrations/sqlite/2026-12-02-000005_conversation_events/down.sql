DROP TABLE conversation_events;
