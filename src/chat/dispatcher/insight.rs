//! What the Dispatcher adds for the reports and the widget: each change of
//! an agent's presence recorded (for online and away time), and whether the
//! team can answer now (agents online, within business hours), told to
//! every visitor when it changes. Storage writes are sent off, never awaited:
//! the Dispatcher's decisions never wait on I/O.

use std::collections::HashMap;

use actix::prelude::*;

use super::Dispatcher;
use crate::chat::desk::Publish;
use crate::chat::protocol::{AgentStatus, Availability, Shared, VisitorOut};
use crate::chat::shared::FanOut;
use crate::domain::hours::BusinessHours;
use crate::domain::AgentId;
use crate::storage::{policies, presence, Storage};

/// How often the team's hours are read again (an admin may change them on
/// another node).
const HOURS_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

pub struct Insight {
    storage: Storage,
    hours: Option<BusinessHours>,
    /// Each agent's presence as last recorded.
    recorded: HashMap<AgentId, &'static str>,
    /// What visitors were last told.
    told: Option<Availability>,
    /// The next opening or closing.
    hours_timer: Option<SpawnHandle>,
}

/// The team's hours changed (or were read again).
#[derive(Message)]
#[rtype(result = "()")]
pub struct HoursChanged(pub Option<BusinessHours>);

impl Dispatcher {
    /// Records presence and says availability, from storage's hours.
    pub fn with_insight(mut self, storage: Storage, hours: Option<BusinessHours>) -> Self {
        self.insight = Some(Insight {
            storage,
            hours,
            recorded: HashMap::new(),
            told: None,
            hours_timer: None,
        });
        self
    }

    /// Whether the team can answer now (only a Desk knows).
    pub(super) fn availability(&self) -> Option<Availability> {
        let desk = self.desk.as_ref()?;
        let now = self.clock.now();
        let hours = self.insight.as_ref().and_then(|i| i.hours.as_ref());
        let open = hours.is_none_or(|h| h.is_open(now));
        let back_at = match open {
            true => None,
            false => hours.and_then(|h| h.next_open(now)).map(|t| t.to_rfc3339()),
        };
        Some(Availability {
            online: open && desk.someone_available(),
            back_at,
        })
    }

    /// After the Desk's effects: record presence changes, tell visitors
    /// when availability changed.
    pub(super) fn after_presence(&mut self, ctx: &mut Context<Self>) {
        let Some(desk) = self.desk.as_mut() else {
            return;
        };
        if !desk.take_presence_changed() {
            return;
        }
        self.record_presence();
        self.tell_availability(ctx);
    }

    fn record_presence(&mut self) {
        let Some(desk) = self.desk.as_ref() else {
            return;
        };
        let Some(ins) = self.insight.as_mut() else {
            return;
        };
        let now: HashMap<AgentId, &'static str> = desk
            .presence()
            .iter()
            .map(|p| {
                let s = match p.status {
                    AgentStatus::Online => "online",
                    AgentStatus::Away => "away",
                };
                (AgentId(p.id), s)
            })
            .collect();
        let mut changes: Vec<(AgentId, &'static str)> = now
            .iter()
            .filter(|(a, s)| ins.recorded.get(a) != Some(s))
            .map(|(a, s)| (*a, *s))
            .collect();
        changes.extend(
            ins.recorded
                .keys()
                .filter(|a| !now.contains_key(a))
                .map(|a| (*a, "offline")),
        );
        if changes.is_empty() {
            return;
        }
        ins.recorded = now;
        let (storage, at) = (ins.storage.clone(), self.clock.now_naive());
        actix_rt::spawn(async move {
            let stored = storage
                .run(move |db| {
                    for (a, s) in &changes {
                        presence::record(db, *a, s, at)?;
                    }
                    Ok(())
                })
                .await;
            if let Err(e) = stored {
                tracing::warn!(error = %e, "presence not recorded for the reports");
            }
        });
    }

    fn tell_availability(&mut self, ctx: &mut Context<Self>) {
        let Some(now) = self.availability() else {
            return;
        };
        let Some(ins) = self.insight.as_mut() else {
            return;
        };
        // The next opening or closing re-evaluates it.
        if let Some(h) = ins.hours_timer.take() {
            ctx.cancel_future(h);
        }
        if let Some(next) = ins
            .hours
            .as_ref()
            .and_then(|h| h.next_change(self.clock.now()))
        {
            let after = (next - self.clock.now()).to_std().unwrap_or_default();
            let after = after + std::time::Duration::from_millis(50);
            ins.hours_timer = Some(ctx.run_later(after, |act, ctx| act.tell_availability(ctx)));
        }
        if ins.told.as_ref() == Some(&now) {
            return;
        }
        ins.told = Some(now.clone());
        let frame = VisitorOut::Availability {
            online: now.online,
            back_at: now.back_at,
        };
        self.fanout.publish(Publish::Visitors {
            frame: Shared::new(frame),
        });
    }

    /// Reads the hours again every now and then (another node's admin).
    pub(super) fn watch_hours(&mut self, ctx: &mut Context<Self>) {
        let Some(ins) = self.insight.as_ref() else {
            return;
        };
        let storage = ins.storage.clone();
        ctx.run_interval(HOURS_EVERY, move |_, ctx| {
            let (storage, me) = (storage.clone(), ctx.address());
            actix_rt::spawn(async move {
                if let Ok(h) = storage.run(policies::hours).await {
                    me.do_send(HoursChanged(h));
                }
            });
        });
    }
}

impl Handler<HoursChanged> for Dispatcher {
    type Result = ();
    fn handle(&mut self, m: HoursChanged, ctx: &mut Self::Context) {
        let Some(ins) = self.insight.as_mut() else {
            return;
        };
        // Said again even when unchanged: the clock may have moved on (a
        // visitor is told only if what it would hear differs).
        ins.hours = m.0;
        self.tell_availability(ctx);
    }
}
