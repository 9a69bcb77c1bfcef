ALTER TABLE visitors DROP COLUMN timezone;
DROP INDEX sessions_login;
ALTER TABLE sessions DROP COLUMN login_id;
