//! Who owns a conversation, as stored: each change is a compare-and-set on
//! the row (`UPDATE … WHERE owner = expected`), so two deciders can never
//! both win, and the loser learns what the row holds instead.

use std::collections::HashSet;

use diesel::prelude::*;

use super::schema::conversations;
use super::{events, DbConnection, StorageResult};
use crate::domain::{AgentId, Assignment, AssignmentChange, ConversationId, ConversationStatus};

/// A change that did not apply, and what the row holds instead (a missing
/// row reads as closed: nothing may be assigned there).
pub type Lost = (AssignmentChange, Assignment);

/// Applies `changes` in order, in one transaction, each only if its row still
/// holds its `from`. A run of changes to one conversation where each starts
/// where the last ended is written once, from the first `from` to the last
/// `to`. Closed rows never change. Returns the changes that lost.
pub fn compare_and_set(
    conn: &mut DbConnection,
    changes: &[AssignmentChange],
) -> StorageResult<Vec<Lost>> {
    let (merged, parts) = collapse(changes);
    if merged.is_empty() {
        return Ok(Vec::new());
    }
    let ids: HashSet<i64> = merged.iter().map(|c| c.conversation.0).collect();
    // Each change that won, step by step (a chain is stored once but
    // happened as its steps): the conversation's history of owners.
    let history = |won: &[bool]| -> Vec<_> {
        won.iter()
            .zip(&parts)
            .filter(|(w, _)| **w)
            .flat_map(|(_, p)| p.iter().map(|i| events::of_change(&changes[*i])))
            .collect()
    };
    let won: Vec<bool> = match conn {
        // One statement when no conversation appears twice.
        DbConnection::Pg(pg) if ids.len() == merged.len() => pg.transaction(|pg| {
            super::conversations::lock_in_id_order_pg(pg, &sorted(&ids))?;
            let set = pg_batch(pg, &merged)?;
            let won: Vec<bool> = merged
                .iter()
                .map(|c| set.contains(&c.conversation.0))
                .collect();
            events::record_pg(pg, &history(&won))?;
            Ok::<_, super::StorageError>(won)
        })?,
        _ => conn.transaction(|c| {
            super::conversations::lock_in_id_order(c, &sorted(&ids))?;
            let won = merged
                .iter()
                .map(|ch| one(c, ch))
                .collect::<StorageResult<Vec<bool>>>()?;
            events::record(c, &history(&won))?;
            Ok::<_, super::StorageError>(won)
        })?,
    };
    let lost: Vec<AssignmentChange> = merged
        .into_iter()
        .zip(won)
        .filter(|(_, won)| !won)
        .map(|(c, _)| c)
        .collect();
    if lost.is_empty() {
        return Ok(Vec::new());
    }
    keep_owner_of_closed(conn, &lost)?;
    let held = current(conn, lost.iter().map(|c| c.conversation))?;
    Ok(lost
        .into_iter()
        .map(|c| {
            let actual = held
                .iter()
                .find(|(id, _)| *id == c.conversation)
                .map(|(_, a)| *a)
                .unwrap_or(CLOSED);
            (c, actual)
        })
        .collect())
}

/// A close is written at once, a hand-over from the queue a moment later:
/// when the close got there first, the row is closed with no owner. The
/// agent it was handed to had it (and closed it), so it keeps the owner;
/// a closed row changes no further.
fn keep_owner_of_closed(conn: &mut DbConnection, lost: &[AssignmentChange]) -> StorageResult<()> {
    for ch in lost {
        let (None, Some(agent)) = (ch.from.agent, ch.to.agent) else {
            continue;
        };
        let kept = diesel::update(
            conversations::table
                .find(ch.conversation.0)
                .filter(conversations::status.eq(ConversationStatus::Closed.as_str()))
                .filter(conversations::agent_id.is_null()),
        )
        .set(conversations::agent_id.eq(agent.0))
        .execute(conn)?;
        if kept == 1 {
            // Its history says who had it before the close.
            events::record(conn, &[events::of_change(ch)])?;
        }
    }
    Ok(())
}

const CLOSED: Assignment = Assignment {
    status: ConversationStatus::Closed,
    agent: None,
};

/// Joins each change to the previous one of its conversation when it starts
/// where that one ended; order is kept. With each, the input changes it is made of.
fn collapse(changes: &[AssignmentChange]) -> (Vec<AssignmentChange>, Vec<Vec<usize>>) {
    let mut out: Vec<AssignmentChange> = Vec::with_capacity(changes.len());
    let mut parts: Vec<Vec<usize>> = Vec::with_capacity(changes.len());
    let mut last: std::collections::HashMap<ConversationId, usize> = Default::default();
    for (n, ch) in changes.iter().enumerate() {
        match last.get(&ch.conversation) {
            Some(&i) if out[i].to == ch.from => {
                out[i] = AssignmentChange {
                    from: out[i].from,
                    ..*ch
                };
                parts[i].push(n);
            }
            _ => {
                last.insert(ch.conversation, out.len());
                out.push(*ch);
                parts.push(vec![n]);
            }
        }
    }
    (out, parts)
}

fn one(c: &mut DbConnection, ch: &AssignmentChange) -> StorageResult<bool> {
    let closed_at = (ch.to.status == ConversationStatus::Closed).then_some(ch.at);
    let target = conversations::table
        .find(ch.conversation.0)
        .filter(conversations::status.ne(ConversationStatus::Closed.as_str()))
        .filter(conversations::status.eq(ch.from.status.as_str()));
    let set = (
        conversations::status.eq(ch.to.status.as_str()),
        conversations::agent_id.eq(ch.to.agent.map(|a| a.0)),
        conversations::updated_at.eq(ch.at),
        conversations::closed_at.eq(closed_at),
    );
    let n = match ch.from.agent {
        Some(a) => diesel::update(target.filter(conversations::agent_id.eq(a.0)))
            .set(set)
            .execute(c)?,
        None => diesel::update(target.filter(conversations::agent_id.is_null()))
            .set(set)
            .execute(c)?,
    };
    Ok(n == 1)
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

fn sorted(ids: &HashSet<i64>) -> Vec<i64> {
    let mut v: Vec<i64> = ids.iter().copied().collect();
    v.sort_unstable();
    v
}

/// PostgreSQL: the whole batch in one prepared statement (its rows locked
/// in id order before, like the message writer's, so the two cannot deadlock).
fn pg_batch(
    pg: &mut diesel::PgConnection,
    merged: &[AssignmentChange],
) -> StorageResult<HashSet<i64>> {
    use super::prepared::{bind, stmt};
    use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamp};
    let ids: Vec<i64> = merged.iter().map(|c| c.conversation.0).collect();
    let from_status: Vec<&str> = merged.iter().map(|c| c.from.status.as_str()).collect();
    let from_agent: Vec<Option<i64>> = merged.iter().map(|c| c.from.agent.map(|a| a.0)).collect();
    let status: Vec<&str> = merged.iter().map(|c| c.to.status.as_str()).collect();
    let agent: Vec<Option<i64>> = merged.iter().map(|c| c.to.agent.map(|a| a.0)).collect();
    let at: Vec<chrono::NaiveDateTime> = merged.iter().map(|c| c.at).collect();
    let won: Vec<Id> = stmt(
        "UPDATE conversations c SET status = u.status, agent_id = u.agent_id, updated_at = u.at, \
           closed_at = CASE WHEN u.status = 'closed' THEN u.at END \
         FROM (SELECT * FROM UNNEST(?::bigint[], ?::text[], ?::bigint[], ?::text[], ?::bigint[], ?::timestamp[]) \
               AS t(id, from_status, from_agent, status, agent_id, at) ORDER BY id) u \
         WHERE c.id = u.id AND c.status <> 'closed' AND c.status = u.from_status \
           AND c.agent_id IS NOT DISTINCT FROM u.from_agent \
         RETURNING c.id",
        (
            bind::<Array<BigInt>, _>(&ids),
            bind::<Array<Text>, _>(&from_status),
            bind::<Array<Nullable<BigInt>>, _>(&from_agent),
            bind::<Array<Text>, _>(&status),
            bind::<Array<Nullable<BigInt>>, _>(&agent),
            bind::<Array<Timestamp>, _>(&at),
        ),
    )
    .load(pg)?;
    Ok(won.into_iter().map(|r| r.id).collect())
}

/// What the rows hold now.
pub fn current(
    conn: &mut DbConnection,
    ids: impl IntoIterator<Item = ConversationId>,
) -> StorageResult<Vec<(ConversationId, Assignment)>> {
    let ids: Vec<i64> = ids.into_iter().map(|i| i.0).collect();
    let rows: Vec<(i64, String, Option<i64>)> = conversations::table
        .filter(conversations::id.eq_any(&ids))
        .select((
            conversations::id,
            conversations::status,
            conversations::agent_id,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, s, a)| {
            let status = ConversationStatus::parse(&s).unwrap_or(ConversationStatus::Closed);
            (
                ConversationId(id),
                Assignment {
                    status,
                    agent: a.map(AgentId),
                },
            )
        })
        .collect())
}

/// A closed conversation opened again, back in the queue (the Desk then
/// places it). `Conflict` when it is not closed, or its visitor has another
/// one open (a visitor has one conversation at a time).
pub fn reopen(
    conn: &mut DbConnection,
    id: ConversationId,
    now: chrono::NaiveDateTime,
) -> StorageResult<crate::domain::Conversation> {
    use super::StorageError;
    conn.transaction(|c| {
        super::take_write_lock(c)?;
        let conv = super::conversations::find(c, id)?;
        if conv.assignment.status != ConversationStatus::Closed {
            return Err(StorageError::Conflict);
        }
        if super::conversations::open_for_visitor(c, conv.visitor_id)?.is_some() {
            return Err(StorageError::Conflict);
        }
        let n = diesel::update(
            conversations::table
                .find(id.0)
                .filter(conversations::status.eq(ConversationStatus::Closed.as_str())),
        )
        .set((
            conversations::status.eq(ConversationStatus::Queued.as_str()),
            conversations::agent_id.eq(None::<i64>),
            conversations::closed_at.eq(None::<chrono::NaiveDateTime>),
            conversations::updated_at.eq(now),
        ))
        .execute(c)?;
        if n == 0 {
            return Err(StorageError::Conflict);
        }
        events::record(
            c,
            &[(
                id.0,
                "reopened",
                None,
                conv.assignment.agent.map(|a| a.0),
                now,
            )],
        )?;
        super::conversations::find(c, id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Assignment;

    fn ch(conv: i64, from: Option<i64>, to: Option<i64>, version: u64) -> AssignmentChange {
        let a = |x: Option<i64>| match x {
            Some(x) => Assignment {
                status: ConversationStatus::Assigned,
                agent: Some(AgentId(x)),
            },
            None => Assignment::queued(),
        };
        AssignmentChange {
            conversation: ConversationId(conv),
            from: a(from),
            to: a(to),
            at: chrono::NaiveDateTime::default(),
            version,
        }
    }

    #[test]
    fn a_chain_of_changes_is_written_once_from_first_to_last() {
        let (merged, parts) = collapse(&[
            ch(1, None, Some(7), 1),
            ch(2, None, Some(8), 1),
            ch(1, Some(7), Some(9), 2),
        ]);
        assert_eq!(
            merged,
            vec![ch(1, None, Some(9), 2), ch(2, None, Some(8), 1)]
        );
        assert_eq!(
            parts,
            vec![vec![0, 2], vec![1]],
            "each step is kept for the history"
        );
    }

    #[test]
    fn a_change_that_does_not_follow_the_last_stays_separate() {
        let (merged, _) = collapse(&[ch(1, None, Some(7), 1), ch(1, Some(8), Some(9), 2)]);
        assert_eq!(merged.len(), 2);
    }
}
