//! What every page's header needs: the language's strings, the language
//! switch, who is signed in and the logout token. Error pages use it too, so
//! it depends on nothing of the web layer but the strings.

use super::i18n::{Lang, Strings};

pub struct Chrome {
    pub t: &'static Strings,
    pub lang_href: String,
    pub agent: Option<NavAgent>,
    pub csrf: String,
}

pub struct NavAgent {
    pub name: String,
    pub is_admin: bool,
}

impl Chrome {
    pub fn anonymous(lang: Lang, path: &str) -> Self {
        let t = lang.strings();
        let next: String = url::form_urlencoded::byte_serialize(path.as_bytes()).collect();
        Chrome {
            t,
            lang_href: format!("/lang/{}?next={next}", t.other_lang_code),
            agent: None,
            csrf: String::new(),
        }
    }
}

/// `CSP` for a page no other site may frame (error pages use it as it is).
pub const PAGE_CSP_NO_FRAMES: &str = "default-src 'self'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";
