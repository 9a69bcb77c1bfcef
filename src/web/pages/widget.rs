//! The visitor widget: `/widget.js` (the loader a website embeds) and
//! `/widget` (the chat panel, inside an iframe so the host page's CSS and
//! scripts cannot touch it).

use actix_web::{http::header, http::StatusCode, web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{js_text, render_framable};
use crate::web::error::WebError;
use crate::web::i18n::Lang;

pub async fn loader() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(include_str!("../../../static/widget.js"))
}

#[derive(Deserialize)]
pub struct PanelQuery {
    locale: Option<String>,
    accent: Option<String>,
    greeting: Option<String>,
    title: Option<String>,
    ask_name: Option<String>,
}

#[derive(Template)]
#[template(path = "widget.html")]
struct Panel {
    t: &'static crate::web::i18n::Strings,
    html_lang: &'static str,
    js: String,
    accent: String,
    greeting: String,
    title: String,
    ask_name: bool,
}

/// A CSS colour we can put in a style safely: `#rgb` or `#rrggbb` only.
fn accent(raw: Option<&str>) -> String {
    match raw {
        Some(c)
            if (c.len() == 4 || c.len() == 7)
                && c.starts_with('#')
                && c[1..].chars().all(|x| x.is_ascii_hexdigit()) =>
        {
            c.to_owned()
        }
        _ => "#2764d8".into(),
    }
}

fn bounded(raw: Option<String>, max: usize) -> Option<String> {
    raw.map(|s| {
        s.chars()
            .filter(|c| !c.is_control())
            .take(max)
            .collect::<String>()
    })
    .filter(|s| !s.trim().is_empty())
}

pub async fn panel(
    q: web::Query<PanelQuery>,
    browser_lang: Lang,
) -> Result<HttpResponse, WebError> {
    let q = q.into_inner();
    let lang = q
        .locale
        .as_deref()
        .and_then(Lang::from_code)
        .unwrap_or(browser_lang);
    let t = lang.strings();
    let page = Panel {
        t,
        html_lang: t.html_lang,
        js: js_text(lang),
        accent: accent(q.accent.as_deref()),
        greeting: bounded(q.greeting, 300).unwrap_or_else(|| t.js.greeting.to_owned()),
        title: bounded(q.title, 80).unwrap_or_else(|| t.js.launcher.to_owned()),
        ask_name: q.ask_name.as_deref() != Some("false"),
    };
    // Any site may embed the widget.
    render_framable(StatusCode::OK, &page, "*")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hex_colours_pass() {
        assert_eq!(accent(Some("#abc")), "#abc");
        assert_eq!(accent(Some("#A1B2C3")), "#A1B2C3");
        assert_eq!(accent(Some("red;background:url(x)")), "#2764d8");
        assert_eq!(accent(Some("#12345g")), "#2764d8");
        assert_eq!(accent(None), "#2764d8");
    }
}
