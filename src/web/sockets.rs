//! WebSocket upgrades: `/ws/visitor` (any site may embed the widget) and
//! `/ws/agent` (a signed-in agent, from this site only).

use actix_web::{http::header, web, HttpRequest, HttpResponse};

use super::auth::CurrentAgent;
use super::upgrade::Accept;
use crate::chat::agent_session::AgentSession;
use crate::chat::protocol::{code, ErrorBody, VisitorOut};
use crate::chat::visitor_session::VisitorSession;
use crate::chat::ChatContext;
use crate::ws::{CloseCode, CloseReason, Outbound, Wire};

/// Answers the handshake; `then` gets the connection once the answer is
/// written (`super::upgrade`).
fn accept(req: &HttpRequest, then: impl FnOnce(Wire) + 'static) -> actix_web::Result<HttpResponse> {
    let mut res = match actix_http::ws::handshake(req.head()) {
        Ok(mut res) => res.finish().map_into_boxed_body(),
        Err(e) => return Ok(actix_http::Response::from(e).into()),
    };
    res.extensions_mut().insert(Accept::new(then));
    Ok(res.into())
}

pub async fn visitor(
    req: HttpRequest,
    chat: web::Data<ChatContext>,
    state: web::Data<super::state::AppState>,
) -> actix_web::Result<HttpResponse> {
    let ip = super::auth::client_addr(&req, &state.proxy)
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let Some(slot) = chat.visitor_limits.open_socket(ip) else {
        // Told in a frame a browser can read, then closed: "try again later".
        tracing::warn!(%ip, "visitor socket refused: address over its limit");
        let frame = ErrorBody::new(
            code::TOO_MANY_CONNECTIONS,
            "too many chat connections from your network; try again later",
        );
        let text = serde_json::to_string(&VisitorOut::Error(frame)).unwrap_or_default();
        return accept(&req, move |wire| {
            let mut out = wire.outgoing.spawn(2);
            let _ = out.try_send(Outbound::Text(text.into()));
            let _ = out.try_send(Outbound::Close(CloseReason {
                code: CloseCode::Again,
                description: Some("too many connections".into()),
            }));
        });
    };
    let ua = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(512).collect());
    let chat = chat.into_inner();
    // The language the widget asks a visitor in (its `locale`, else the browser's).
    let lang = crate::web::i18n::Lang::of_request(&req).code();
    accept(&req, move |wire| {
        VisitorSession::start(chat, wire, (ua, lang), ip, slot)
    })
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
    let chat = chat.into_inner();
    accept(&req, move |wire| {
        AgentSession::start(chat, wire, &agent, login)
    })
}
