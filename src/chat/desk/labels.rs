//! Labels on the Desk: each open conversation's labels, so every view of it
//! carries them, and a change goes to whoever sees the conversation.

use std::collections::HashMap;

use super::Desk;
use crate::chat::protocol::LabelRef;
use crate::domain::ConversationId;

impl Desk {
    /// The open conversations' labels from storage (at start, on taking the lead).
    pub fn seed_labels(&mut self, labels: HashMap<ConversationId, Vec<LabelRef>>) {
        for (id, l) in labels {
            if let Some(c) = self.convs.get_mut(&id) {
                c.labels = l;
            }
        }
    }

    /// A conversation's labels changed (stored already): its owner (or, if
    /// queued, every agent) hears.
    pub fn set_labels(&mut self, id: ConversationId, labels: Vec<LabelRef>) {
        let Some(c) = self.convs.get_mut(&id) else {
            return;
        };
        if c.labels == labels {
            return;
        }
        c.labels = labels;
        self.announce(id);
    }

    /// An admin renamed, recoloured or deleted labels: `all` is every label now.
    pub fn labels_changed(&mut self, all: &[LabelRef]) {
        let by_id: HashMap<i64, &LabelRef> = all.iter().map(|l| (l.id, l)).collect();
        let mut touched = Vec::new();
        for (id, c) in &mut self.convs {
            let now: Vec<LabelRef> = c
                .labels
                .iter()
                .filter_map(|l| by_id.get(&l.id).map(|x| (*x).clone()))
                .collect();
            if now != c.labels {
                c.labels = now;
                touched.push(*id);
            }
        }
        touched.sort();
        for id in touched {
            self.announce(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::*;
    use crate::chat::protocol::AgentOut;

    fn label(id: i64, name: &str) -> LabelRef {
        LabelRef {
            id,
            name: name.into(),
            colour: "#cc0000".into(),
        }
    }

    #[test]
    fn label_changes_reach_the_owner_and_renames_follow() {
        let mut d = desk();
        d.agent_join(t(0), 100, &card(1));
        open(&mut d, t(1), 1001, 10);
        d.take_effects();
        d.set_labels(ConversationId(10), vec![label(5, "vip")]);
        let e = d.take_effects();
        let seen: Vec<_> = agent_frames(&e, 1)
            .into_iter()
            .filter_map(|f| match f {
                AgentOut::Conversation { conversation } => Some(conversation.labels),
                _ => None,
            })
            .collect();
        assert_eq!(seen, vec![vec![label(5, "vip")]]);
        // The same again says nothing; a rename is carried; a deletion takes it off.
        d.set_labels(ConversationId(10), vec![label(5, "vip")]);
        assert!(d.take_effects().is_empty());
        d.labels_changed(&[label(5, "VIP")]);
        assert_eq!(
            d.view(ConversationId(10)).unwrap().labels,
            vec![label(5, "VIP")]
        );
        d.labels_changed(&[]);
        assert!(d.view(ConversationId(10)).unwrap().labels.is_empty());
    }
}
