//! Files over HTTP, with the sockets' credentials. Upload: the file as the
//! raw request body, its name in `?name=`; a visitor's `POST /files` with
//! `Authorization: Bearer <token>`, an agent's `POST /agent/files?conversation_id=N`
//! with its session and `X-CSRF-Token`. The answer (201) is the file as
//! messages carry it; its `id` goes in the next `message` frame. Download:
//! `GET /files/{id}`, for whoever may see it, else `404`.
//!
//! Refusals come before the body is read where they can: a
//! `Content-Length` over the limit at once, a type not taken after the first
//! 8 KiB. What the file is, is decided from its bytes, never the client's word.

use actix_session::Session;
use actix_web::http::header::{
    self, Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::error::ApiError;
use super::{session, AppState};
use crate::chat::limits::PerMinute;
use crate::chat::messages::{Access, AgentCard};
use crate::chat::protocol::FileView;
use crate::chat::ChatContext;
use crate::domain::attachment::{clean_name, served_as, shown_inline, sniff, Allowed};
use crate::domain::visitor::token_hash;
use crate::domain::{ConversationId, Visitor, VisitorId};
use crate::storage::attachments::{self, NewAttachment, Party};
use crate::storage::files::{FileError, FileStore};
use crate::storage::{agents, conversations, visitors, StorageError};

/// The upload settings and the file store, shared by the HTTP workers.
pub struct Uploads {
    pub store: FileStore,
    pub max_bytes: u64,
    pub allowed: Allowed,
    /// Uploads per visitor per minute (`LIVEDESK_UPLOADS_PER_MINUTE`).
    pub per_visitor: PerMinute<i64>,
}

const TOO_LARGE: ApiError = ApiError::new(
    StatusCode::PAYLOAD_TOO_LARGE,
    "too_large",
    "the file is larger than this server accepts",
);
const UNSUPPORTED: ApiError = ApiError::new(
    StatusCode::UNSUPPORTED_MEDIA_TYPE,
    "unsupported_type",
    "this type of file is not accepted",
);
const UNAUTHORIZED: ApiError = ApiError::new(
    StatusCode::UNAUTHORIZED,
    "unauthorized",
    "sign in (agents) or send your visitor token",
);

#[derive(Deserialize)]
pub struct UploadQuery {
    #[serde(default)]
    name: String,
    #[serde(default)]
    conversation_id: Option<i64>,
}

/// POST /files: a visitor's upload.
pub async fn visitor_upload(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<UploadQuery>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let visitor = visitor_of(&req, &state).await?.ok_or(UNAUTHORIZED)?;
    if state.identity_required && !visitor.verified {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            crate::chat::protocol::code::IDENTITY_INVALID,
            "this site accepts files from verified visitors only",
        ));
    }
    if !state
        .uploads
        .per_visitor
        .take(visitor.id.0, state.clock.now())
    {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many files at once; send this one again in a minute",
        ));
    }
    let by = Party::Visitor(visitor.id);
    upload(&req, &state, (visitor.id, None, by), &q.name, body).await
}

/// POST /agent/files?conversation_id=N: an agent's upload into a
/// conversation it may write to.
pub async fn agent_upload(
    req: HttpRequest,
    s: Session,
    state: web::Data<AppState>,
    chat: web::Data<ChatContext>,
    q: web::Query<UploadQuery>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let agent = agent_of(&s, &state).await?.ok_or(UNAUTHORIZED)?;
    let token = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    session::check_csrf(&s, token).map_err(|_| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "missing or wrong X-CSRF-Token",
        )
    })?;
    let id = ConversationId(q.conversation_id.ok_or(ApiError::NOT_FOUND)?);
    let card = AgentCard::of(&agent);
    if !matches!(chat.authorize(&card, id, true).await, Ok(Access::Granted)) {
        return Err(ApiError::NOT_FOUND);
    }
    let conv = state
        .storage
        .run(move |db| conversations::find(db, id))
        .await?;
    let by = Party::Agent(agent.id);
    upload(&req, &state, (conv.visitor_id, Some(id), by), &q.name, body).await
}

/// Streams a request's body into the file store (refused past the size
/// limit or for a type not taken) and records whose it is.
pub(crate) async fn upload(
    req: &HttpRequest,
    state: &AppState,
    (visitor, conversation, by): (VisitorId, Option<ConversationId>, Party),
    name: &str,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let uploads = &state.uploads;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > uploads.max_bytes) {
        return Err(TOO_LARGE);
    }
    let accept = |head: &[u8]| uploads.allowed.allows(sniff(head));
    let written = match uploads.store.write(body, uploads.max_bytes, &accept).await {
        Ok(w) => w,
        Err(FileError::TooLarge(_)) => return Err(TOO_LARGE),
        Err(FileError::Refused) => return Err(UNSUPPORTED),
        Err(FileError::Empty) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "empty",
                "the file is empty",
            ))
        }
        Err(FileError::Body(_)) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_body",
                "the upload broke off",
            ))
        }
        Err(e @ FileError::Io(_)) => {
            tracing::error!(error = %e, "storing an upload failed");
            return Err(ApiError::UNAVAILABLE);
        }
    };
    let (name, mime, now) = (
        clean_name(name),
        sniff(&written.head).mime,
        state.clock.now_naive(),
    );
    let stored = state
        .storage
        .run(move |db| {
            let new = NewAttachment {
                visitor,
                conversation,
                by,
                sha256: &written.sha256,
                name: &name,
                mime,
                size: written.size,
            };
            attachments::insert(db, &new, now)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(FileView::from(&stored)))
}

/// GET /files/{id}: the visitor (by token) its own and its agents' files,
/// agents those of conversations they may read, admins all; a note's file
/// never to the visitor.
pub async fn download(
    req: HttpRequest,
    s: Session,
    state: web::Data<AppState>,
    chat: web::Data<ChatContext>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let file = state
        .storage
        .run(move |db| attachments::find(db, id))
        .await?;
    let allowed = if bearer(&req).is_some() {
        let v = visitor_of(&req, &state).await?;
        v.is_some_and(|v| file.visible_to_visitor(v.id))
    } else {
        match agent_of(&s, &state).await? {
            Some(a) if a.is_admin() => true,
            Some(a) => {
                let unsent_by_other = file.client_id.is_none() && file.agent_id != Some(a.id.0);
                match file.conversation_id {
                    Some(c) if !unsent_by_other => {
                        let card = AgentCard::of(&a);
                        chat.readable(&card, ConversationId(c)).await?.is_some()
                    }
                    _ => false,
                }
            }
            None => false,
        }
    };
    if !allowed {
        return Err(ApiError::NOT_FOUND);
    }
    let path = state.uploads.store.path(&file.sha256);
    let opened = match path {
        Some(p) => tokio::fs::File::open(p).await,
        None => Err(std::io::ErrorKind::NotFound.into()),
    };
    let f = opened.map_err(|e| {
        tracing::warn!(error = %e, file = file.id, "an attachment's bytes are missing");
        ApiError::NOT_FOUND
    })?;
    let inline = shown_inline(&file.mime);
    let disposition = ContentDisposition {
        disposition: if inline {
            DispositionType::Inline
        } else {
            DispositionType::Attachment
        },
        parameters: vec![
            DispositionParam::Filename(file.name.replace(|c: char| !c.is_ascii(), "_")),
            DispositionParam::FilenameExt(ExtendedValue {
                charset: Charset::Ext("UTF-8".into()),
                language_tag: None,
                value: file.name.clone().into_bytes(),
            }),
        ],
    };
    Ok(HttpResponse::Ok()
        .content_type(served_as(&file.mime))
        .insert_header(disposition)
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        // Even opened on its own, a file is an inert document.
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; img-src 'self'; sandbox",
        ))
        .insert_header((header::CACHE_CONTROL, "private, max-age=3600"))
        .no_chunking(file.size as u64)
        .streaming(tokio_util::io::ReaderStream::new(f)))
}

fn bearer(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The visitor whose token the request carries (`None`: none, or unknown).
async fn visitor_of(req: &HttpRequest, state: &AppState) -> Result<Option<Visitor>, ApiError> {
    let Some(token) = bearer(req).filter(|t| !t.is_empty() && t.len() <= 128) else {
        return Ok(None);
    };
    let hash = token_hash(token);
    Ok(state
        .storage
        .run(move |db| visitors::find_by_token_hash(db, &hash))
        .await?)
}

/// The signed-in, active agent of this session.
async fn agent_of(s: &Session, state: &AppState) -> Result<Option<agents::Agent>, ApiError> {
    let Some(id) = session::agent_id(s) else {
        return Ok(None);
    };
    match state.storage.run(move |db| agents::find(db, id)).await {
        Ok(a) if a.active => Ok(Some(a)),
        Ok(_) | Err(StorageError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
