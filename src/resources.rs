//! The REST API's and the webhooks' view of conversations and visitors:
//! one shape for both, read from storage in one place. Messages, files,
//! agents and labels keep the shapes the WebSocket protocol gives them.

use std::collections::HashMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::chat::protocol::{rfc3339, AgentRef, LabelRef, MessageView};
use crate::domain::{AgentId, ConversationId, ConversationStatus, Visitor, VisitorId};
use crate::storage::conversations::{self, Listed};
use crate::storage::{agents, labels, visitors, DbConnection, StorageResult};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VisitorResource {
    pub id: i64,
    pub name: Option<String>,
    pub email: Option<String>,
    /// Who the site says this is (its id for its customer).
    pub identifier: Option<String>,
    /// The site signed `identifier`: the same visitor on every device.
    pub verified: bool,
    /// What the site or an integration attached (a JSON object).
    #[schema(value_type = Object)]
    pub attributes: serde_json::Value,
    pub page_url: Option<String>,
    pub referrer: Option<String>,
    pub user_agent: Option<String>,
    pub timezone: Option<String>,
    pub first_seen_at: String,
    pub last_seen_at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConversationResource {
    pub id: i64,
    #[schema(value_type = String, example = "assigned")]
    pub status: ConversationStatus,
    #[schema(value_type = Option<Object>)]
    pub agent: Option<AgentRef>,
    pub visitor: VisitorResource,
    #[schema(value_type = Vec<Object>)]
    pub labels: Vec<LabelRef>,
    /// `seq` of its newest public message.
    pub last_seq: i64,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
}

impl VisitorResource {
    fn of(v: &Visitor, attributes: serde_json::Value) -> Self {
        VisitorResource {
            id: v.id.0,
            name: v.name.clone(),
            email: v.email.clone(),
            identifier: v.identifier.clone(),
            verified: v.verified,
            attributes,
            page_url: v.page_url.clone(),
            referrer: v.referrer.clone(),
            user_agent: v.user_agent.clone(),
            timezone: v.timezone.clone(),
            first_seen_at: rfc3339(v.first_seen_at),
            last_seen_at: rfc3339(v.last_seen_at),
        }
    }
}

/// A visitor, with its attributes.
pub fn visitor(db: &mut DbConnection, id: VisitorId) -> StorageResult<VisitorResource> {
    let v = visitors::find(db, id)?;
    let attrs = visitors::attributes(db, id)?;
    Ok(VisitorResource::of(&v, parse_attributes(&attrs)))
}

/// Conversations as lists have them, with agents, labels and attributes.
pub fn conversations(
    db: &mut DbConnection,
    listed: Vec<Listed>,
) -> StorageResult<Vec<ConversationResource>> {
    let ids: Vec<ConversationId> = listed.iter().map(|l| l.conversation.id).collect();
    let mut tags = labels::of(db, &ids)?;
    let names = agent_names(db)?;
    let mut attrs: HashMap<VisitorId, serde_json::Value> = HashMap::new();
    for l in &listed {
        let id = l.visitor.id;
        if let std::collections::hash_map::Entry::Vacant(e) = attrs.entry(id) {
            e.insert(parse_attributes(&visitors::attributes(db, id)?));
        }
    }
    Ok(listed
        .into_iter()
        .map(|l| {
            let c = &l.conversation;
            ConversationResource {
                id: c.id.0,
                status: c.assignment.status,
                agent: c.assignment.agent.map(|a| AgentRef {
                    id: a.0,
                    name: names.get(&a).cloned().unwrap_or_default(),
                }),
                visitor: VisitorResource::of(&l.visitor, attrs[&l.visitor.id].clone()),
                labels: tags
                    .remove(&c.id)
                    .unwrap_or_default()
                    .iter()
                    .map(LabelRef::from)
                    .collect(),
                last_seq: c.last_seq,
                created_at: rfc3339(c.created_at),
                updated_at: rfc3339(l.updated_at),
                closed_at: l.closed_at.map(rfc3339),
            }
        })
        .collect())
}

/// One conversation.
pub fn conversation(
    db: &mut DbConnection,
    id: ConversationId,
) -> StorageResult<ConversationResource> {
    let one = conversations::listed_one(db, id)?;
    Ok(conversations(db, vec![one])?.remove(0))
}

/// Display names by agent (a small table: every agent, read once).
fn agent_names(db: &mut DbConnection) -> StorageResult<HashMap<AgentId, String>> {
    Ok(agents::list(db)?
        .into_iter()
        .map(|a| (a.id, a.display_name))
        .collect())
}

fn parse_attributes(raw: &str) -> serde_json::Value {
    serde_json::from_str(raw).unwrap_or_else(|_| serde_json::json!({}))
}

/// A message as the API and webhooks send it: the socket protocol's shape,
/// and the agent's name beside its id.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageResource {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub message: MessageView,
    pub agent_name: Option<String>,
}

/// Messages (and notes) with their agents' names.
pub fn named(
    db: &mut DbConnection,
    views: Vec<MessageView>,
) -> StorageResult<Vec<MessageResource>> {
    let names = agent_names(db)?;
    Ok(views
        .into_iter()
        .map(|m| MessageResource {
            agent_name: m.agent_id.and_then(|a| names.get(&AgentId(a)).cloned()),
            message: m,
        })
        .collect())
}
