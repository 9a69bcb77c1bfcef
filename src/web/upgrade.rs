//! Upgraded connections leave actix-http.
//!
//! actix-http hands a request that asks for an upgrade, with the connection
//! itself, to the service set with `HttpServiceBuilder::upgrade`. This one
//! runs the request through the same App as every other request (routing,
//! sessions, Origin check, the handler's own refusals), writes the answer,
//! and, when the handler accepted a WebSocket ([`Accept`]), gives the bare
//! TCP stream to it (`crate::ws`). The HTTP/1 dispatcher and its two 8 KiB
//! buffers are gone from then on.

use std::marker::PhantomData;
use std::rc::Rc;

use actix_codec::Framed;
use actix_http::body::{BodySize, BoxBody, MessageBody};
use actix_http::{h1, Request, Response, StatusCode};
use actix_service::{Service, ServiceFactory};
use futures_util::future::LocalBoxFuture;
use futures_util::SinkExt;

use super::conn::Conn;
use crate::chat::socket::MAX_FRAME;
use crate::ws::Wire;

/// Put in a `101 Switching Protocols` response's extensions by a handler:
/// what the connection becomes once the answer is written.
pub struct Accept(Box<dyn FnOnce(Wire)>);

impl Accept {
    pub fn new(then: impl FnOnce(Wire) + 'static) -> Self {
        Self(Box::new(then))
    }
}

pub struct Upgrades<S, B> {
    app: Rc<S>,
    _body: PhantomData<fn() -> B>,
}

/// Writing to the connection failed (the client went away, mostly).
#[derive(Debug)]
pub struct Broken(std::io::Error);

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "upgraded connection: {}", self.0)
    }
}

impl From<Broken> for Response<BoxBody> {
    fn from(_: Broken) -> Self {
        Response::internal_server_error()
    }
}

impl From<std::io::Error> for Broken {
    fn from(e: std::io::Error) -> Self {
        Broken(e)
    }
}

/// The upgrade service of one worker, around that worker's own App.
pub fn factory<F, S, B>(
    app: F,
) -> impl ServiceFactory<
    (Request, Framed<Conn, h1::Codec>),
    Config = (),
    Response = (),
    Error = Broken,
    InitError = (),
>
where
    F: ServiceFactory<Request, Config = (), Service = S, InitError = ()> + 'static,
    S: Service<Request, Error = actix_web::Error> + 'static,
    S::Response: Into<Response<B>>,
    B: MessageBody + 'static,
{
    actix_service::fn_factory(move || {
        let made = app.new_service(());
        async move {
            let app = made.await?;
            Ok(Upgrades {
                app: Rc::new(app),
                _body: PhantomData,
            })
        }
    })
}

impl<S, B> Service<(Request, Framed<Conn, h1::Codec>)> for Upgrades<S, B>
where
    S: Service<Request, Error = actix_web::Error> + 'static,
    S::Response: Into<Response<B>>,
    B: MessageBody + 'static,
{
    type Response = ();
    type Error = Broken;
    type Future = LocalBoxFuture<'static, Result<(), Broken>>;

    actix_service::always_ready!();

    fn call(&self, (req, mut framed): (Request, Framed<Conn, h1::Codec>)) -> Self::Future {
        let app = self.app.clone();
        Box::pin(async move {
            let mut res: Response<B> = match app.call(req).await {
                Ok(r) => r.into(),
                Err(e) => {
                    let res = e.error_response();
                    return Ok(answer(framed, Response::from(res)).await?);
                }
            };
            let accept = res.extensions_mut().remove::<Accept>();
            let Some(accept) = accept.filter(|_| res.status() == StatusCode::SWITCHING_PROTOCOLS)
            else {
                return Ok(answer(framed, res).await?);
            };
            framed
                .send(h1::Message::Item((res.drop_body(), BodySize::None)))
                .await?;
            let parts = framed.into_parts();
            let Conn { io, place } = parts.io;
            (accept.0)(Wire::new(io, parts.read_buf, MAX_FRAME, Box::new(place)));
            Ok(())
        })
    }
}

/// Writes a whole response (a refusal: 400, 401, 403, 404...), then the
/// connection closes.
async fn answer<B: MessageBody>(
    mut framed: Framed<Conn, h1::Codec>,
    res: Response<B>,
) -> std::io::Result<()> {
    let (head, body) = res.into_parts();
    let body = actix_http::body::to_bytes(body).await.unwrap_or_default();
    framed
        .send(h1::Message::Item((
            head,
            BodySize::Sized(body.len() as u64),
        )))
        .await?;
    framed.send(h1::Message::Chunk(Some(body))).await?;
    framed.send(h1::Message::Chunk(None)).await
}
