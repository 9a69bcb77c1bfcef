//! The typed view of an agent's session, and the database-backed store behind it.
//!
//! Sessions live in the database, not in the cookie: the captcha answer stays
//! server-side and truly single-use, logging out or disabling an agent ends
//! the session everywhere, and several nodes share sessions through the database.

use std::collections::HashMap;

use actix_session::storage::{
    generate_session_key, LoadError, SaveError, SessionKey, SessionStore, UpdateError,
};
use actix_session::Session;
use actix_web::cookie::time::Duration as CookieDuration;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::WebError;
use crate::domain::{AgentId, Clock};
use crate::storage::{sessions, Storage, StorageError};

const AGENT_ID: &str = "agent_id";
/// Made at sign-in, kept across key renewals: names the sign-in, so its sockets
/// can be found when it ends.
const LOGIN_ID: &str = "login_id";
const CSRF: &str = "csrf";
const CAPTCHA: &str = "captcha";
const FLASH: &str = "flash";

fn session_err(e: impl std::fmt::Display) -> WebError {
    WebError::Session(e.to_string())
}

pub fn agent_id(s: &Session) -> Option<AgentId> {
    s.get::<i64>(AGENT_ID).ok().flatten().map(AgentId)
}

/// The sign-in this session belongs to, when logged in.
pub fn login_id(s: &Session) -> Option<String> {
    s.get::<String>(LOGIN_ID).ok().flatten()
}

/// The sign-in id, made now for a session signed in before there were any.
pub fn login_id_or_new(s: &Session) -> Result<String, WebError> {
    if let Some(id) = login_id(s) {
        return Ok(id);
    }
    let id = random_token();
    s.insert(LOGIN_ID, &id).map_err(session_err)?;
    Ok(id)
}

/// Marks the session as logged in as `agent`, under a new session key (no fixation)
/// and with a new CSRF token.
pub fn log_in(s: &Session, agent: AgentId) -> Result<(), WebError> {
    s.renew();
    s.remove(CAPTCHA);
    s.insert(AGENT_ID, agent.0).map_err(session_err)?;
    s.insert(LOGIN_ID, random_token()).map_err(session_err)?;
    s.insert(CSRF, random_token()).map_err(session_err)?;
    Ok(())
}

/// The form token of this session, created on first use.
pub fn csrf_token(s: &Session) -> Result<String, WebError> {
    if let Some(t) = s.get::<String>(CSRF).ok().flatten() {
        return Ok(t);
    }
    let t = random_token();
    s.insert(CSRF, &t).map_err(session_err)?;
    Ok(t)
}

pub fn check_csrf(s: &Session, submitted: &str) -> Result<(), WebError> {
    match s.get::<String>(CSRF).ok().flatten() {
        Some(t)
            if !submitted.is_empty() && constant_time_eq(t.as_bytes(), submitted.as_bytes()) =>
        {
            Ok(())
        }
        _ => Err(WebError::Csrf),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Challenge {
    pub answer: String,
    pub issued_at: DateTime<Utc>,
}

pub fn set_captcha(s: &Session, c: &Challenge) -> Result<(), WebError> {
    s.insert(CAPTCHA, c).map_err(session_err)
}

pub fn current_captcha(s: &Session) -> Option<Challenge> {
    s.get::<Challenge>(CAPTCHA).ok().flatten()
}

/// Removes and returns the challenge: each one can be answered once.
pub fn take_captcha(s: &Session) -> Option<Challenge> {
    let c = current_captcha(s);
    s.remove(CAPTCHA);
    c
}

/// A one-shot notice shown on the next page (e.g. "Agent created.").
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Flash {
    Created,
    Saved,
    Password,
    Disabled,
    Enabled,
    /// This many queued conversations were closed at once.
    QueueClosed(usize),
    Posted,
    Deleted,
}

pub fn set_flash(s: &Session, f: Flash) -> Result<(), WebError> {
    s.insert(FLASH, f).map_err(session_err)
}

pub fn take_flash(s: &Session) -> Option<Flash> {
    let f = s.get::<Flash>(FLASH).ok().flatten();
    if f.is_some() {
        s.remove(FLASH);
    }
    f
}

pub fn random_token() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// actix-session storage backed by the `sessions` table.
#[derive(Clone)]
pub struct DbSessionStore {
    storage: Storage,
    clock: Clock,
}

impl DbSessionStore {
    pub fn new(storage: Storage, clock: Clock) -> Self {
        Self { storage, clock }
    }

    fn expiry(&self, ttl: &CookieDuration) -> chrono::NaiveDateTime {
        self.clock.now_naive() + Duration::seconds(ttl.whole_seconds())
    }
}

fn key_hash(key: &SessionKey) -> String {
    hex::encode(Sha256::digest(key.as_ref().as_bytes()))
}

type State = HashMap<String, String>;

fn owner_of(state: &State) -> sessions::Owner<'_> {
    sessions::Owner {
        agent: state
            .get(AGENT_ID)
            .and_then(|v| v.parse().ok())
            .map(AgentId),
        // Stored as JSON text in the state: `"abc"`.
        login: state
            .get(LOGIN_ID)
            .map(|v| v.trim_matches('"'))
            .filter(|v| !v.is_empty()),
    }
}

impl SessionStore for DbSessionStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<State>, LoadError> {
        let hash = key_hash(key);
        let now = self.clock.now_naive();
        let raw = match self
            .storage
            .run(move |c| sessions::load(c, &hash, now))
            .await
        {
            Ok(raw) => raw,
            // The database is unreachable: no session for now (the page then
            // answers 503, see `error::while_database_down`), not a bare 500.
            Err(StorageError::Unavailable(_)) => None,
            Err(e) => return Err(LoadError::Other(e.into())),
        };
        match raw {
            None => Ok(None),
            Some(s) => serde_json::from_str(&s)
                .map(Some)
                .map_err(|e| LoadError::Deserialization(e.into())),
        }
    }

    async fn save(&self, state: State, ttl: &CookieDuration) -> Result<SessionKey, SaveError> {
        let body = serde_json::to_string(&state).map_err(|e| SaveError::Serialization(e.into()))?;
        let key = generate_session_key();
        let hash = key_hash(&key);
        let expires = self.expiry(ttl);
        let (agent, login) = {
            let o = owner_of(&state);
            (o.agent, o.login.map(str::to_owned))
        };
        self.storage
            .run(move |c| {
                let owner = sessions::Owner {
                    agent,
                    login: login.as_deref(),
                };
                sessions::insert(c, &hash, owner, &body, expires)
            })
            .await
            .map_err(|e| SaveError::Other(e.into()))?;
        Ok(key)
    }

    async fn update(
        &self,
        key: SessionKey,
        mut state: State,
        ttl: &CookieDuration,
    ) -> Result<SessionKey, UpdateError> {
        let body =
            serde_json::to_string(&state).map_err(|e| UpdateError::Serialization(e.into()))?;
        let hash = key_hash(&key);
        let expires = self.expiry(ttl);
        let (agent, login) = {
            let o = owner_of(&state);
            (o.agent, o.login.map(str::to_owned))
        };
        let updated = self
            .storage
            .run(move |c| {
                let owner = sessions::Owner {
                    agent,
                    login: login.as_deref(),
                };
                sessions::update(c, &hash, owner, &body, expires)
            })
            .await
            .map_err(|e| UpdateError::Other(e.into()))?;
        if updated {
            return Ok(key);
        }
        // The row was deleted meanwhile (logout elsewhere, agent disabled):
        // start over without the login rather than bring the session back.
        state.remove(AGENT_ID);
        state.remove(LOGIN_ID);
        self.save(state, ttl).await.map_err(|e| match e {
            SaveError::Serialization(e) => UpdateError::Serialization(e),
            SaveError::Other(e) => UpdateError::Other(e),
        })
    }

    async fn update_ttl(
        &self,
        key: &SessionKey,
        ttl: &CookieDuration,
    ) -> Result<(), anyhow::Error> {
        let hash = key_hash(key);
        let expires = self.expiry(ttl);
        self.storage
            .run(move |c| sessions::update_expiry(c, &hash, expires))
            .await?;
        Ok(())
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), anyhow::Error> {
        let hash = key_hash(key);
        self.storage
            .run(move |c| sessions::delete(c, &hash))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_compared_exactly() {
        let a = random_token();
        assert!(a.len() >= 43);
        assert_ne!(a, random_token());
        assert!(constant_time_eq(a.as_bytes(), a.as_bytes()));
        assert!(!constant_time_eq(a.as_bytes(), &a.as_bytes()[1..]));
        assert!(!constant_time_eq(b"abc", b"abd"));
    }
}
