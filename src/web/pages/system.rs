//! Health, metrics, static assets and the language switch.

use actix_web::{cookie::Cookie, http::header, web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::metrics::Metrics;
use crate::storage::settings;
use crate::web::error::WebError;
use crate::web::i18n::{Lang, LANG_COOKIE};
use crate::web::state::AppState;

/// 200 when the database answers a query on a real table within two seconds, 503 otherwise.
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let probe = state
        .storage
        .run(|c| settings::get(c, "session_key").map(|_| ()));
    match tokio::time::timeout(std::time::Duration::from_secs(2), probe).await {
        // The database answers: this node serves. In a cluster, Redis away
        // is "degraded": messages are still stored and acknowledged here.
        Ok(Ok(())) => {
            let body = match &state.cluster {
                None => r#"{"status":"ok","database":"ok"}"#,
                Some(bus) if bus.connected() => r#"{"status":"ok","database":"ok","redis":"ok"}"#,
                Some(_) => r#"{"status":"degraded","database":"ok","redis":"unreachable"}"#,
            };
            HttpResponse::Ok()
                .content_type("application/json")
                .body(body)
        }
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

/// GET /metrics: Prometheus text; with `LIVEDESK_METRICS_TOKEN` set, only for
/// `Authorization: Bearer <token>` (compared in constant time).
pub async fn metrics(
    req: HttpRequest,
    m: web::Data<Metrics>,
    state: web::Data<AppState>,
    chat: web::Data<crate::chat::ChatContext>,
) -> HttpResponse {
    if let Some(token) = &state.metrics_token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !crate::web::session::constant_time_eq(given.as_bytes(), token.expose().as_bytes()) {
            return HttpResponse::Unauthorized()
                .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
                .content_type("text/plain; charset=utf-8")
                .body("metrics need a token");
        }
    }
    // The Desk's gauges as they are now; a Dispatcher that does not answer
    // within a second leaves them as they were.
    let fresh = chat.dispatcher.send(crate::chat::messages::RefreshGauges);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), fresh).await;
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
        "desk-parts.js" => (include_str!("../../../static/desk-parts.js"), JS),
        "rooms.js" => (include_str!("../../../static/rooms.js"), JS),
        "canned.js" => (include_str!("../../../static/canned.js"), JS),
        "labels.js" => (include_str!("../../../static/labels.js"), JS),
        "shared.js" => (include_str!("../../../static/shared.js"), JS),
        "files.js" => (include_str!("../../../static/files.js"), JS),
        "desk-files.js" => (include_str!("../../../static/desk-files.js"), JS),
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

/// `next` as a path on this site, normalised as a browser would read it, or
/// `None`: never a redirect to another site (`//host`, `/\\host`, `/\t/host`
/// all name one), never a header built from control characters.
pub fn local_path(next: &str) -> Option<String> {
    if !next.starts_with('/') || next.chars().any(|c| c.is_control() || c == '\\') {
        return None;
    }
    let base = url::Url::parse("http://livedesk.invalid/").ok()?;
    let url = base.join(next).ok()?;
    if url.origin() != base.origin() {
        return None;
    }
    // The parsed form is percent-encoded ASCII: safe in a header.
    let mut out = url.path().to_owned();
    if out.starts_with("//") {
        return None;
    }
    if let Some(q) = url.query() {
        out.push('?');
        out.push_str(q);
    }
    Some(out)
}

/// GET /lang/{code}?next=/path: remembers the choice in a cookie and goes back.
pub async fn set_lang(
    req: HttpRequest,
    code: web::Path<String>,
    q: web::Query<Next>,
) -> Result<HttpResponse, WebError> {
    let lang = Lang::from_code(&code).ok_or(WebError::NotFound)?;
    let next = q.next.as_deref().and_then(local_path);
    let next = next.as_deref().unwrap_or("/");
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

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_paths_on_this_site_are_followed() {
        assert_eq!(local_path("/agent").as_deref(), Some("/agent"));
        assert_eq!(
            local_path("/admin/agents?x=1").as_deref(),
            Some("/admin/agents?x=1")
        );
        assert_eq!(local_path("/caf\u{e9}").as_deref(), Some("/caf%C3%A9"));
        for bad in [
            "//evil.example/",
            "/\t/evil.example/",
            "/\n/evil.example/",
            "/\\evil.example",
            "/\r\nX: y",
            "https://evil.example/",
            "evil.example",
            "",
            "/%0aX:%20y\n",
        ] {
            assert_eq!(local_path(bad), None, "{bad:?}");
        }
        // Dot segments cannot climb out to another host.
        assert_eq!(local_path("/..//evil.example"), None);
    }
}
