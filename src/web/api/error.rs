//! The API's errors: `{"error": {"code": …, "message": …}}`, with the
//! socket protocol's codes, a status that says the same, never a trace.

use std::borrow::Cow;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use crate::chat::messages::ChatError;
use crate::chat::protocol::{code, ErrorBody};
use crate::storage::StorageError;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiErr {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: Cow<'static, str>,
}

impl ApiErr {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            code::NOT_FOUND,
            "no such thing, or not yours to see",
        )
    }

    pub fn unauthorized(message: &'static str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: &'static str) -> Self {
        Self::new(StatusCode::FORBIDDEN, code::FORBIDDEN, message)
    }

    pub fn conflict(message: &'static str) -> Self {
        Self::new(StatusCode::CONFLICT, code::CONFLICT, message)
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            code::UNAVAILABLE,
            "please try again shortly",
        )
    }
}

/// The status that goes with a socket protocol code.
fn status_of(code: &str) -> StatusCode {
    match code {
        code::NOT_FOUND => StatusCode::NOT_FOUND,
        code::FORBIDDEN => StatusCode::FORBIDDEN,
        code::ALREADY_ASSIGNED
        | code::AT_CAPACITY
        | code::AGENT_OFFLINE
        | code::CLOSED
        | code::CONFLICT => StatusCode::CONFLICT,
        code::UNAVAILABLE => StatusCode::SERVICE_UNAVAILABLE,
        code::RATE_LIMITED | code::TOO_MANY_CONVERSATIONS => StatusCode::TOO_MANY_REQUESTS,
        code::IDENTITY_INVALID => StatusCode::FORBIDDEN,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

impl From<ErrorBody> for ApiErr {
    fn from(e: ErrorBody) -> Self {
        ApiErr::new(status_of(e.code), e.code, e.message)
    }
}

impl From<ChatError> for ApiErr {
    fn from(e: ChatError) -> Self {
        ApiErr::new(status_of(e.code()), e.code(), e.to_string())
    }
}

impl From<crate::web::error::ApiError> for ApiErr {
    fn from(e: crate::web::error::ApiError) -> Self {
        ApiErr::new(e.status, e.code, e.message)
    }
}

impl From<actix::MailboxError> for ApiErr {
    fn from(_: actix::MailboxError) -> Self {
        ApiErr::unavailable()
    }
}

impl From<StorageError> for ApiErr {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound => ApiErr::not_found(),
            StorageError::Conflict => ApiErr::conflict("that conflicts with what is there"),
            StorageError::ConversationClosed => ApiErr::from(ChatError::Closed),
            StorageError::Pool(_) | StorageError::Unavailable(_) | StorageError::BatchFailed(_) => {
                ApiErr::unavailable()
            }
            other => {
                tracing::error!(error = %other, "API request failed");
                ApiErr::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "something went wrong on our side",
                )
            }
        }
    }
}

impl ResponseError for ApiErr {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status);
        r.insert_header((header::CACHE_CONTROL, "no-store"));
        if self.status == StatusCode::UNAUTHORIZED {
            r.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            r.insert_header((header::RETRY_AFTER, "1"));
        }
        r.json(serde_json::json!({"error": {"code": self.code, "message": self.message}}))
    }
}

/// Bodies: limited in size, unknown fields and malformed JSON refused with
/// what is wrong.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(super::BODY_LIMIT)
        .content_type_required(false)
        .error_handler(|err, _| {
            use actix_web::error::JsonPayloadError as J;
            let e = match &err {
                J::Overflow { .. } | J::OverflowKnownLength { .. } => ApiErr::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    "the body is larger than 64 KiB",
                ),
                J::Deserialize(d) if d.is_data() => {
                    ApiErr::new(StatusCode::BAD_REQUEST, "bad_request", d.to_string())
                }
                J::Deserialize(d) => {
                    ApiErr::new(StatusCode::BAD_REQUEST, code::BAD_JSON, d.to_string())
                }
                _ => ApiErr::new(
                    StatusCode::BAD_REQUEST,
                    code::BAD_JSON,
                    "the body is not JSON",
                ),
            };
            actix_web::error::InternalError::from_response(err, e.error_response()).into()
        })
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _| {
        let e = ApiErr::bad_request(err.to_string());
        actix_web::error::InternalError::from_response(err, e.error_response()).into()
    })
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, _| {
        actix_web::error::InternalError::from_response(err, ApiErr::not_found().error_response())
            .into()
    })
}

/// Any path or method under `/api/v1` that is not a route.
pub async fn no_route(req: HttpRequest) -> HttpResponse {
    ApiErr::new(
        StatusCode::NOT_FOUND,
        "no_route",
        format!("no route {} {}", req.method(), req.path()),
    )
    .error_response()
}
