DROP TABLE messages;
DROP TABLE conversations;
DROP TABLE visitors;
DROP TABLE settings;
DROP TABLE sessions;
DROP TABLE login_attempts;
DROP TABLE agents;
