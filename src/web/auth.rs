//! Extractors for "who is asking": `CurrentAgent` (any active agent) and
//! `AdminAgent`. Each request re-reads the account, so disabling takes effect at once.

use actix_session::SessionExt;
use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use super::{error::WebError, session, AppState};
use crate::storage::{agents, agents::Agent, StorageError};

pub struct CurrentAgent(pub Agent);

impl FromRequest for CurrentAgent {
    type Error = WebError;
    type Future = LocalBoxFuture<'static, Result<Self, WebError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let s = req.get_session();
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let state = state.ok_or(WebError::Session("no app state".into()))?;
            let id = session::agent_id(&s).ok_or(WebError::LoginRequired)?;
            match state.storage.run(move |c| agents::find(c, id)).await {
                Ok(agent) if agent.active => Ok(CurrentAgent(agent)),
                Ok(_) | Err(StorageError::NotFound) => {
                    s.purge();
                    Err(WebError::LoginRequired)
                }
                Err(e) => Err(e.into()),
            }
        })
    }
}

pub struct AdminAgent(pub Agent);

impl FromRequest for AdminAgent {
    type Error = WebError;
    type Future = LocalBoxFuture<'static, Result<Self, WebError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let current = CurrentAgent::from_request(req, payload);
        Box::pin(async move {
            let CurrentAgent(agent) = current.await?;
            if agent.is_admin() {
                Ok(AdminAgent(agent))
            } else {
                Err(WebError::Forbidden)
            }
        })
    }
}

/// The client's address as `policy` says to read it (see `web::proxy`);
/// `None` when the connection has no peer address (not over TCP).
pub fn client_addr(
    req: &HttpRequest,
    policy: &super::proxy::ProxyPolicy,
) -> Option<std::net::IpAddr> {
    let peer = req.peer_addr()?.ip();
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect();
    Some(policy.client_address(peer, &forwarded))
}

/// `client_addr` as text for the audit trail.
pub fn client_ip(req: &HttpRequest, policy: &super::proxy::ProxyPolicy) -> String {
    client_addr(req, policy).map_or_else(|| "unknown".into(), |ip| ip.to_string())
}
