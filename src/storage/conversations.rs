use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{conversations, visitors};
use super::visitors::VisitorRow;
use super::{last_insert_id, DbConnection, StorageResult};
use crate::domain::Visitor;
use crate::domain::{AgentId, Assignment, ConversationId, ConversationStatus, VisitorId};

pub use crate::domain::Conversation;

#[derive(Queryable, Selectable, QueryableByName)]
#[diesel(table_name = conversations)]
struct Row {
    id: i64,
    visitor_id: i64,
    agent_id: Option<i64>,
    status: String,
    last_seq: i64,
    created_at: NaiveDateTime,
}

impl From<Row> for Conversation {
    fn from(r: Row) -> Self {
        // The CHECK constraint admits only the three statuses.
        let status = ConversationStatus::parse(&r.status).unwrap_or(ConversationStatus::Closed);
        Conversation {
            id: ConversationId(r.id),
            visitor_id: VisitorId(r.visitor_id),
            assignment: Assignment {
                status,
                agent: r.agent_id.map(AgentId),
            },
            last_seq: r.last_seq,
            created_at: r.created_at,
        }
    }
}

pub fn create(
    conn: &mut DbConnection,
    visitor: VisitorId,
    now: NaiveDateTime,
) -> StorageResult<Conversation> {
    conn.transaction(|c| insert_new(c, visitor, now))
}

/// `create` for a caller already inside a transaction (no savepoint round trips).
pub fn insert_new(
    c: &mut DbConnection,
    visitor: VisitorId,
    now: NaiveDateTime,
) -> StorageResult<Conversation> {
    diesel::insert_into(conversations::table)
        .values((
            conversations::visitor_id.eq(visitor.0),
            conversations::status.eq(ConversationStatus::Queued.as_str()),
            conversations::last_seq.eq(0i64),
            conversations::created_at.eq(now),
            conversations::updated_at.eq(now),
        ))
        .execute(c)?;
    let id = last_insert_id(c, "conversations")?;
    find(c, ConversationId(id))
}

pub fn find(conn: &mut DbConnection, id: ConversationId) -> StorageResult<Conversation> {
    Ok(conversations::table
        .find(id.0)
        .select(Row::as_select())
        .first::<Row>(conn)?
        .into())
}

/// The visitor's conversation that is not closed, if any (the newest).
pub fn open_for_visitor(
    conn: &mut DbConnection,
    visitor: VisitorId,
) -> StorageResult<Option<Conversation>> {
    Ok(conversations::table
        .filter(conversations::visitor_id.eq(visitor.0))
        .filter(conversations::status.ne(ConversationStatus::Closed.as_str()))
        .order(conversations::id.desc())
        .select(Row::as_select())
        .first::<Row>(conn)
        .optional()?
        .map(Into::into))
}

/// The visitor's open conversation, or a new one (checked and created in one transaction).
pub fn open_or_create(
    conn: &mut DbConnection,
    visitor: VisitorId,
    now: NaiveDateTime,
) -> StorageResult<Conversation> {
    if let DbConnection::Pg(pg) = conn {
        return open_or_create_pg(pg, visitor, now);
    }
    conn.transaction(|c| {
        super::take_write_lock(c)?;
        match open_for_visitor(c, visitor)? {
            Some(open) => Ok(open),
            // Already in a transaction: no savepoint round trips.
            None => insert_new(c, visitor, now),
        }
    })
}

/// PostgreSQL: the same in one statement, one round trip (a transaction of
/// five statements was six round trips per new conversation, and under a
/// burst of them on a busy machine their connections sat waiting on the
/// server's threads until the pool ran dry).
fn open_or_create_pg(
    pg: &mut diesel::PgConnection,
    visitor: VisitorId,
    now: NaiveDateTime,
) -> StorageResult<Conversation> {
    use super::prepared::{bind, stmt};
    use diesel::sql_types::{BigInt, Timestamp};
    let rows: Vec<Row> = stmt(
        "WITH open AS (SELECT id, visitor_id, agent_id, status, last_seq, created_at FROM conversations                        WHERE visitor_id = ? AND status <> 'closed' ORDER BY id DESC LIMIT 1),               made AS (INSERT INTO conversations (visitor_id, status, last_seq, created_at, updated_at)                        SELECT ?, 'queued', 0, ?, ? WHERE NOT EXISTS (SELECT 1 FROM open)                        RETURNING id, visitor_id, agent_id, status, last_seq, created_at)          SELECT * FROM open UNION ALL SELECT * FROM made",
        (
            bind::<BigInt, _>(&visitor.0),
            bind::<BigInt, _>(&visitor.0),
            bind::<Timestamp, _>(&now),
            bind::<Timestamp, _>(&now),
        ),
    )
    .load(pg)?;
    rows.into_iter()
        .next()
        .map(Into::into)
        .ok_or(super::StorageError::NotFound)
}

/// PostgreSQL, group commit: each visitor's open conversation or a new one,
/// for many visitors in one statement and one commit (a commit each was
/// PostgreSQL's WAL flush queue under a burst of first messages). A visitor
/// named twice gets the same conversation; answers in the order asked.
pub(crate) fn open_or_create_many_pg(
    pg: &mut diesel::PgConnection,
    visitors: &[VisitorId],
    now: NaiveDateTime,
) -> StorageResult<Vec<Conversation>> {
    use super::prepared::{bind, stmt};
    use diesel::sql_types::{Array, BigInt, Timestamp};
    let ids: Vec<i64> = visitors.iter().map(|v| v.0).collect();
    let rows: Vec<Row> = stmt(
        "WITH v AS (SELECT DISTINCT x AS visitor_id FROM UNNEST(?::bigint[]) AS x), \
              open AS (SELECT DISTINCT ON (c.visitor_id) c.id, c.visitor_id, c.agent_id, c.status, c.last_seq, c.created_at \
                       FROM conversations c JOIN v ON c.visitor_id = v.visitor_id \
                       WHERE c.status <> 'closed' ORDER BY c.visitor_id, c.id DESC), \
              made AS (INSERT INTO conversations (visitor_id, status, last_seq, created_at, updated_at) \
                       SELECT v.visitor_id, 'queued', 0, ?, ? FROM v \
                       WHERE NOT EXISTS (SELECT 1 FROM open o WHERE o.visitor_id = v.visitor_id) \
                       RETURNING id, visitor_id, agent_id, status, last_seq, created_at) \
         SELECT * FROM open UNION ALL SELECT * FROM made",
        (
            bind::<Array<BigInt>, _>(&ids),
            bind::<Timestamp, _>(&now),
            bind::<Timestamp, _>(&now),
        ),
    )
    .load(pg)?;
    let by_visitor: std::collections::HashMap<i64, Conversation> = rows
        .into_iter()
        .map(|r| (r.visitor_id, Conversation::from(r)))
        .collect();
    ids.iter()
        .map(|v| {
            by_visitor
                .get(v)
                .cloned()
                .ok_or(super::StorageError::NotFound)
        })
        .collect()
}

pub fn set_assignment(
    conn: &mut DbConnection,
    id: ConversationId,
    a: Assignment,
    now: NaiveDateTime,
) -> StorageResult<()> {
    let closed_at = (a.status == ConversationStatus::Closed).then_some(now);
    // Closed is final: a change decided before the close (and written after
    // it, the writer being behind) must not open the conversation again.
    diesel::update(
        conversations::table
            .find(id.0)
            .filter(conversations::status.ne(ConversationStatus::Closed.as_str())),
    )
    .set((
        conversations::status.eq(a.status.as_str()),
        conversations::agent_id.eq(a.agent.map(|x| x.0)),
        conversations::updated_at.eq(now),
        conversations::closed_at.eq(closed_at),
    ))
    .execute(conn)?;
    Ok(())
}

/// Closes conversations in storage first, before anyone is told: a visitor
/// who writes the moment it hears "closed" must find it closed here (the
/// message write checks the status under the same row lock), so the message
/// opens the next conversation instead of landing, unseen, in this one.
/// Returns the ids that were open and are closed now.
pub fn close_open(
    conn: &mut DbConnection,
    ids: &[ConversationId],
    now: NaiveDateTime,
) -> StorageResult<Vec<ConversationId>> {
    let mut ids: Vec<i64> = ids.iter().map(|i| i.0).collect();
    ids.sort_unstable();
    conn.transaction(|c| {
        super::take_write_lock(c)?;
        lock_in_id_order(c, &ids)?;
        let was: Vec<(i64, Option<i64>)> = conversations::table
            .filter(conversations::id.eq_any(&ids))
            .filter(conversations::status.ne(ConversationStatus::Closed.as_str()))
            .select((conversations::id, conversations::agent_id))
            .load(c)?;
        let open: Vec<i64> = was.iter().map(|(id, _)| *id).collect();
        diesel::update(
            conversations::table
                .filter(conversations::id.eq_any(&open))
                .filter(conversations::status.ne(ConversationStatus::Closed.as_str())),
        )
        .set((
            conversations::status.eq(ConversationStatus::Closed.as_str()),
            conversations::updated_at.eq(now),
            conversations::closed_at.eq(Some(now)),
        ))
        .execute(c)?;
        let closes: Vec<_> = was
            .iter()
            .map(|(id, a)| super::events::closed(ConversationId(*id), a.map(AgentId), now))
            .collect();
        super::events::record(c, &closes)?;
        Ok(open.into_iter().map(ConversationId).collect())
    })
}

/// Locks these conversations' rows in id order (PostgreSQL; SQLite has one
/// writer at a time). Every writer of several rows in one transaction takes
/// this first: an `UPDATE … FROM` locks rows in whatever order its plan
/// visits them, and the message and ownership batches of three nodes,
/// visiting them in different orders, deadlocked under load.
pub(crate) fn lock_in_id_order(conn: &mut DbConnection, ids: &[i64]) -> StorageResult<()> {
    match conn {
        DbConnection::Pg(pg) => lock_in_id_order_pg(pg, ids),
        DbConnection::Sqlite(_) => Ok(()),
    }
}

/// [`lock_in_id_order`] on a PostgreSQL connection; `ids` sorted.
pub(crate) fn lock_in_id_order_pg(pg: &mut diesel::PgConnection, ids: &[i64]) -> StorageResult<()> {
    use super::prepared::{bind, stmt};
    use diesel::sql_types::{Array, BigInt};
    #[derive(QueryableByName)]
    struct Locked {
        #[diesel(sql_type = BigInt)]
        #[allow(dead_code)]
        id: i64,
    }
    if ids.len() > 1 {
        let _: Vec<Locked> = stmt(
            "SELECT id FROM conversations WHERE id = ANY(?::bigint[]) ORDER BY id FOR UPDATE",
            (bind::<Array<BigInt>, _>(ids),),
        )
        .load(pg)?;
    }
    Ok(())
}

/// Every conversation that is not closed, with its visitor: the Dispatcher's state at start-up.
pub fn list_open(conn: &mut DbConnection) -> StorageResult<Vec<(Conversation, Visitor)>> {
    let rows: Vec<(Row, VisitorRow)> = conversations::table
        .inner_join(visitors::table)
        .filter(conversations::status.ne(ConversationStatus::Closed.as_str()))
        .order(conversations::id.asc())
        .select((Row::as_select(), VisitorRow::as_select()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(c, v)| (c.into(), v.into()))
        .collect())
}

/// A closed conversation for lists: when it was updated and closed, and its visitor.
pub struct ClosedConversation {
    pub conversation: Conversation,
    pub visitor: Visitor,
    pub updated_at: NaiveDateTime,
}

/// The agent's conversations closed since `since`, newest first: they stay in
/// reach in the dashboard after a reload (until the archive has them all).
pub fn recently_closed(
    conn: &mut DbConnection,
    agent: AgentId,
    since: NaiveDateTime,
    limit: i64,
) -> StorageResult<Vec<ClosedConversation>> {
    let rows: Vec<(Row, VisitorRow, NaiveDateTime)> = conversations::table
        .inner_join(visitors::table)
        .filter(conversations::agent_id.eq(agent.0))
        .filter(conversations::status.eq(ConversationStatus::Closed.as_str()))
        .filter(conversations::updated_at.ge(since))
        .order((conversations::updated_at.desc(), conversations::id.desc()))
        .limit(limit)
        .select((
            Row::as_select(),
            VisitorRow::as_select(),
            conversations::updated_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(c, visitor, updated_at)| ClosedConversation {
            conversation: c.into(),
            visitor: visitor.into(),
            updated_at,
        })
        .collect())
}

/// Left through the offline form (nobody was there when it began).
pub fn mark_offline(conn: &mut DbConnection, id: ConversationId) -> StorageResult<()> {
    diesel::update(conversations::table.find(id.0))
        .set(conversations::offline.eq(true))
        .execute(conn)?;
    Ok(())
}

/// Which conversations a list shows (the REST API's filters).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub status: Option<ConversationStatus>,
    pub agent: Option<AgentId>,
    pub label: Option<i64>,
    pub updated_since: Option<NaiveDateTime>,
}

/// A conversation with what lists show of it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub conversation: Conversation,
    pub visitor: Visitor,
    pub updated_at: NaiveDateTime,
    pub closed_at: Option<NaiveDateTime>,
}

type ListedRow = (Row, VisitorRow, NaiveDateTime, Option<NaiveDateTime>);

fn listed(rows: Vec<ListedRow>) -> Vec<Listed> {
    rows.into_iter()
        .map(|(c, v, updated_at, closed_at)| Listed {
            conversation: c.into(),
            visitor: v.into(),
            updated_at,
            closed_at,
        })
        .collect()
}

/// Newest first, those with an id below `before` (the cursor), at most `limit`.
pub fn page(
    conn: &mut DbConnection,
    filter: &Filter,
    before: Option<i64>,
    limit: i64,
) -> StorageResult<Vec<Listed>> {
    use super::schema::conversation_labels as tagged;
    let mut q = conversations::table
        .inner_join(visitors::table)
        .select((
            Row::as_select(),
            VisitorRow::as_select(),
            conversations::updated_at,
            conversations::closed_at,
        ))
        .order(conversations::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(s) = filter.status {
        q = q.filter(conversations::status.eq(s.as_str()));
    }
    if let Some(a) = filter.agent {
        q = q.filter(conversations::agent_id.eq(a.0));
    }
    if let Some(l) = filter.label {
        let tagged_with = tagged::table
            .filter(tagged::label_id.eq(l))
            .select(tagged::conversation_id);
        q = q.filter(conversations::id.eq_any(tagged_with));
    }
    if let Some(t) = filter.updated_since {
        q = q.filter(conversations::updated_at.ge(t));
    }
    if let Some(b) = before {
        q = q.filter(conversations::id.lt(b));
    }
    Ok(listed(q.load(conn)?))
}

/// One conversation as lists show it.
pub fn listed_one(conn: &mut DbConnection, id: ConversationId) -> StorageResult<Listed> {
    let row: ListedRow = conversations::table
        .inner_join(visitors::table)
        .filter(conversations::id.eq(id.0))
        .select((
            Row::as_select(),
            VisitorRow::as_select(),
            conversations::updated_at,
            conversations::closed_at,
        ))
        .first(conn)?;
    Ok(listed(vec![row]).remove(0))
}
