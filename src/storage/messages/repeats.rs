//! The one step every batch path shares: a `client_id` sent twice in one
//! batch (a client resending before its first answer came) is one message.
//! The first is written; every later one gets the first's outcome, as a
//! resend of a stored message does. Linear in the batch.

use std::collections::{BTreeMap, HashMap};

use super::{OwnedNewMessage, Stored};
use crate::storage::{StorageError, StorageResult};

pub(super) struct Repeats {
    /// For each message, the earlier message of the batch it repeats.
    of: Vec<Option<usize>>,
}

impl Repeats {
    pub(super) fn find(batch: &[&OwnedNewMessage]) -> Self {
        let mut first: HashMap<(i64, &str), usize> = HashMap::new();
        let of = batch
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let cid = m.client_id.as_deref()?;
                match first.entry((m.conversation_id.0, cid)) {
                    std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(i);
                        None
                    }
                }
            })
            .collect();
        Repeats { of }
    }

    /// Does message `i` repeat an earlier one of the batch (so it is not written)?
    pub(super) fn is_repeat(&self, i: usize) -> bool {
        self.of[i].is_some()
    }

    /// The messages to write (every one but the repeats), by conversation in
    /// id order (the order their row locks are taken in), each in batch order.
    pub(super) fn written_by_conversation(
        &self,
        batch: &[&OwnedNewMessage],
    ) -> BTreeMap<i64, Vec<usize>> {
        let mut by_conv: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
        for (i, m) in batch.iter().enumerate() {
            if !self.is_repeat(i) {
                by_conv.entry(m.conversation_id.0).or_default().push(i);
            }
        }
        by_conv
    }

    /// Gives every repeat the outcome of the message it repeats: that
    /// message (stored now, or found stored before) as a duplicate, or the
    /// same refusal.
    pub(super) fn answer(&self, results: &mut [Option<StorageResult<Stored>>]) {
        for i in 0..results.len() {
            let Some(j) = self.of[i] else { continue };
            let outcome = match &results[j] {
                Some(Ok(Stored::New(m) | Stored::Duplicate(m))) => Ok(Stored::Duplicate(m.clone())),
                Some(Err(StorageError::ConversationClosed)) => {
                    Err(StorageError::ConversationClosed)
                }
                _ => Err(StorageError::NotFound),
            };
            results[i] = Some(outcome);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ConversationId, MessageId, Sender};
    use crate::storage::messages::Message;

    fn new(conv: i64, cid: Option<&str>) -> OwnedNewMessage {
        OwnedNewMessage {
            conversation_id: ConversationId(conv),
            sender: Sender::Visitor,
            agent_id: None,
            client_id: cid.map(str::to_owned),
            body: "hi".into(),
        }
    }

    #[test]
    fn a_client_id_twice_in_one_conversation_is_one_message() {
        let batch = [
            new(1, Some("a")),
            new(1, Some("a")),
            new(2, Some("a")),
            new(1, None),
            new(1, Some("a")),
            new(2, Some("b")),
            new(2, Some("b")),
        ];
        let r = Repeats::find(&batch.iter().collect::<Vec<_>>());
        let repeats: Vec<bool> = (0..batch.len()).map(|i| r.is_repeat(i)).collect();
        assert_eq!(repeats, [false, true, false, false, true, false, true]);

        let stored = Message {
            id: MessageId(7),
            conversation_id: ConversationId(1),
            seq: 1,
            sender: Sender::Visitor,
            agent_id: None,
            client_id: Some("a".into()),
            body: "hi".into(),
            created_at: chrono::DateTime::from_timestamp(0, 0).unwrap().naive_utc(),
        };
        let mut results: Vec<Option<StorageResult<Stored>>> = vec![
            Some(Ok(Stored::New(stored.clone()))),
            None,
            Some(Ok(Stored::New(stored.clone()))),
            Some(Ok(Stored::New(stored.clone()))),
            None,
            Some(Err(StorageError::ConversationClosed)),
            None,
        ];
        r.answer(&mut results);
        assert!(matches!(&results[1], Some(Ok(Stored::Duplicate(m))) if *m == stored));
        assert!(matches!(&results[4], Some(Ok(Stored::Duplicate(m))) if *m == stored));
        assert!(matches!(
            &results[6],
            Some(Err(StorageError::ConversationClosed))
        ));
    }
}
