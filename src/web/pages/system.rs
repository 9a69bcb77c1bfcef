//! Health, metrics, static assets and the language switch.

use actix_web::{cookie::Cookie, http::header, web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::metrics::Metrics;
use crate::storage::settings;
use crate::web::error::WebError;
use crate::web::i18n::{Lang, LANG_COOKIE};
use crate::web::AppState;

/// 200 when the database answers a query on a real table within two seconds, 503 otherwise.
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let probe = state
        .storage
        .run(|c| settings::get(c, "session_key").map(|_| ()));
    match tokio::time::timeout(std::time::Duration::from_secs(2), probe).await {
        Ok(Ok(())) => HttpResponse::Ok()
            .content_type("application/json")
            .body(r#"{"status":"ok","database":"ok"}"#),
        outcome => {
            let why = match outcome {
                Ok(Err(e)) => e.to_string(),
                _ => "timeout".into(),
            };
            tracing::warn!(error = %why, "health check failed");
            HttpResponse::ServiceUnavailable()
                .content_type("application/json")
                .body(r#"{"status":"unavailable","database":"unreachable"}"#)
        }
    }
}

pub async fn metrics(m: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(m.render())
}

const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// Assets are compiled into the binary: one file to deploy, nothing fetched from elsewhere.
pub async fn static_file(path: web::Path<String>) -> Result<HttpResponse, WebError> {
    let (body, ctype): (&'static str, &str) = match path.as_str() {
        "app.css" => (include_str!("../../../static/app.css"), CSS),
        "widget.css" => (include_str!("../../../static/widget.css"), CSS),
        "visitor.js" => (include_str!("../../../static/visitor.js"), JS),
        "dashboard.js" => (include_str!("../../../static/dashboard.js"), JS),
        "admin.js" => (include_str!("../../../static/admin.js"), JS),
        _ => return Err(WebError::NotFound),
    };
    Ok(HttpResponse::Ok()
        .content_type(ctype)
        // Short: a new release must reach agents and visitors the same day.
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(body))
}

#[derive(Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// GET /lang/{code}?next=/path: remembers the choice in a cookie and goes back.
pub async fn set_lang(
    req: HttpRequest,
    code: web::Path<String>,
    q: web::Query<Next>,
) -> Result<HttpResponse, WebError> {
    let lang = Lang::from_code(&code).ok_or(WebError::NotFound)?;
    // Only local paths: never an open redirect to another site.
    let next = q
        .next
        .as_deref()
        .filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or("/");
    let secure = req.connection_info().scheme() == "https";
    let cookie = Cookie::build(LANG_COOKIE, lang.code())
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(actix_web::cookie::SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::days(365))
        .finish();
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, next))
        .cookie(cookie)
        .finish())
}
