//! The agent sockets of this node, by the sign-in that opened them, so that
//! whatever ends or narrows a session (sign-out, password reset, a change of
//! role) closes its sockets at once instead of at their next check.
//!
//! A plain map under a mutex: registering, unregistering and closing are a
//! few map operations and a `do_send`, never I/O, so no thread waits here.

use std::collections::HashMap;
use std::sync::Mutex;

use actix::Recipient;

use super::messages::{CloseReason, SessionId, ToAgent};
use crate::domain::AgentId;

/// Which of an agent's sign-ins to close.
#[derive(Debug, Clone, Copy)]
pub enum Logins<'a> {
    All,
    Only(&'a str),
    AllBut(&'a str),
}

struct Entry {
    agent: AgentId,
    login: String,
    addr: Recipient<ToAgent>,
}

#[derive(Default)]
pub struct AgentSockets {
    open: Mutex<HashMap<SessionId, Entry>>,
}

impl AgentSockets {
    pub fn register(
        &self,
        session: SessionId,
        agent: AgentId,
        login: String,
        addr: Recipient<ToAgent>,
    ) {
        self.map().insert(session, Entry { agent, login, addr });
    }

    pub fn unregister(&self, session: SessionId) {
        self.map().remove(&session);
    }

    /// Tells the matching sockets to close; returns how many were told.
    pub fn close(&self, agent: AgentId, which: Logins<'_>, why: CloseReason) -> usize {
        let mut n = 0;
        for e in self.map().values().filter(|e| e.agent == agent) {
            let hit = match which {
                Logins::All => true,
                Logins::Only(l) => e.login == l,
                Logins::AllBut(l) => e.login != l,
            };
            if hit {
                e.addr.do_send(ToAgent::Close(why));
                n += 1;
            }
        }
        n
    }

    pub fn len(&self) -> usize {
        self.map().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, Entry>> {
        // A panic elsewhere while holding the lock leaves the map usable.
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }
}
