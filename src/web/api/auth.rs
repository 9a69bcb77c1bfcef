//! Who is calling: a bearer token, found by its hash, live, within its
//! rate, acting with the rights of the admin who made it.

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use super::ApiErr;
use crate::chat::messages::AgentCard;
use crate::chat::ratelimit::TokenBucket;
use crate::storage::agents;
use crate::storage::api_tokens::{self, ApiToken, Scope};
use crate::web::AppState;

/// Requests per token: a bucket each.
pub struct ApiLimits {
    rate: u32,
    burst: u32,
    buckets: Mutex<HashMap<i64, TokenBucket>>,
}

impl ApiLimits {
    pub fn new(rate: u32, burst: u32) -> Self {
        Self {
            rate,
            burst,
            buckets: Mutex::default(),
        }
    }

    fn allow(&self, token: i64) -> bool {
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        b.entry(token)
            .or_insert_with(|| TokenBucket::new(self.rate, self.burst))
            .try_take()
    }
}

/// A request's token, and the admin it acts as.
pub struct Caller {
    pub token: ApiToken,
    pub card: AgentCard,
}

impl Caller {
    /// Refuses a token that may only read.
    pub fn may_write(&self) -> Result<(), ApiErr> {
        match self.token.scope {
            Scope::Write => Ok(()),
            Scope::Read => Err(ApiErr::forbidden("this token may only read")),
        }
    }
}

impl FromRequest for Caller {
    type Error = ApiErr;
    type Future = LocalBoxFuture<'static, Result<Self, ApiErr>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_owned());
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let limits = req.app_data::<web::Data<ApiLimits>>().cloned();
        Box::pin(async move {
            let (Some(state), Some(limits)) = (state, limits) else {
                return Err(ApiErr::unavailable());
            };
            let token = given
                .filter(|t| !t.is_empty() && t.len() <= 200)
                .ok_or(ApiErr::unauthorized("send Authorization: Bearer <token>"))?;
            let now = state.clock.now_naive();
            let (found, admin) = state
                .storage
                .run(move |db| {
                    let t = api_tokens::by_token(db, &token)?;
                    let admin = match t.as_ref().and_then(|t| t.created_by) {
                        Some(a) => agents::find(db, a).ok(),
                        None => None,
                    };
                    Ok((t, admin))
                })
                .await?;
            let token = found
                .filter(|t| t.live(now))
                .ok_or(ApiErr::unauthorized("unknown, revoked or expired token"))?;
            let admin = admin
                .filter(|a| a.active && a.is_admin())
                .ok_or(ApiErr::unauthorized(
                    "the admin who made this token can no longer act",
                ))?;
            if !limits.allow(token.id) {
                return Err(ApiErr::new(
                    actix_web::http::StatusCode::TOO_MANY_REQUESTS,
                    crate::chat::protocol::code::RATE_LIMITED,
                    "too many requests for this token; slow down",
                ));
            }
            let (storage, id) = (state.storage.clone(), token.id);
            actix_rt::spawn(async move {
                let _ = storage.run(move |db| api_tokens::used(db, id, now)).await;
            });
            Ok(Caller {
                token,
                card: AgentCard::of(&admin),
            })
        })
    }
}
