//! Labels: admins define them (name, colour); conversations carry them.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{conversation_labels as tagged, labels};
use super::{take_write_lock, DbConnection, StorageError, StorageResult};
use crate::domain::ConversationId;

#[derive(
    Debug, Clone, PartialEq, Eq, Queryable, Selectable, serde::Serialize, serde::Deserialize,
)]
#[diesel(table_name = labels)]
pub struct Label {
    pub id: i64,
    pub name: String,
    pub colour: String,
    #[serde(skip, default = "epoch")]
    pub created_at: NaiveDateTime,
}

fn epoch() -> NaiveDateTime {
    NaiveDateTime::default()
}

/// `#rrggbb`, lowercased.
pub fn parse_colour(raw: &str) -> Option<String> {
    let s = raw.trim().to_lowercase();
    (s.len() == 7 && s.starts_with('#') && s[1..].chars().all(|c| c.is_ascii_hexdigit()))
        .then_some(s)
}

/// 1-40 visible characters, trimmed.
pub fn parse_name(raw: &str) -> Option<String> {
    let s = raw.trim();
    let n = s.chars().count();
    ((1..=40).contains(&n) && !s.chars().any(char::is_control)).then(|| s.to_owned())
}

pub fn all(conn: &mut DbConnection) -> StorageResult<Vec<Label>> {
    Ok(labels::table
        .order(labels::name.asc())
        .select(Label::as_select())
        .load(conn)?)
}

/// Creates a label, or changes the one with that id; `Conflict`: name taken.
pub fn save(
    conn: &mut DbConnection,
    id: Option<i64>,
    name: &str,
    colour: &str,
    now: NaiveDateTime,
) -> StorageResult<Label> {
    match id {
        Some(id) => {
            let n = diesel::update(labels::table.find(id))
                .set((labels::name.eq(name), labels::colour.eq(colour)))
                .execute(conn)?;
            if n == 0 {
                return Err(StorageError::NotFound);
            }
        }
        None => {
            diesel::insert_into(labels::table)
                .values((
                    labels::name.eq(name),
                    labels::colour.eq(colour),
                    labels::created_at.eq(now),
                ))
                .execute(conn)?;
        }
    }
    Ok(labels::table
        .filter(labels::name.eq(name))
        .select(Label::as_select())
        .first(conn)?)
}

/// Deletes a label (and takes it off every conversation).
pub fn delete(conn: &mut DbConnection, id: i64) -> StorageResult<()> {
    conn.transaction(|c| {
        diesel::delete(tagged::table.filter(tagged::label_id.eq(id))).execute(c)?;
        match diesel::delete(labels::table.find(id)).execute(c)? {
            0 => Err(StorageError::NotFound),
            _ => Ok(()),
        }
    })
}

/// Puts a label on a conversation or takes it off; answers the
/// conversation's labels after. `NotFound`: no such label.
pub fn set(
    conn: &mut DbConnection,
    conversation: ConversationId,
    label: i64,
    on: bool,
) -> StorageResult<Vec<Label>> {
    conn.transaction(|c| {
        take_write_lock(c)?;
        labels::table
            .find(label)
            .select(labels::id)
            .first::<i64>(c)?;
        let has = tagged::table
            .filter(tagged::conversation_id.eq(conversation.0))
            .filter(tagged::label_id.eq(label))
            .count()
            .get_result::<i64>(c)?
            > 0;
        match (on, has) {
            (true, false) => {
                diesel::insert_into(tagged::table)
                    .values((
                        tagged::conversation_id.eq(conversation.0),
                        tagged::label_id.eq(label),
                    ))
                    .execute(c)?;
            }
            (false, true) => {
                diesel::delete(
                    tagged::table
                        .filter(tagged::conversation_id.eq(conversation.0))
                        .filter(tagged::label_id.eq(label)),
                )
                .execute(c)?;
            }
            _ => {}
        }
        Ok(of(c, &[conversation])?
            .remove(&conversation)
            .unwrap_or_default())
    })
}

/// Gives a conversation exactly these labels; answers them after.
/// `NotFound`: one is no label.
pub fn replace(
    conn: &mut DbConnection,
    conversation: ConversationId,
    ids: &[i64],
) -> StorageResult<Vec<Label>> {
    conn.transaction(|c| {
        take_write_lock(c)?;
        let known: i64 = labels::table
            .filter(labels::id.eq_any(ids))
            .count()
            .get_result(c)?;
        let mut wanted = ids.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        if known != wanted.len() as i64 {
            return Err(StorageError::NotFound);
        }
        diesel::delete(tagged::table.filter(tagged::conversation_id.eq(conversation.0)))
            .execute(c)?;
        for l in &wanted {
            diesel::insert_into(tagged::table)
                .values((
                    tagged::conversation_id.eq(conversation.0),
                    tagged::label_id.eq(*l),
                ))
                .execute(c)?;
        }
        Ok(of(c, &[conversation])?
            .remove(&conversation)
            .unwrap_or_default())
    })
}

/// The labels of each of these conversations (by name).
pub fn of(
    conn: &mut DbConnection,
    ids: &[ConversationId],
) -> StorageResult<HashMap<ConversationId, Vec<Label>>> {
    let mut out: HashMap<ConversationId, Vec<Label>> = HashMap::new();
    for chunk in ids.chunks(500) {
        let raw: Vec<i64> = chunk.iter().map(|c| c.0).collect();
        let rows: Vec<(i64, Label)> = tagged::table
            .inner_join(labels::table)
            .filter(tagged::conversation_id.eq_any(raw))
            .order(labels::name.asc())
            .select((tagged::conversation_id, Label::as_select()))
            .load(conn)?;
        for (c, l) in rows {
            out.entry(ConversationId(c)).or_default().push(l);
        }
    }
    Ok(out)
}
