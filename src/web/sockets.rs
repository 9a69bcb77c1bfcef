//! WebSocket upgrades: `/ws/visitor` (any site may embed the widget) and
//! `/ws/agent` (a signed-in agent, from this site only).

use actix_web::{http::header, web, HttpRequest, HttpResponse};

use super::auth::CurrentAgent;
use crate::chat::agent_session::AgentSession;
use crate::chat::protocol::{code, ErrorBody, VisitorOut};
use crate::chat::socket::MAX_FRAME;
use crate::chat::visitor_session::VisitorSession;
use crate::chat::ChatContext;

fn streams(
    req: &HttpRequest,
    body: web::Payload,
) -> actix_web::Result<(
    HttpResponse,
    actix_ws::Session,
    actix_ws::AggregatedMessageStream,
)> {
    let (res, session, stream) = actix_ws::handle(req, body)?;
    let stream = stream
        .max_frame_size(MAX_FRAME)
        .aggregate_continuations()
        .max_continuation_size(MAX_FRAME);
    Ok((res, session, stream))
}

pub async fn visitor(
    req: HttpRequest,
    body: web::Payload,
    chat: web::Data<ChatContext>,
    state: web::Data<super::state::AppState>,
) -> actix_web::Result<HttpResponse> {
    let ip = super::auth::client_addr(&req, &state.proxy)
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let (res, mut session, stream) = streams(&req, body)?;
    let Some(slot) = chat.visitor_limits.open_socket(ip) else {
        // Told in a frame a browser can read, then closed: "try again later".
        tracing::warn!(%ip, "visitor socket refused: address over its limit");
        let frame = ErrorBody::new(
            code::TOO_MANY_CONNECTIONS,
            "too many chat connections from your network; try again later",
        );
        let text = serde_json::to_string(&VisitorOut::Error(frame)).unwrap_or_default();
        actix_rt::spawn(async move {
            let _ = session.text(text).await;
            let _ = session
                .close(Some(actix_ws::CloseReason {
                    code: actix_ws::CloseCode::Again,
                    description: Some("too many connections".into()),
                }))
                .await;
            drop(stream);
        });
        return Ok(res);
    };
    let ua = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(512).collect());
    VisitorSession::start(chat.into_inner(), session, stream, ua, ip, slot);
    Ok(res)
}

/// A browser always sends `Origin` on a WebSocket; it must be this site. Tools
/// that send none are let through: they still need the session cookie.
pub fn same_origin(req: &HttpRequest) -> bool {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return true;
    };
    let Some(origin) = origin.to_str().ok().and_then(|o| url::Url::parse(o).ok()) else {
        return false;
    };
    let Some(host) = origin.host_str() else {
        return false;
    };
    let origin_host = match origin.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    };
    origin_host.eq_ignore_ascii_case(req.connection_info().host())
}

pub async fn agent(
    req: HttpRequest,
    body: web::Payload,
    chat: web::Data<ChatContext>,
    agent: Option<CurrentAgent>,
    s: actix_session::Session,
) -> actix_web::Result<HttpResponse> {
    if !same_origin(&req) {
        return Ok(HttpResponse::Forbidden()
            .content_type("text/plain")
            .body("cross-origin socket refused"));
    }
    let Some(CurrentAgent(agent)) = agent else {
        return Ok(HttpResponse::Unauthorized()
            .content_type("text/plain")
            .body("sign in first"));
    };
    // The socket lives as long as this sign-in does.
    let login = super::session::login_id_or_new(&s)?;
    let (res, session, stream) = streams(&req, body)?;
    AgentSession::start(chat.into_inner(), session, stream, &agent, login);
    Ok(res)
}
