//! Reports: the same figures as the admin console's page and its CSV.

use actix_web::{get, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::{ApiErr, Caller};
use crate::web::reports::{self, Named, ReportQuery};
use crate::web::AppState;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(summary);
}

/// The team's and each agent's figures for a period (docs/reports.md).
#[utoipa::path(tag = "reports", params(ReportQuery),
    responses((status = 200, body = Named), (status = 400)))]
#[get("/reports/summary")]
async fn summary(
    _c: Caller,
    state: web::Data<AppState>,
    q: web::Query<ReportQuery>,
) -> Result<web::Json<Named>, ApiErr> {
    let r = reports::build(&state, &q)
        .await
        .map_err(|e| ApiErr::bad_request(e.to_string()))??;
    Ok(web::Json(r))
}
