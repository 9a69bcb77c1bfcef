//! The REST API (`/api/v1`): JSON in and out, a bearer token per request,
//! errors as `{"error": {"code", "message"}}` with the socket protocol's
//! stable codes. Everything an agent does goes through the same code the
//! agent's socket uses (`chat::agent_actions`, the Dispatcher), so the API
//! gets the same `seq`, fan-out, access rules and guarantees.
//!
//! The OpenAPI document is generated from the handlers (utoipa): a handler
//! is in the document because it is registered here, and nowhere else.

mod auth;
mod catalog;
mod conversations;
mod error;
mod hooks;
mod insight;
mod messages;
mod people;

use actix_web::{get, web, HttpResponse};
use utoipa::OpenApi;
use utoipa_actix_web::{scope, service_config::ServiceConfig, AppExt};

pub use auth::{ApiLimits, Caller};
pub use error::ApiErr;

/// JSON bodies larger than this are refused (413) before they are parsed.
pub const BODY_LIMIT: usize = 64 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "livedesk",
        description = "The REST API of livedesk. Send `Authorization: Bearer <token>` (tokens are made in the admin console). Errors are `{\"error\": {\"code\": …, \"message\": …}}`.",
        license(name = "MIT OR Apache-2.0")
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
struct Doc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let c = api.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The routes of `/api/v1`.
fn routes(cfg: &mut ServiceConfig) {
    cfg.service(openapi_json)
        .configure(conversations::routes)
        .configure(messages::routes)
        .configure(people::routes)
        .configure(catalog::routes)
        .configure(hooks::routes)
        .configure(insight::routes);
}

/// Mounts the API on an app: (the app, the API's OpenAPI document).
pub fn mount<T>(app: actix_web::App<T>) -> (actix_web::App<T>, utoipa::openapi::OpenApi)
where
    T: actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Error = actix_web::Error,
        InitError = (),
    >,
{
    app.into_utoipa_app()
        .openapi(Doc::openapi())
        .service(
            scope::scope("/api/v1")
                .app_data(error::json_config())
                .app_data(error::query_config())
                .app_data(error::path_config())
                .configure(routes)
                .default_service(web::to(error::no_route)),
        )
        .split_for_parts()
}

/// The OpenAPI 3.1 document, as JSON (built once at start).
pub fn document() -> String {
    let (_, doc) = mount(actix_web::App::new());
    doc.to_pretty_json().unwrap_or_default()
}

/// The document the node serves (`document()`, kept in the app's data).
pub struct OpenApiJson(pub String);

/// This API's OpenAPI document.
#[utoipa::path(tag = "meta", security(()),
    responses((status = 200, description = "OpenAPI 3.1 document, generated from the code")))]
#[get("/openapi.json")]
async fn openapi_json(doc: web::Data<OpenApiJson>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.0.clone())
}

/// A page of a list: the items, and the cursor of the next page (`null`
/// at the end).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Items of a list page, at most.
pub const PAGE_MAX: i64 = 100;

/// A list's `limit` (1–100, 50 if absent).
pub fn limit(asked: Option<i64>) -> i64 {
    asked.unwrap_or(50).clamp(1, PAGE_MAX)
}

/// A cursor as given: a number, else a 400.
pub fn cursor(raw: &Option<String>) -> Result<Option<i64>, ApiErr> {
    match raw.as_deref() {
        None | Some("") => Ok(None),
        Some(c) => c
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ApiErr::bad_request("cursor is not one this API gave")),
    }
}
