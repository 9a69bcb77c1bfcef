//! Capacity: agents at their limit get no new conversations, the queue
//! drains as capacity frees up (oldest first), claims and transfers beyond it
//! are refused (admins may go beyond), whatever the strategy.

use super::testkit::*;
use super::*;
use crate::chat::messages::{AgentCard, ChatError};
use crate::domain::ConversationStatus;

fn capped(id: i64, capacity: u32) -> AgentCard {
    AgentCard {
        capacity,
        ..card(id)
    }
}

#[test]
fn full_agents_are_skipped_and_the_queue_drains_on_close_oldest_first() {
    for strategy in [Strategy::Random, Strategy::LeastLoaded] {
        let mut d = Desk::new(
            DeskConfig { strategy, ..cfg() },
            3,
            Vec::new(),
            Default::default(),
            t(0),
        );
        d.agent_join(t(0), 100, &capped(1, 1));
        d.agent_join(t(0), 200, &capped(2, 2));
        for c in 10..14 {
            open(&mut d, t(c), 1000 + c as u64, c);
        }
        let owned = |d: &Desk, a: i64| {
            (10..14)
                .filter(|c| owner(d, *c) == Some(AgentId(a)))
                .count()
        };
        assert_eq!((owned(&d, 1), owned(&d, 2)), (1, 2), "{strategy:?}");
        assert_eq!(status(&d, 13), Some(ConversationStatus::Queued));
        // Agent 1 closes its one: the oldest waiting one goes to it.
        let mine = (10..14)
            .find(|c| owner(&d, *c) == Some(AgentId(1)))
            .unwrap();
        d.close(t(20), &card(1), ConversationId(mine)).unwrap();
        assert_eq!(owner(&d, 13), Some(AgentId(1)), "{strategy:?}");
        assert!(d.queue().is_empty());
    }
}

#[test]
fn claims_and_transfers_beyond_capacity_are_refused_but_for_admins() {
    let mut d = desk();
    d.agent_join(t(0), 100, &capped(1, 1));
    open(&mut d, t(1), 1001, 10);
    assert_eq!(owner(&d, 10), Some(AgentId(1)));
    open(&mut d, t(2), 1002, 11);
    assert_eq!(
        d.claim(t(3), &capped(1, 1), ConversationId(11)),
        Err(ChatError::AtCapacity)
    );
    let admin = AgentCard {
        is_admin: true,
        ..capped(9, 1)
    };
    d.agent_join(t(3), 900, &admin);
    // The admin got 11 from the queue; transferring it to full agent 1 is refused…
    assert_eq!(owner(&d, 11), Some(AgentId(9)));
    d.agent_join(t(4), 200, &capped(2, 1));
    open(&mut d, t(5), 1003, 12);
    assert_eq!(owner(&d, 12), Some(AgentId(2)));
    assert_eq!(
        d.transfer(t(6), &capped(2, 1), ConversationId(12), AgentId(1)),
        Err(ChatError::AtCapacity)
    );
    // …unless an admin does it.
    assert!(d
        .transfer(t(7), &admin, ConversationId(12), AgentId(1))
        .is_ok());
    assert_eq!(owner(&d, 12), Some(AgentId(1)));
    // Agent 2 is free again: a queued conversation goes to it.
    open(&mut d, t(8), 1004, 13);
    assert_eq!(owner(&d, 13), Some(AgentId(2)));
}
