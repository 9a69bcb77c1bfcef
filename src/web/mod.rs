//! HTTP: routes, pages, sessions, errors.

pub mod api;
pub mod auth;
pub mod chrome;
pub mod conn;
pub mod error;
pub mod files;
pub mod hashing;
pub mod i18n;
pub mod pages;
pub mod proxy;
pub mod reports;
pub mod session;
pub mod sockets;
pub mod state;
pub mod upgrade;

use actix_web::{error::InternalError, web, HttpResponse};

use error::WebError;

pub use state::{AppState, LoginPolicy};

/// Largest form body accepted; every field has a much smaller cap of its own.
pub const FORM_LIMIT: usize = 16 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::FormConfig::default()
            .limit(FORM_LIMIT)
            .error_handler(|err, _| {
                let e = match err {
                    actix_web::error::UrlencodedError::Overflow { .. } => WebError::TooLarge,
                    _ => WebError::BadRequest,
                };
                InternalError::from_response(err, actix_web::ResponseError::error_response(&e))
                    .into()
            }),
    )
    .app_data(web::PathConfig::default().error_handler(|err, _| {
        InternalError::from_response(
            err,
            actix_web::ResponseError::error_response(&WebError::NotFound),
        )
        .into()
    }))
    .app_data(web::QueryConfig::default().error_handler(|err, _| {
        InternalError::from_response(
            err,
            actix_web::ResponseError::error_response(&WebError::BadRequest),
        )
        .into()
    }))
    .route("/", web::get().to(pages::home))
    .route("/healthz", web::get().to(pages::system::healthz))
    .route("/metrics", web::get().to(pages::system::metrics))
    .route("/static/{file}", web::get().to(pages::system::static_file))
    .route("/widget.js", web::get().to(pages::widget::loader))
    .route("/widget", web::get().to(pages::widget::panel))
    .route("/admin/presence", web::get().to(pages::admin::presence))
    .route("/lang/{code}", web::get().to(pages::system::set_lang))
    .route("/captcha", web::get().to(pages::login::captcha))
    .route("/ws/visitor", web::get().to(sockets::visitor))
    .route("/ws/agent", web::get().to(sockets::agent))
    .route("/login", web::get().to(pages::login::show))
    .route("/login", web::post().to(pages::login::submit))
    .route("/logout", web::post().to(pages::login::logout))
    .route("/agent", web::get().to(pages::dashboard::show))
    .route("/files", web::post().to(files::visitor_upload))
    .route("/agent/files", web::post().to(files::agent_upload))
    .route("/files/{id}", web::get().to(files::download))
    .route(
        "/admin",
        web::get().to(|| async {
            HttpResponse::SeeOther()
                .insert_header(("Location", "/admin/agents"))
                .finish()
        }),
    )
    .route("/admin/agents", web::get().to(pages::admin::list))
    .route("/admin/agents", web::post().to(pages::admin::create))
    .route(
        "/admin/queue/close",
        web::post().to(pages::admin::close_queue),
    )
    .route(
        "/admin/agents/{id}",
        web::get().to(pages::admin_agent::show),
    )
    .route(
        "/admin/agents/{id}",
        web::post().to(pages::admin_agent::update),
    )
    .route(
        "/admin/agents/{id}/password",
        web::post().to(pages::admin_agent::reset_password),
    )
    .route(
        "/admin/agents/{id}/capacity",
        web::post().to(pages::admin_agent::set_capacity),
    )
    .route(
        "/admin/agents/{id}/active",
        web::post().to(pages::admin_agent::set_active),
    )
    .route(
        "/agent/conversations/{id}/transcript",
        web::get().to(pages::transcript::page),
    )
    .route(
        "/agent/conversations/{id}/transcript.{ext}",
        web::get().to(pages::transcript::file),
    )
    .route(
        "/transcript",
        web::post().to(pages::transcript::for_visitor),
    )
    .route("/agent/archive", web::get().to(pages::archive::show))
    .route("/agent/canned", web::get().to(pages::canned::list::<false>))
    .route("/agent/canned", web::post().to(pages::canned::add::<false>))
    .route("/agent/canned.json", web::get().to(pages::canned::offers))
    .route(
        "/agent/canned/export.json",
        web::get().to(pages::canned::export_json::<false>),
    )
    .route(
        "/agent/canned/import",
        web::post().to(pages::canned::import::<false>),
    )
    .route(
        "/agent/canned/{id}/delete",
        web::post().to(pages::canned::delete::<false>),
    )
    .route("/admin/canned", web::get().to(pages::canned::list::<true>))
    .route("/admin/canned", web::post().to(pages::canned::add::<true>))
    .route(
        "/admin/canned/export.json",
        web::get().to(pages::canned::export_json::<true>),
    )
    .route(
        "/admin/canned/import",
        web::post().to(pages::canned::import::<true>),
    )
    .route(
        "/admin/canned/{id}/delete",
        web::post().to(pages::canned::delete::<true>),
    )
    .route(
        "/admin/integrations",
        web::get().to(pages::admin_integrations::show),
    )
    .route(
        "/admin/integrations/tokens",
        web::post().to(pages::admin_integrations::create_token),
    )
    .route(
        "/admin/integrations/tokens/{id}/revoke",
        web::post().to(pages::admin_integrations::revoke_token),
    )
    .route(
        "/admin/integrations/webhooks",
        web::post().to(pages::admin_integrations::create_hook),
    )
    .route(
        "/admin/integrations/webhooks/{id}",
        web::get().to(pages::admin_integrations::show_hook),
    )
    .route(
        "/admin/integrations/webhooks/{id}",
        web::post().to(pages::admin_integrations::update_hook),
    )
    .route(
        "/admin/integrations/webhooks/{id}/rotate",
        web::post().to(pages::admin_integrations::rotate_hook),
    )
    .route(
        "/admin/integrations/webhooks/{id}/delete",
        web::post().to(pages::admin_integrations::delete_hook),
    )
    .route(
        "/admin/integrations/webhooks/{id}/deliveries/{d}/redeliver",
        web::post().to(pages::admin_integrations::redeliver),
    )
    .route(
        "/admin/integrations/identity",
        web::post().to(pages::admin_integrations::new_identity_secret),
    )
    .route("/admin/reports", web::get().to(pages::admin_reports::show))
    .route(
        "/admin/reports.csv",
        web::get().to(pages::admin_reports::csv),
    )
    .route(
        "/admin/hours",
        web::get().to(pages::admin_reports::show_hours),
    )
    .route(
        "/admin/hours",
        web::post().to(pages::admin_reports::save_hours),
    )
    .route("/admin/labels", web::get().to(pages::admin_labels::show))
    .route("/admin/labels", web::post().to(pages::admin_labels::create))
    .route(
        "/admin/labels/{id}",
        web::post().to(pages::admin_labels::update),
    )
    .route(
        "/admin/labels/{id}/delete",
        web::post().to(pages::admin_labels::delete),
    )
    .route("/admin/rooms", web::get().to(pages::admin_rooms::show))
    .route("/admin/rooms", web::post().to(pages::admin_rooms::create))
    .route(
        "/admin/rooms/{id}",
        web::post().to(pages::admin_rooms::update),
    )
    .route(
        "/admin/rooms/{id}/members",
        web::post().to(pages::admin_rooms::add_member),
    )
    .route(
        "/admin/rooms/{id}/members/remove",
        web::post().to(pages::admin_rooms::remove_member),
    )
    .route(
        "/admin/rooms/{id}/delete",
        web::post().to(pages::admin_rooms::delete),
    )
    .route(
        "/admin/announcements",
        web::get().to(pages::admin_news::show),
    )
    .route(
        "/admin/announcements",
        web::post().to(pages::admin_news::announce),
    )
    .route("/admin/notices", web::post().to(pages::admin_news::notice))
    .default_service(web::to(|| async { WebError::NotFound.into_response() }));
}

impl WebError {
    fn into_response(self) -> HttpResponse {
        actix_web::ResponseError::error_response(&self)
    }
}
