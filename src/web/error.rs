//! One error type for the web layer's pages, and the middleware that turns
//! every 4xx/5xx plain-text body (ours or actix's own) into a page in the
//! visitor's language. The JSON endpoints (files) answer `ApiError` instead:
//! scripts read a code, not a page.

use actix_web::{
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::{header, StatusCode},
    middleware::Next,
    HttpResponse, ResponseError,
};
use askama::Template;

use super::chrome::Chrome;
use super::i18n::{Lang, Strings};
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("bad request")]
    BadRequest,
    #[error("missing or wrong CSRF token")]
    Csrf,
    #[error("login required")]
    LoginRequired,
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("payload too large")]
    TooLarge,
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    #[error("session: {0}")]
    Session(String),
    /// A part of this node the request needs (the Dispatcher) did not answer.
    #[error("unavailable: {0}")]
    Unavailable(&'static str),
    #[error("template: {0}")]
    Template(#[from] askama::Error),
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebError::BadRequest => StatusCode::BAD_REQUEST,
            WebError::Csrf | WebError::Forbidden => StatusCode::FORBIDDEN,
            WebError::LoginRequired => StatusCode::SEE_OTHER,
            WebError::NotFound | WebError::Storage(StorageError::NotFound) => StatusCode::NOT_FOUND,
            WebError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            WebError::Storage(
                StorageError::Pool(_) | StorageError::Unavailable(_) | StorageError::BatchFailed(_),
            )
            | WebError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let mut res = HttpResponse::build(status);
        if let WebError::LoginRequired = self {
            res.insert_header((header::LOCATION, "/login"));
        }
        res.insert_header(ErrorPageKind::from(self));
        res.content_type("text/plain; charset=utf-8")
            .body(status.to_string())
    }
}

/// Which sentence the error page shows; travels from `error_response` to the
/// page middleware in a private header, removed before the response leaves.
#[derive(Debug, Clone, Copy)]
enum ErrorPageKind {
    Csrf,
    Default,
}

const KIND_HEADER: &str = "x-livedesk-error-kind";

impl From<&WebError> for ErrorPageKind {
    fn from(e: &WebError) -> Self {
        match e {
            WebError::Csrf => ErrorPageKind::Csrf,
            _ => ErrorPageKind::Default,
        }
    }
}

impl header::TryIntoHeaderPair for ErrorPageKind {
    type Error = std::convert::Infallible;
    fn try_into_pair(self) -> Result<(header::HeaderName, header::HeaderValue), Self::Error> {
        let v = match self {
            ErrorPageKind::Csrf => "csrf",
            ErrorPageKind::Default => "default",
        };
        Ok((
            header::HeaderName::from_static(KIND_HEADER),
            header::HeaderValue::from_static(v),
        ))
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    c: Chrome,
    status: u16,
    message: &'a str,
}

fn message_for(t: &'static Strings, status: StatusCode, csrf: bool) -> &'static str {
    match status.as_u16() {
        _ if csrf => t.err_csrf,
        400 => t.err_bad_request,
        401 | 403 => t.err_forbidden,
        404 => t.err_not_found,
        405 => t.err_method,
        413 => t.err_too_large,
        429 => t.err_rate_limited,
        503 => t.err_unavailable,
        s if s >= 500 => t.err_internal,
        _ => t.err_bad_request,
    }
}

/// Middleware: while the database is unreachable every page answers 503 at
/// once (a page in the reader's language, from `error_pages`), never a
/// half-done page or a 500 from a session it cannot save. What needs no
/// database, or reports on it, still answers: health, metrics, assets, the
/// loader, and the sockets (which say `unavailable` in their own protocol).
pub async fn while_database_down(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let down = req
        .app_data::<actix_web::web::Data<super::AppState>>()
        .is_some_and(|s| !s.storage.reachable());
    let path = req.path();
    let exempt = matches!(path, "/healthz" | "/metrics" | "/widget.js")
        || path.starts_with("/static/")
        || path.starts_with("/ws/");
    if down && path.starts_with("/api/") {
        let res = ApiError::UNAVAILABLE.error_response();
        return Ok(req.into_response(res));
    }
    if down && !exempt {
        let res = WebError::Unavailable("database").error_response();
        return Ok(req.into_response(res));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// Middleware: replaces plain-text error bodies with a localized HTML page.
/// Responses that already carry HTML (a form shown again with its error) or
/// JSON/other types, and redirects, pass unchanged.
pub async fn error_pages(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    // Read what the page needs now: the request must not be cloned before routing.
    let lang = Lang::of_request(req.request());
    let path = req.path().to_owned();
    let mut res = next.call(req).await?.map_into_boxed_body();
    let status = res.status();
    let kind = res.headers_mut().remove(KIND_HEADER).next();
    if !(status.is_client_error() || status.is_server_error()) {
        return Ok(res);
    }
    let plain = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|ct| ct.starts_with("text/plain"));
    if !plain {
        return Ok(res);
    }
    let t = lang.strings();
    let csrf = kind.is_some_and(|k| k == "csrf");
    let page = ErrorPage {
        c: Chrome::anonymous(lang, &path),
        status: status.as_u16(),
        message: message_for(t, status, csrf),
    };
    let html = page
        .render()
        .unwrap_or_else(|_| message_for(t, status, csrf).to_owned());
    Ok(res.map_body(|head, _| {
        head.headers.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("text/html; charset=utf-8"),
        );
        head.headers.insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
        // The same protection as every other page: no scripts, no framing.
        head.headers.insert(
            header::CONTENT_SECURITY_POLICY,
            header::HeaderValue::from_static(super::chrome::PAGE_CSP_NO_FRAMES),
        );
        head.headers.insert(
            header::X_FRAME_OPTIONS,
            header::HeaderValue::from_static("DENY"),
        );
        BoxBody::new(html)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_of_the_node_that_is_gone_is_503_not_500() {
        let batch = StorageError::BatchFailed(std::sync::Arc::new(StorageError::NotFound));
        for e in [
            WebError::Unavailable("dispatcher"),
            WebError::Storage(StorageError::Unavailable("message writer stopped")),
            WebError::Storage(batch),
        ] {
            assert_eq!(e.status_code(), StatusCode::SERVICE_UNAVAILABLE, "{e}");
        }
        assert_eq!(
            WebError::Session("x".into()).status_code(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            crate::chat::messages::ChatError::Unavailable.code(),
            crate::chat::protocol::code::UNAVAILABLE
        );
    }
}

/// An error of a JSON endpoint: `{"error": {"code": …, "message": …}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: &'static str,
}

impl ApiError {
    pub const fn new(status: StatusCode, code: &'static str, message: &'static str) -> Self {
        Self {
            status,
            code,
            message,
        }
    }
    pub const NOT_FOUND: ApiError = ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such file, or not yours to see",
    );
    pub const UNAVAILABLE: ApiError = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "please try again shortly",
    );
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound => ApiError::NOT_FOUND,
            StorageError::Pool(_) | StorageError::Unavailable(_) | StorageError::BatchFailed(_) => {
                ApiError::UNAVAILABLE
            }
            other => {
                tracing::error!(error = %other, "request failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "something went wrong on our side",
                )
            }
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }
    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status)
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(serde_json::json!({"error": {"code": self.code, "message": self.message}}))
    }
}
