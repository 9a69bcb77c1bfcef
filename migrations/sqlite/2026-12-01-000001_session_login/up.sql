-- Which sign-in a session row belongs to, so the sockets opened under it can
-- be found and closed when it ends (sign-out, password reset, expiry).
ALTER TABLE sessions ADD COLUMN login_id TEXT;
CREATE INDEX sessions_login ON sessions (login_id);

-- The visitor's time zone as its browser names it (e.g. Asia/Shanghai), so an
-- agent can see what time it is where the visitor is.
ALTER TABLE visitors ADD COLUMN timezone TEXT;
