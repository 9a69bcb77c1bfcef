//! Transcripts. Agents: `/agent/conversations/{id}/transcript` (a page),
//! `.txt` and `.json`: messages and private notes in order (notes marked),
//! labels, visitor details; for those who may read the conversation (404
//! otherwise, whether it exists or not). Visitors: `POST /transcript` with
//! their token: their newest conversation as text, messages only (a visitor's
//! transcript never reads the notes table).

use std::collections::HashMap;

use actix_session::Session;
use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{format_time, render, Chrome};
use crate::chat::messages::{Access, AgentCard};
use crate::chat::protocol::{FileView, LabelRef, MessageView};
use crate::chat::ChatContext;
use crate::domain::{visitor::token_hash, ConversationId, Sender};
use crate::storage::transcripts::{self, Transcript, MAX_MESSAGES};
use crate::storage::{agents, visitors, StorageError};
use crate::web::auth::CurrentAgent;
use crate::web::error::WebError;
use crate::web::i18n::Lang;
use crate::web::state::AppState;

/// One line of a transcript, messages and notes in conversation order, and
/// the changes of owner where they happened.
struct Line {
    time: String,
    who: String,
    body: String,
    note: bool,
    /// A change of owner (no `who`): `body` says what happened.
    event: bool,
    files: Vec<FileView>,
}

type Names = HashMap<i64, String>;

fn lines(
    t: &Transcript,
    names: &Names,
    visitor: &str,
    lang: Lang,
) -> Vec<(Line, Option<MessageView>)> {
    let name = |id: Option<i64>| {
        id.and_then(|a| names.get(&a).cloned())
            .unwrap_or_else(|| "—".into())
    };
    let mut all: Vec<(i64, u8, i64, chrono::NaiveDateTime, Line, MessageView)> = t
        .messages
        .iter()
        .map(|m| {
            let who = match m.sender {
                Sender::Visitor => visitor.to_owned(),
                Sender::Agent => name(m.agent_id.map(|a| a.0)),
                Sender::System => "livedesk".into(),
            };
            let line = Line {
                time: format_time(Some(m.created_at), ""),
                who,
                body: m.body.clone(),
                note: false,
                event: false,
                files: sent_with(t, m.client_id.as_deref(), false),
            };
            let mut view = MessageView::from(m);
            view.files = line.files.clone();
            (m.seq, 0, m.id.0, m.created_at, line, view)
        })
        .chain(t.notes.iter().map(|n| {
            let line = Line {
                time: format_time(Some(n.created_at), ""),
                who: name(n.agent_id),
                body: n.body.clone(),
                note: true,
                event: false,
                files: sent_with(t, Some(&n.client_id), true),
            };
            let mut view = MessageView::note(n);
            view.files = line.files.clone();
            (n.seq, 1, n.id, n.created_at, line, view)
        }))
        .collect();
    all.sort_by_key(|(s, k, id, ..)| (*s, *k, *id));
    let s = lang.strings();
    let mut events = t.events.iter().peekable();
    let mut out = Vec::with_capacity(all.len() + t.events.len());
    let event_line = |e: &crate::storage::events::Event| {
        let body = match (e.kind.as_str(), e.from_agent_id) {
            ("assigned", Some(f)) => s
                .ev_transferred
                .replace("{from}", &name(Some(f)))
                .replace("{name}", &name(e.agent_id)),
            ("assigned", None) => s.ev_assigned.replace("{name}", &name(e.agent_id)),
            ("queued", _) => s.ev_queued.to_owned(),
            _ => s.ev_closed.to_owned(),
        };
        Line {
            time: format_time(Some(e.at), ""),
            who: String::new(),
            body,
            note: false,
            event: true,
            files: Vec::new(),
        }
    };
    for (_, _, _, at, line, view) in all {
        while let Some(e) = events.next_if(|e| e.at < at) {
            out.push((event_line(e), None));
        }
        out.push((line, Some(view)));
    }
    out.extend(events.map(|e| (event_line(e), None)));
    out
}

/// The files sent with one message (or note) of `t`.
fn sent_with(t: &Transcript, client_id: Option<&str>, private: bool) -> Vec<FileView> {
    t.files
        .iter()
        .filter(|f| {
            f.private == private && client_id.is_some() && f.client_id.as_deref() == client_id
        })
        .map(FileView::from)
        .collect()
}

fn as_text(
    t: &Transcript,
    lines: &[(Line, Option<MessageView>)],
    lang: Lang,
    visitor: &str,
) -> String {
    let s = lang.strings();
    let mut out = format!(
        "{} #{} · {}{}\n",
        s.transcript_title,
        t.conversation.id,
        visitor,
        t.visitor
            .email
            .as_deref()
            .map(|e| format!(" <{e}>"))
            .unwrap_or_default()
    );
    if !t.labels.is_empty() {
        let names: Vec<&str> = t.labels.iter().map(|l| l.name.as_str()).collect();
        out.push_str(&format!("{}: {}\n", s.col_labels, names.join(", ")));
    }
    out.push('\n');
    for (l, _) in lines {
        if l.event {
            out.push_str(&format!("[{}] — {}\n", l.time, l.body));
            continue;
        }
        let mark = if l.note {
            format!(" ({})", s.js.note_label)
        } else {
            String::new()
        };
        out.push_str(&format!("[{}] {}{}: {}\n", l.time, l.who, mark, l.body));
        for f in &l.files {
            out.push_str(&format!(
                "    [{}: {}, {}]\n",
                s.file_word,
                f.name,
                f.size_text()
            ));
        }
    }
    if t.messages.len() as i64 >= MAX_MESSAGES {
        out.push_str(&format!("\n{}\n", s.transcript_cut));
    }
    out
}

fn visitor_name(t: &Transcript, lang: Lang) -> String {
    t.visitor
        .name
        .clone()
        .unwrap_or_else(|| format!("{} #{}", lang.strings().visitor_word, t.visitor.id))
}

/// The transcript, if `agent` may read the conversation.
async fn readable(
    agent: &agents::Agent,
    id: ConversationId,
    state: &AppState,
    chat: &ChatContext,
) -> Result<(Transcript, HashMap<i64, String>), WebError> {
    let card = AgentCard::of(agent);
    let access = chat.authorize(&card, id, false).await;
    let loaded = state
        .storage
        .run(move |db| {
            let t = transcripts::for_agent(db, id)?;
            let names = agents::list(db)?
                .into_iter()
                .map(|a| (a.id.0, a.display_name))
                .collect();
            Ok((t, names))
        })
        .await;
    let (t, names) = match loaded {
        Ok(x) => x,
        Err(StorageError::NotFound) => return Err(WebError::NotFound),
        Err(e) => return Err(e.into()),
    };
    let last_owner = t.conversation.assignment.agent == Some(agent.id);
    match access {
        Ok(Access::Granted) => Ok((t, names)),
        Ok(Access::NotLive) if card.is_admin || last_owner => Ok((t, names)),
        _ => Err(WebError::NotFound),
    }
}

#[derive(Template)]
#[template(path = "transcript.html")]
struct TranscriptPage {
    c: Chrome,
    id: i64,
    visitor: String,
    email: String,
    status: &'static str,
    labels: Vec<LabelRef>,
    lines: Vec<Line>,
    cut: bool,
}

pub async fn page(
    req: HttpRequest,
    s: Session,
    lang: Lang,
    a: CurrentAgent,
    state: web::Data<AppState>,
    chat: web::Data<ChatContext>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let (t, names) = readable(&a.0, ConversationId(*id), &state, &chat).await?;
    let visitor = visitor_name(&t, lang);
    let cut = t.messages.len() as i64 >= MAX_MESSAGES;
    let page = TranscriptPage {
        c: Chrome::for_agent(lang, req.path(), &a.0, &s)?,
        id: t.conversation.id.0,
        email: t.visitor.email.clone().unwrap_or_default(),
        status: t.conversation.assignment.status.as_str(),
        labels: t.labels.iter().map(LabelRef::from).collect(),
        lines: lines(&t, &names, &visitor, lang)
            .into_iter()
            .map(|(l, _)| l)
            .collect(),
        visitor,
        cut,
    };
    render(StatusCode::OK, &page)
}

fn download(body: String, content_type: &str, name: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}\""),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(body)
}

/// GET …/transcript.txt and …/transcript.json (`ext`).
pub async fn file(
    lang: Lang,
    a: CurrentAgent,
    state: web::Data<AppState>,
    chat: web::Data<ChatContext>,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, WebError> {
    let (id, ext) = path.into_inner();
    if ext != "txt" && ext != "json" {
        return Err(WebError::NotFound);
    }
    let (t, names) = readable(&a.0, ConversationId(id), &state, &chat).await?;
    let visitor = visitor_name(&t, lang);
    let ls = lines(&t, &names, &visitor, lang);
    let name = format!("conversation-{}.{ext}", t.conversation.id);
    if ext == "txt" {
        let body = as_text(&t, &ls, lang, &visitor);
        return Ok(download(body, "text/plain; charset=utf-8", &name));
    }
    let messages: Vec<MessageView> = ls.into_iter().filter_map(|(_, v)| v).collect();
    let events: Vec<serde_json::Value> = t
        .events
        .iter()
        .map(|e| {
            serde_json::json!({"kind": e.kind, "agent_id": e.agent_id,
                               "from_agent_id": e.from_agent_id,
                               "at": crate::chat::protocol::rfc3339(e.at)})
        })
        .collect();
    let body = serde_json::json!({
        "conversation": {
            "id": t.conversation.id.0,
            "status": t.conversation.assignment.status,
            "created_at": crate::chat::protocol::rfc3339(t.conversation.created_at),
            "labels": t.labels.iter().map(LabelRef::from).collect::<Vec<_>>(),
        },
        "visitor": {"id": t.visitor.id.0, "name": t.visitor.name, "email": t.visitor.email},
        "messages": messages,
        "events": events,
    });
    Ok(download(body.to_string(), "application/json", &name))
}

#[derive(Deserialize)]
pub struct VisitorForm {
    #[serde(default)]
    token: String,
}

/// POST /transcript (form `token`): the visitor's newest conversation, its
/// messages only. `404` for an unknown token or a visitor with none.
pub async fn for_visitor(
    lang: Lang,
    state: web::Data<AppState>,
    form: web::Form<VisitorForm>,
) -> Result<HttpResponse, WebError> {
    let token = form.into_inner().token;
    if token.is_empty() || token.len() > 128 {
        return Err(WebError::NotFound);
    }
    let hash = token_hash(&token);
    let loaded = state
        .storage
        .run(move |db| {
            let v = visitors::find_by_token_hash(db, &hash)?.ok_or(StorageError::NotFound)?;
            let t = transcripts::for_visitor(db, v.id)?;
            let names = agents::list(db)?
                .into_iter()
                .map(|a| (a.id.0, a.display_name))
                .collect::<HashMap<_, _>>();
            Ok((t, names))
        })
        .await;
    let (t, names) = match loaded {
        Ok(x) => x,
        Err(StorageError::NotFound) => return Err(WebError::NotFound),
        Err(e) => return Err(e.into()),
    };
    let visitor = visitor_name(&t, lang);
    let ls = lines(&t, &names, &visitor, lang);
    let name = format!("conversation-{}.txt", t.conversation.id);
    Ok(download(
        as_text(&t, &ls, lang, &visitor),
        "text/plain; charset=utf-8",
        &name,
    ))
}
