//! The admin console's labels: create, rename or recolour, delete. Each
//! change reaches the open dashboards (conversations carry their labels).

use actix_web::{http::StatusCode, web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::admin::{flash_text, AdminPost, CsrfForm, Ctx};
use super::{render, see_other, Chrome};
use crate::chat::messages::LabelsChanged;
use crate::chat::protocol::LabelRef;
use crate::storage::labels::{self, Label};
use crate::storage::StorageError;
use crate::web::error::WebError;
use crate::web::session::{self, Flash};
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "admin/labels.html")]
struct LabelsPage<'a> {
    c: Chrome,
    labels: Vec<Label>,
    flash: Option<String>,
    error: Option<&'a str>,
}

#[derive(Deserialize)]
pub struct LabelForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    colour: String,
}

impl CsrfForm for LabelForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

async fn page(
    cx: &Ctx,
    state: &AppState,
    status: StatusCode,
    error: Option<&str>,
) -> Result<HttpResponse, WebError> {
    let t = cx.lang.strings();
    let page = LabelsPage {
        c: cx.chrome()?,
        labels: state.storage.run(labels::all).await?,
        flash: session::take_flash(&cx.s).map(|f| flash_text(t, f)),
        error,
    };
    render(status, &page)
}

pub async fn show(cx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    page(&cx, &state, StatusCode::OK, None).await
}

/// Every label now, to the Desk: open conversations follow renames and deletions.
async fn changed(state: &AppState) -> Result<(), WebError> {
    let all = state.storage.run(labels::all).await?;
    state.dispatcher.do_send(LabelsChanged {
        all: all.iter().map(LabelRef::from).collect(),
    });
    Ok(())
}

async fn save(
    cx: Ctx,
    form: LabelForm,
    state: &AppState,
    id: Option<i64>,
) -> Result<HttpResponse, WebError> {
    let t = cx.lang.strings();
    let Some(name) = labels::parse_name(&form.name) else {
        return page(&cx, state, StatusCode::BAD_REQUEST, Some(t.err_label_name)).await;
    };
    let Some(colour) = labels::parse_colour(&form.colour) else {
        return page(
            &cx,
            state,
            StatusCode::BAD_REQUEST,
            Some(t.err_label_colour),
        )
        .await;
    };
    let now = state.clock.now_naive();
    match state
        .storage
        .run(move |db| labels::save(db, id, &name, &colour, now))
        .await
    {
        Ok(_) => {}
        Err(StorageError::Conflict) => {
            return page(&cx, state, StatusCode::CONFLICT, Some(t.err_label_taken)).await
        }
        Err(StorageError::NotFound) => return Err(WebError::NotFound),
        Err(e) => return Err(e.into()),
    }
    changed(state).await?;
    session::set_flash(&cx.s, Flash::Saved)?;
    Ok(see_other("/admin/labels"))
}

/// POST /admin/labels
pub async fn create(
    post: AdminPost<LabelForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    save(post.cx, post.form, &state, None).await
}

/// POST /admin/labels/{id}
pub async fn update(
    post: AdminPost<LabelForm>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    save(post.cx, post.form, &state, Some(*id)).await
}

/// POST /admin/labels/{id}/delete
pub async fn delete(
    post: AdminPost<LabelForm>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let id = *id;
    match state.storage.run(move |db| labels::delete(db, id)).await {
        Ok(()) => {}
        Err(StorageError::NotFound) => return Err(WebError::NotFound),
        Err(e) => return Err(e.into()),
    }
    changed(&state).await?;
    session::set_flash(&post.cx.s, Flash::Deleted)?;
    Ok(see_other("/admin/labels"))
}
