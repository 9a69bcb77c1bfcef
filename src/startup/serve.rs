//! The HTTP server, assembled from actix's parts rather than `HttpServer`:
//! every accepted connection is admitted first (`web::conn`), and upgraded
//! connections are handed over to `web::upgrade`, which `HttpServer` has no
//! place for. Otherwise the same settings `HttpServer` would use.

use std::fmt;
use std::net::TcpListener;
use std::time::Duration;

use actix_http::body::MessageBody;
use actix_http::{HttpService, KeepAlive, Request, Response};
use actix_server::Server;
use actix_service::{
    fn_service, map_config, IntoServiceFactory, ServiceFactory, ServiceFactoryExt,
};
use actix_web::dev::{AppConfig, Service};
use tokio::net::TcpStream;

use crate::web::conn::Admission;
use crate::web::upgrade;

pub fn serve<F, I, S, B>(
    listener: TcpListener,
    workers: usize,
    admission: Admission,
    app: F,
) -> std::io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig, Error = actix_web::Error, InitError = ()>
        + 'static,
    S::Response: Into<Response<B>> + 'static,
    S::Service: Service<Request, Error = actix_web::Error> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    B: MessageBody + 'static,
    S::InitError: fmt::Debug,
{
    let addr = listener.local_addr()?;
    let mut server = Server::build();
    if workers > 0 {
        server = server.workers(workers);
    }
    let server = server.listen("livedesk", listener, move || {
        let admission = admission.clone();
        let config = move |_: ()| AppConfig::default();
        let pages = map_config(app().into_factory(), config)
            .map_err(|e: actix_web::Error| Response::from(e.error_response()));
        let sockets = upgrade::factory(map_config(app().into_factory(), config));
        let http = HttpService::build()
            .keep_alive(KeepAlive::Timeout(Duration::from_secs(5)))
            .client_request_timeout(Duration::from_secs(5))
            // A connection being closed (a response with `Connection:
            // close`) gets this long to flush and go; actix's default of
            // 1 s kept every closed socket a second longer.
            .client_disconnect_timeout(Duration::from_millis(300))
            .local_addr(addr)
            .upgrade(sockets)
            .h1(pages);
        fn_service(move |io: TcpStream| std::future::ready(admission.admit(io))).and_then(http)
    })?;
    Ok(server.run())
}
