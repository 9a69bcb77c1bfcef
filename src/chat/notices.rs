//! The team's current notice to visitors, for every `welcome`: read from
//! storage at most once per `FRESH` per node (a burst of hellos costs one
//! query), and set at once on the node where an admin posts one.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;

use super::protocol::NoticeView;
use crate::storage::announcements::{self, Announcement};
use crate::storage::Storage;

/// How old the cached notice may be; a notice posted on another node of a
/// cluster reaches new widgets within this (connected ones get it at once).
const FRESH: Duration = Duration::from_secs(2);

#[derive(Default)]
pub struct Notices {
    cached: Mutex<Option<(Instant, Option<Announcement>)>>,
}

impl Notices {
    pub async fn current(&self, storage: &Storage, now: NaiveDateTime) -> Option<NoticeView> {
        let hit = {
            let c = self.cached.lock().unwrap_or_else(|p| p.into_inner());
            c.as_ref()
                .filter(|(at, _)| at.elapsed() < FRESH)
                .map(|(_, a)| a.clone())
        };
        let a = match hit {
            Some(a) => a,
            None => {
                let read = storage
                    .run(move |db| announcements::current_notice(db, now))
                    .await;
                match read {
                    Ok(a) => {
                        self.set(a.clone());
                        a
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "could not read the current notice");
                        None
                    }
                }
            }
        };
        a.filter(|a| a.until.is_some_and(|u| u > now))
            .and_then(|a| NoticeView::of(&a))
    }

    pub fn set(&self, a: Option<Announcement>) {
        *self.cached.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), a));
    }
}
