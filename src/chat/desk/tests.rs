//! The rules, driven with a fake clock in milliseconds: no actix, no sleeps.

use std::time::Duration;

use super::testkit::*;
use super::*;
use crate::chat::messages::{AgentCard, ChatError, Counts, Origin, Party};
use crate::chat::protocol::{AgentOut, AgentStatus, VisitorOut};
use crate::domain::{Assignment, ConversationStatus};

#[test]
fn a_conversation_waits_in_the_queue_until_an_agent_comes() {
    let mut d = desk();
    open(&mut d, t(0), 1, 10);
    let e = d.take_effects();
    assert_eq!(status(&d, 10), Some(ConversationStatus::Queued));
    assert!(matches!(
        visitor_frames(&e, 10)[..],
        [VisitorOut::Queued {
            conversation_id: 10
        }]
    ));
    assert!(stores(&e).is_empty(), "queued as stored: nothing to write");

    let snap = d.agent_join(t(5), 100, &card(1));
    assert_eq!(snap.queue.len(), 1, "the welcome shows what waited");
    let e = d.take_effects();
    assert_eq!(owner(&d, 10), Some(AgentId(1)));
    let w = stores(&e);
    assert_eq!(w.len(), 1);
    assert_eq!(
        (w[0].from, w[0].to.agent, w[0].version),
        (Assignment::queued(), Some(AgentId(1)), 1)
    );
    assert!(matches!(
        visitor_frames(&e, 10)[..],
        [VisitorOut::Assigned {
            conversation_id: 10,
            ..
        }]
    ));
    assert!(e.iter().any(|e| matches!(e, Effect::Metric(Metric::Assigned { waited }) if *waited == Duration::from_millis(5))));
}

#[test]
fn the_queue_drains_oldest_first() {
    let mut d = desk();
    let v = visitor(1);
    d.visitor_join(t(0), 1, &v, None);
    for (id, created) in [(3, 30), (1, 10), (2, 20)] {
        d.open_conversation(t(created), &v, &conv(id, 1, created));
    }
    assert_eq!(
        d.queue(),
        vec![ConversationId(1), ConversationId(2), ConversationId(3)]
    );
    d.take_effects();
    d.agent_join(t(100), 100, &card(1));
    let order: Vec<i64> = stores(&d.take_effects())
        .iter()
        .map(|w| w.conversation.0)
        .collect();
    assert_eq!(order, vec![1, 2, 3]);
    assert!(d.queue().is_empty());
}

#[test]
fn an_agent_back_within_the_grace_period_keeps_its_conversations() {
    let mut d = desk();
    d.agent_join(t(0), 100, &card(1));
    open(&mut d, t(0), 1, 10);
    d.take_effects();
    d.agent_leave(t(10), 100);
    let e = d.take_effects();
    assert_eq!(
        armed(&e),
        vec![(Timer::Grace(AgentId(1)), Duration::from_millis(1_000))]
    );
    assert_eq!(d.presence().len(), 0, "shown offline at once");
    assert_eq!(owner(&d, 10), Some(AgentId(1)), "but still the owner");

    d.agent_join(t(900), 101, &card(1));
    let e = d.take_effects();
    assert!(e
        .iter()
        .any(|e| matches!(e, Effect::Cancel(Timer::Grace(a)) if a.0 == 1)));
    // A timer the caller could not cancel in time does nothing.
    d.timer_fired(t(1_010), Timer::Grace(AgentId(1)));
    assert!(d.take_effects().is_empty());
    assert_eq!(owner(&d, 10), Some(AgentId(1)));
}

#[test]
fn after_the_grace_period_conversations_move_to_another_agent_or_the_queue() {
    let mut d = desk();
    d.agent_join(t(0), 100, &card(1));
    open(&mut d, t(0), 1, 10);
    d.agent_join(t(0), 200, &card(2));
    d.set_status(t(0), AgentId(2), AgentStatus::Away);
    d.agent_leave(t(10), 100);
    d.take_effects();

    // Early (the caller's clock ran ahead of ours): armed again for the rest.
    d.timer_fired(t(500), Timer::Grace(AgentId(1)));
    assert_eq!(
        armed(&d.take_effects()),
        vec![(Timer::Grace(AgentId(1)), Duration::from_millis(510))]
    );
    assert_eq!(owner(&d, 10), Some(AgentId(1)));

    // Due; the only other agent is away: back to the queue.
    d.timer_fired(t(1_010), Timer::Grace(AgentId(1)));
    let e = d.take_effects();
    assert_eq!(status(&d, 10), Some(ConversationStatus::Queued));
    assert!(matches!(
        visitor_frames(&e, 10)[..],
        [VisitorOut::Queued { .. }]
    ));
    assert_eq!(stores(&e)[0].to, Assignment::queued());
    assert!(e
        .iter()
        .any(|e| matches!(e, Effect::Metric(Metric::Reassigned))));
    assert_eq!(d.counts().agents_known, 1, "agent 1 is forgotten");

    // Agent 2 comes back online: it gets the conversation.
    d.set_status(t(2_000), AgentId(2), AgentStatus::Online);
    assert_eq!(owner(&d, 10), Some(AgentId(2)));
}

#[test]
fn a_leaving_agents_conversations_go_to_another_online_agent() {
    let mut d = desk();
    d.agent_join(t(0), 100, &card(1));
    open(&mut d, t(0), 1, 10);
    d.agent_join(t(0), 200, &card(2));
    d.agent_leave(t(10), 100);
    d.take_effects();
    d.timer_fired(t(1_010), Timer::Grace(AgentId(1)));
    let e = d.take_effects();
    assert_eq!(owner(&d, 10), Some(AgentId(2)));
    let w = stores(&e);
    assert_eq!(
        (w[0].from.agent, w[0].to.agent),
        (Some(AgentId(1)), Some(AgentId(2)))
    );
    assert!(agent_frames(&e, 2)
        .iter()
        .any(|f| matches!(f, AgentOut::Conversation { conversation } if conversation.id == 10)));
}

#[test]
fn two_claims_on_a_queued_conversation_have_one_winner() {
    let mut d = desk();
    let (a, b) = (card(1), card(2));
    for (s, c) in [(100, &a), (200, &b)] {
        d.agent_join(t(0), s, c);
        d.set_status(t(0), c.id, AgentStatus::Away);
    }
    open(&mut d, t(0), 1, 10);
    d.take_effects();
    assert_eq!(d.claim(t(1), &a, ConversationId(10)), Ok(()));
    assert_eq!(
        d.claim(t(1), &b, ConversationId(10)),
        Err(ChatError::AlreadyAssigned)
    );
    assert_eq!(
        d.claim(t(1), &a, ConversationId(10)),
        Ok(()),
        "its own: nothing changes"
    );
    assert_eq!(
        d.claim(t(1), &a, ConversationId(99)),
        Err(ChatError::NotFound)
    );
    // A claim that arrives after its socket left changes nothing.
    assert_eq!(
        d.claim(t(1), &card(3), ConversationId(10)),
        Err(ChatError::AlreadyAssigned)
    );
    let e = d.take_effects();
    assert_eq!(stores(&e).len(), 1);
    open(&mut d, t(2), 2, 11);
    assert_eq!(
        d.claim(t(3), &card(3), ConversationId(11)),
        Err(ChatError::AgentOffline)
    );
    assert_eq!(status(&d, 11), Some(ConversationStatus::Queued));
    assert!(agent_frames(&e, 2).iter().any(|f| matches!(
        f,
        AgentOut::Unassigned {
            conversation_id: 10
        }
    )));
}

#[test]
fn transfer_to_an_offline_agent_is_refused_and_changes_nothing() {
    let mut d = desk();
    d.agent_join(t(0), 100, &card(1));
    open(&mut d, t(0), 1, 10);
    d.take_effects();
    let r = d.transfer(t(1), &card(1), ConversationId(10), AgentId(2));
    assert_eq!(r, Err(ChatError::AgentOffline));
    assert!(stores(&d.take_effects()).is_empty());
    assert_eq!(owner(&d, 10), Some(AgentId(1)));
    // Not its own: refused before anything else.
    d.agent_join(t(2), 200, &card(2));
    let r = d.transfer(t(3), &card(3), ConversationId(10), AgentId(2));
    assert_eq!(r, Err(ChatError::Forbidden));
    assert_eq!(
        d.transfer(t(3), &card(1), ConversationId(10), AgentId(2)),
        Ok(())
    );
    assert_eq!(owner(&d, 10), Some(AgentId(2)));
}

#[test]
fn messages_are_delivered_in_seq_order_and_a_gap_that_never_fills_is_skipped() {
    let mut d = desk();
    d.agent_join(t(0), 100, &card(1));
    open(&mut d, t(0), 1, 10);
    d.take_effects();
    let from = Origin::Visitor(1);
    d.deliver(t(10), message(10, 1, "one"), from);
    d.deliver(t(11), message(10, 3, "three"), from);
    let e = d.take_effects();
    let seqs = |e: &[Effect]| -> Vec<i64> {
        agent_frames(e, 1)
            .iter()
            .filter_map(|f| match f {
                AgentOut::Message { message } => Some(message.seq),
                _ => None,
            })
            .collect()
    };
    assert_eq!(seqs(&e), vec![1], "3 waits for 2");
    assert_eq!(
        armed(&e),
        vec![(Timer::Gap(ConversationId(10)), Duration::from_millis(2_000))]
    );
    assert_eq!(d.counts().pending_deliveries, 1);
    // 2 never comes: when the wait is over, 3 goes out.
    d.timer_fired(t(1_000), Timer::Gap(ConversationId(10)));
    assert!(seqs(&d.take_effects()).is_empty(), "not yet");
    d.timer_fired(t(2_011), Timer::Gap(ConversationId(10)));
    assert_eq!(seqs(&d.take_effects()), vec![3]);
    assert_eq!(d.counts().pending_deliveries, 0);
    // A late 2, or 3 again, is not delivered twice.
    d.deliver(t(2_100), message(10, 2, "two"), from);
    d.deliver(t(2_100), message(10, 3, "three"), from);
    assert!(seqs(&d.take_effects()).is_empty());
    // The sender's own socket is left out; the visitor's other tabs are not.
    d.deliver(t(2_200), message(10, 4, "four"), from);
    let e = d.take_effects();
    assert!(e.iter().any(|e| matches!(
        e,
        Effect::Publish(Publish::Visitor {
            except: Some(1),
            ..
        })
    )));
}

#[test]
fn a_gap_that_fills_in_time_delivers_both_and_cancels_the_wait() {
    let mut d = desk();
    d.agent_join(t(0), 100, &card(1));
    open(&mut d, t(0), 1, 10);
    d.take_effects();
    d.deliver(t(10), message(10, 2, "two"), Origin::Visitor(1));
    d.take_effects();
    d.deliver(t(20), message(10, 1, "one"), Origin::Visitor(1));
    let e = d.take_effects();
    let n = agent_frames(&e, 1)
        .iter()
        .filter(|f| matches!(f, AgentOut::Message { .. }))
        .count();
    assert_eq!(n, 2);
    assert!(e.iter().any(|e| matches!(e, Effect::Cancel(Timer::Gap(_)))));
}

#[test]
fn a_disabled_agent_is_closed_out_and_its_conversations_move_at_once() {
    let mut d = desk();
    d.agent_join(t(0), 100, &card(1));
    open(&mut d, t(0), 1, 10);
    d.agent_join(t(0), 200, &card(2));
    d.take_effects();
    d.kick(t(5), AgentId(1));
    let e = d.take_effects();
    assert!(e
        .iter()
        .any(|e| matches!(e, Effect::Publish(Publish::CloseAgent { agent, .. }) if agent.0 == 1)));
    assert_eq!(owner(&d, 10), Some(AgentId(2)), "no grace period");
    assert!(armed(&e).is_empty());
    // Its socket's leave comes later, and changes nothing.
    d.agent_leave(t(6), 100);
    assert_eq!(d.counts().agents_known, 1);
}

#[test]
fn every_trace_of_a_socket_is_gone_after_it_leaves() {
    let mut d = desk();
    d.agent_join(t(0), 100, &card(1));
    d.agent_join(t(0), 101, &card(1));
    open(&mut d, t(0), 1, 10);
    d.visitor_join(t(0), 2, &visitor(10), Some(&owned_by(conv(10, 10, 10), 1)));
    d.close(t(1), &card(1), ConversationId(10)).unwrap();
    for s in [1, 2] {
        d.visitor_leave(s);
    }
    d.agent_leave(t(2), 100);
    d.agent_leave(t(2), 101);
    assert_eq!(d.counts(), Counts::default());
    assert!(d.roster.consistent());
    assert!(d.loads.is_empty() && d.queue.is_empty());
}

#[test]
fn owners_from_the_last_run_get_one_grace_period() {
    let open = vec![
        (owned_by(conv(10, 10, 0), 1), visitor(10)),
        (conv(11, 11, 1), visitor(11)),
    ];
    let mut d = Desk::new(cfg(), 1, open, HashMap::new(), t(0));
    let e = d.take_effects();
    assert_eq!(
        armed(&e),
        vec![(Timer::Grace(AgentId(1)), Duration::from_millis(1_000))]
    );
    assert_eq!(d.queue(), vec![ConversationId(11)]);
    d.agent_join(t(100), 200, &card(2));
    assert_eq!(owner(&d, 11), Some(AgentId(2)));
    assert_eq!(
        owner(&d, 10),
        Some(AgentId(1)),
        "still agent 1's within its grace"
    );
    d.timer_fired(t(1_000), Timer::Grace(AgentId(1)));
    assert_eq!(owner(&d, 10), Some(AgentId(2)));
}

#[test]
fn when_storage_holds_another_owner_the_desk_follows_it() {
    let mut d = desk();
    d.agent_join(t(0), 100, &card(1));
    d.agent_join(t(0), 200, &card(2));
    open(&mut d, t(0), 1, 10);
    let first = stores(&d.take_effects())[0];
    let mine = first.to.agent.unwrap();
    let other = if mine.0 == 1 { AgentId(2) } else { AgentId(1) };
    let theirs = Assignment {
        status: ConversationStatus::Assigned,
        agent: Some(other),
    };
    d.store_lost(t(5), first, theirs);
    let e = d.take_effects();
    assert_eq!(owner(&d, 10), Some(other));
    assert!(
        stores(&e).is_empty(),
        "what storage holds is not written again"
    );
    assert!(agent_frames(&e, mine.0).iter().any(|f| matches!(
        f,
        AgentOut::Unassigned {
            conversation_id: 10
        }
    )));
    // The same loss reported again (or an older one) says nothing new.
    d.store_lost(t(6), first, Assignment::queued());
    assert!(d.take_effects().is_empty());
    assert_eq!(owner(&d, 10), Some(other));

    // Closed in storage (by another path): closed here too, everyone told.
    d.transfer(t(7), &card(other.0), ConversationId(10), mine)
        .unwrap();
    let w = stores(&d.take_effects())[0];
    let closed = Assignment {
        status: ConversationStatus::Closed,
        agent: Some(other),
    };
    d.store_lost(t(8), w, closed);
    let e = d.take_effects();
    assert_eq!(status(&d, 10), None);
    assert!(visitor_frames(&e, 10)
        .iter()
        .any(|f| matches!(f, VisitorOut::Closed { .. })));
}

#[test]
fn agents_and_visitors_see_only_what_is_theirs() {
    let mut d = desk();
    d.agent_join(t(0), 100, &card(1));
    open(&mut d, t(0), 1, 10);
    d.agent_join(t(0), 200, &card(2));
    let id = ConversationId(10);
    assert_eq!(d.authorize(&card(2), id, false), Err(ChatError::Forbidden));
    assert!(d.authorize(&card(1), id, true).is_ok());
    let admin = AgentCard {
        is_admin: true,
        ..card(9)
    };
    assert!(d.authorize(&admin, id, true).is_ok());
    assert_eq!(
        d.authorize(&card(1), ConversationId(77), true),
        Ok(crate::chat::messages::Access::NotLive)
    );
    assert_eq!(
        d.typing(&Party::Visitor(VisitorId(11)), id, true),
        Err(ChatError::Forbidden)
    );
    assert_eq!(
        d.read_up_to(&Party::Agent(card(2)), id, 1),
        Err(ChatError::Forbidden)
    );
    assert_eq!(d.close(t(1), &card(2), id), Err(ChatError::Forbidden));
    assert_eq!(
        d.close_queued(t(1), &card(1), &[id]),
        0,
        "only admins close in bulk"
    );
}

/// A new conversation that an agent takes at once was never in anyone's
/// queue: the other agents hear nothing of it (10,000 arrivals would
/// otherwise be 10,000 frames to every agent). One that waited is taken off
/// every dashboard's queue.
#[test]
fn only_agents_that_listed_a_conversation_hear_that_it_left_the_queue() {
    let mut d = desk();
    for (session, agent) in [(100, 1), (101, 2), (102, 3)] {
        d.agent_join(t(0), session, &card(agent));
    }
    d.take_effects();
    open(&mut d, t(1), 1, 10);
    let e = d.take_effects();
    let taker = owner(&d, 10).expect("taken at once").0;
    for a in [1, 2, 3].into_iter().filter(|a| *a != taker) {
        assert!(agent_frames(&e, a).is_empty(), "agent {a} never listed it");
    }

    // Every agent away: the next one waits, listed on every dashboard.
    for a in [1, 2, 3] {
        d.set_status(t(2), AgentId(a), AgentStatus::Away);
    }
    open(&mut d, t(3), 2, 20);
    d.take_effects();
    d.set_status(t(4), AgentId(2), AgentStatus::Online);
    let e = d.take_effects();
    assert_eq!(owner(&d, 20), Some(AgentId(2)));
    for a in [1, 3] {
        assert!(
            agent_frames(&e, a).iter().any(|f| matches!(
                f,
                AgentOut::Unassigned {
                    conversation_id: 20
                }
            )),
            "agent {a} drops it from its queue"
        );
    }
}
