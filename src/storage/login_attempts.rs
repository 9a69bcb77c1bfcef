//! The login audit trail, which is also what login rate limiting counts, so
//! the limit holds across nodes and restarts.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::login_attempts;
use super::{DbConnection, StorageResult};
use crate::domain::AgentId;

/// Recorded outcome of one login attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    BadCaptcha,
    BadCredentials,
    Disabled,
    RateLimited,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::BadCaptcha => "bad_captcha",
            Outcome::BadCredentials => "bad_credentials",
            Outcome::Disabled => "disabled",
            Outcome::RateLimited => "rate_limited",
        }
    }
}

pub fn record(
    conn: &mut DbConnection,
    agent_id: Option<AgentId>,
    username: &str,
    ip: &str,
    outcome: Outcome,
    now: NaiveDateTime,
) -> StorageResult<()> {
    diesel::insert_into(login_attempts::table)
        .values((
            login_attempts::agent_id.eq(agent_id.map(|a| a.0)),
            login_attempts::username.eq(username),
            login_attempts::ip.eq(ip),
            login_attempts::success.eq(outcome == Outcome::Success),
            login_attempts::outcome.eq(outcome.as_str()),
            login_attempts::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Whose failures to count.
#[derive(Debug, Clone, Copy)]
pub enum Key<'a> {
    /// Everything tried from an address (wrong captchas included).
    Ip(&'a str),
    /// Wrong passwords for an account, from anywhere. Attempts that never
    /// reached the password check (wrong captcha, CSRF) do not count: anyone
    /// can make those, so they must not lock the account.
    Account(&'a str),
    /// Wrong passwords for an account from one address.
    AccountFromIp(&'a str, &'a str),
}

/// Times of the failures for `key` since `since` that came after its last
/// success, newest first. Refusals for rate limiting do not count, so waiting
/// out the window always works.
pub fn recent_failures(
    conn: &mut DbConnection,
    key: Key<'_>,
    since: NaiveDateTime,
    limit: i64,
) -> StorageResult<Vec<NaiveDateTime>> {
    let password_checked = [Outcome::Success.as_str(), Outcome::BadCredentials.as_str()];
    let mut q = login_attempts::table
        .filter(login_attempts::created_at.ge(since))
        .filter(login_attempts::outcome.ne(Outcome::RateLimited.as_str()))
        .order((login_attempts::created_at.desc(), login_attempts::id.desc()))
        .select((login_attempts::success, login_attempts::created_at))
        .limit(limit)
        .into_boxed();
    q = match key {
        Key::Ip(ip) => q.filter(login_attempts::ip.eq(ip.to_owned())),
        Key::Account(u) => q
            .filter(login_attempts::username.eq(u.to_owned()))
            .filter(login_attempts::outcome.eq_any(password_checked)),
        Key::AccountFromIp(u, ip) => q
            .filter(login_attempts::username.eq(u.to_owned()))
            .filter(login_attempts::ip.eq(ip.to_owned()))
            .filter(login_attempts::outcome.eq_any(password_checked)),
    };
    let rows: Vec<(bool, NaiveDateTime)> = q.load(conn)?;
    Ok(rows
        .into_iter()
        .take_while(|(success, _)| !success)
        .map(|(_, at)| at)
        .collect())
}

#[derive(Debug, Clone, Queryable)]
pub struct Attempt {
    pub username: String,
    pub ip: String,
    pub success: bool,
    pub outcome: String,
    pub created_at: NaiveDateTime,
}

pub fn latest(conn: &mut DbConnection, limit: i64) -> StorageResult<Vec<Attempt>> {
    Ok(login_attempts::table
        .order((login_attempts::created_at.desc(), login_attempts::id.desc()))
        .select((
            login_attempts::username,
            login_attempts::ip,
            login_attempts::success,
            login_attempts::outcome,
            login_attempts::created_at,
        ))
        .limit(limit)
        .load(conn)?)
}
