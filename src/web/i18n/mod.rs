//! UI text: one `Strings` value per language, so a missing translation is a
//! compile error. The language comes from the `lang` cookie (set by the
//! switcher) or else from Accept-Language.

mod en;
mod zh;

use actix_web::{dev::Payload, http::header, FromRequest, HttpRequest};
use std::future::{ready, Ready};

pub use en::EN;
pub use zh::ZH;

pub const LANG_COOKIE: &str = "livedesk_lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    pub fn strings(self) -> &'static Strings {
        match self {
            Lang::En => &EN,
            Lang::Zh => &ZH,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        let c = code.trim().to_ascii_lowercase();
        if c == "zh" || c.starts_with("zh-") || c.starts_with("zh_") {
            Some(Lang::Zh)
        } else if c == "en" || c.starts_with("en-") || c.starts_with("en_") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// Picks the supported language with the highest q-value; English otherwise.
    pub fn from_accept_language(header: &str) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut it = part.split(';');
            let tag = it.next().unwrap_or("");
            let q = it
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if let Some(lang) = Lang::from_code(tag) {
                if best.is_none_or(|(bq, _)| q > bq) {
                    best = Some((q, lang));
                }
            }
        }
        best.map(|(_, l)| l).unwrap_or(Lang::En)
    }

    pub fn of_request(req: &HttpRequest) -> Lang {
        if let Some(l) = req
            .cookie(LANG_COOKIE)
            .and_then(|c| Lang::from_code(c.value()))
        {
            return l;
        }
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .map(Lang::from_accept_language)
            .unwrap_or(Lang::En)
    }
}

impl FromRequest for Lang {
    type Error = actix_web::Error;
    type Future = Ready<Result<Lang, actix_web::Error>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Lang::of_request(req)))
    }
}

pub struct Strings {
    pub archive_title: &'static str,
    pub search: &'static str,
    pub any: &'static str,
    pub col_agent: &'static str,
    pub col_visitor: &'static str,
    pub col_started: &'static str,
    pub date_from: &'static str,
    pub date_to: &'static str,
    pub text_in_messages: &'static str,
    pub name_or_email: &'static str,
    pub older: &'static str,
    pub nothing_found: &'static str,
    pub status_open: &'static str,
    pub ev_assigned: &'static str,
    pub ev_transferred: &'static str,
    pub ev_queued: &'static str,
    pub ev_closed: &'static str,
    pub transcript_title: &'static str,
    pub download_text: &'static str,
    pub download_json: &'static str,
    pub col_labels: &'static str,
    pub visitor_word: &'static str,
    /// Before a file's name in a text transcript.
    pub file_word: &'static str,
    pub transcript_cut: &'static str,
    pub labels_title: &'static str,
    pub col_colour: &'static str,
    pub create_label: &'static str,
    pub err_label_name: &'static str,
    pub err_label_colour: &'static str,
    pub err_label_taken: &'static str,
    pub canned_title: &'static str,
    pub canned_shared_title: &'static str,
    pub col_shortcut: &'static str,
    pub canned_hint: &'static str,
    pub import_json: &'static str,
    pub export_json: &'static str,
    pub import: &'static str,
    pub err_shortcut: &'static str,
    pub err_canned_body: &'static str,
    pub err_import: &'static str,
    pub err_too_many_canned: &'static str,
    pub my_replies: &'static str,
    pub capacity: &'static str,
    pub capacity_hint: &'static str,
    pub err_capacity: &'static str,
    pub rooms_title: &'static str,
    pub announcements_title: &'static str,
    pub col_name: &'static str,
    pub col_topic: &'static str,
    pub col_members: &'static str,
    pub create_room: &'static str,
    pub members_hint: &'static str,
    pub add_member: &'static str,
    pub remove: &'static str,
    pub delete: &'static str,
    pub everyone_note: &'static str,
    pub confirm_delete_room: &'static str,
    pub err_room_name: &'static str,
    pub err_room_taken: &'static str,
    pub err_topic: &'static str,
    pub err_unknown_agent: &'static str,
    pub err_everyone_fixed: &'static str,
    pub err_announcement: &'static str,
    pub err_hours: &'static str,
    pub announce_agents: &'static str,
    pub notice_visitors: &'static str,
    pub notice_hours: &'static str,
    pub post: &'static str,
    pub col_author: &'static str,
    pub col_until: &'static str,
    pub col_text: &'static str,
    pub flash_posted: &'static str,
    pub flash_deleted: &'static str,
    pub html_lang: &'static str,
    pub app_name: &'static str,
    pub other_lang_code: &'static str,
    pub other_lang_label: &'static str,

    pub login_title: &'static str,
    pub username: &'static str,
    pub password: &'static str,
    pub captcha: &'static str,
    pub captcha_alt: &'static str,
    pub captcha_new: &'static str,
    pub sign_in: &'static str,
    pub sign_out: &'static str,
    pub login_failed: &'static str,
    pub login_missing: &'static str,
    pub login_rate_limited: &'static str,

    pub dashboard_title: &'static str,
    pub signed_in_as: &'static str,
    pub live_placeholder: &'static str,
    pub admin_console: &'static str,
    pub dashboard: &'static str,

    pub agents_title: &'static str,
    pub col_username: &'static str,
    pub col_display_name: &'static str,
    pub col_role: &'static str,
    pub col_status: &'static str,
    pub col_last_login: &'static str,
    pub col_created: &'static str,
    pub col_time: &'static str,
    pub col_ip: &'static str,
    pub col_outcome: &'static str,
    pub never: &'static str,
    pub role_agent: &'static str,
    pub role_admin: &'static str,
    pub active: &'static str,
    pub disabled: &'static str,
    pub edit: &'static str,
    pub create_agent: &'static str,
    pub create: &'static str,
    pub save: &'static str,
    pub profile: &'static str,
    pub reset_password: &'static str,
    pub new_password: &'static str,
    pub set_password: &'static str,
    pub account_status: &'static str,
    pub disable: &'static str,
    pub enable: &'static str,
    pub back_to_list: &'static str,
    pub recent_logins: &'static str,
    pub yes: &'static str,
    pub no: &'static str,

    pub flash_created: &'static str,
    pub flash_saved: &'static str,
    pub flash_password: &'static str,
    pub flash_disabled: &'static str,
    pub flash_enabled: &'static str,

    pub err_title: &'static str,
    pub err_bad_request: &'static str,
    pub err_csrf: &'static str,
    pub err_forbidden: &'static str,
    pub err_not_found: &'static str,
    pub err_method: &'static str,
    pub err_too_large: &'static str,
    pub err_rate_limited: &'static str,
    pub err_internal: &'static str,
    pub err_unavailable: &'static str,
    pub err_username_taken: &'static str,
    pub err_last_admin: &'static str,
    pub err_invalid_username: &'static str,
    pub err_invalid_display_name: &'static str,
    pub err_invalid_password: &'static str,
    pub err_invalid_role: &'static str,
    pub go_home: &'static str,

    pub online_now: &'static str,
    pub col_open_conversations: &'static str,
    pub nobody_online: &'static str,
    pub status_online: &'static str,
    pub status_away: &'static str,
    pub flash_queue_closed: &'static str,
    pub queue_title: &'static str,
    pub queue_waiting: &'static str,
    pub close_queue: &'static str,
    pub confirm_close_queue: &'static str,
    pub confirm_disable: &'static str,
    pub outcome_success: &'static str,
    pub outcome_bad_captcha: &'static str,
    pub outcome_bad_credentials: &'static str,
    pub outcome_disabled: &'static str,
    pub outcome_rate_limited: &'static str,

    /// Text the browser scripts use (widget, dashboard, admin), handed to them as JSON.
    pub js: JsText,
    /// The admin console's integrations: API tokens, webhooks, identity.
    pub integ: IntegText,
    /// The reports, business hours and satisfaction pages.
    pub rep: ReportText,
}

pub struct ReportText {
    pub title: &'static str,
    pub from: &'static str,
    pub to: &'static str,
    pub tz: &'static str,
    pub business_only: &'static str,
    pub show: &'static str,
    pub export: &'static str,
    pub team: &'static str,
    pub agent: &'static str,
    pub nobody: &'static str,
    pub started: &'static str,
    pub answered: &'static str,
    pub missed: &'static str,
    pub closed: &'static str,
    pub frt: &'static str,
    pub resolution: &'static str,
    pub queue: &'static str,
    pub median: &'static str,
    pub p90: &'static str,
    pub messages_per: &'static str,
    pub csat: &'static str,
    pub rated: &'static str,
    pub online: &'static str,
    pub away: &'static str,
    pub per_day: &'static str,
    pub frt_per_day: &'static str,
    pub load: &'static str,
    pub date: &'static str,
    pub hour: &'static str,
    pub note: &'static str,
    pub bh_note: &'static str,
    pub err_dates: &'static str,
    pub err_zone: &'static str,
    pub mon: &'static str,
    pub tue: &'static str,
    pub wed: &'static str,
    pub thu: &'static str,
    pub fri: &'static str,
    pub sat: &'static str,
    pub sun: &'static str,
    pub hours_title: &'static str,
    pub csat_enabled: &'static str,
    pub question_en: &'static str,
    pub question_zh: &'static str,
    pub hours_on: &'static str,
    pub hours_help: &'static str,
    pub holidays: &'static str,
    pub special: &'static str,
    pub save: &'static str,
    pub saved: &'static str,
    pub err_hours: &'static str,
}

pub struct IntegText {
    pub title: &'static str,
    pub tokens: &'static str,
    pub tokens_intro: &'static str,
    pub name: &'static str,
    pub scope: &'static str,
    pub scope_read: &'static str,
    pub scope_write: &'static str,
    pub expires_days: &'static str,
    pub create_token: &'static str,
    pub token_once: &'static str,
    pub col_token: &'static str,
    pub col_created: &'static str,
    pub col_expires: &'static str,
    pub col_last_used: &'static str,
    pub col_state: &'static str,
    pub revoke: &'static str,
    pub state_revoked: &'static str,
    pub state_expired: &'static str,
    pub state_active: &'static str,
    pub never: &'static str,
    pub webhooks: &'static str,
    pub webhooks_intro: &'static str,
    pub url: &'static str,
    pub events: &'static str,
    pub include_notes: &'static str,
    pub add_webhook: &'static str,
    pub secret_once: &'static str,
    pub rotate: &'static str,
    pub rotate_note: &'static str,
    pub active: &'static str,
    pub deliveries: &'static str,
    pub redeliver: &'static str,
    pub col_event: &'static str,
    pub col_status: &'static str,
    pub col_attempts: &'static str,
    pub col_code: &'static str,
    pub col_error: &'static str,
    pub no_deliveries: &'static str,
    pub identity: &'static str,
    pub identity_intro: &'static str,
    pub identity_set: &'static str,
    pub identity_unset: &'static str,
    pub identity_new: &'static str,
    pub identity_new_note: &'static str,
    pub identity_once: &'static str,
    pub identity_required: &'static str,
    pub identity_optional: &'static str,
    pub err_name: &'static str,
    pub err_expires: &'static str,
    pub err_url: &'static str,
    pub err_events: &'static str,
    pub delete: &'static str,
    pub save: &'static str,
    pub back: &'static str,
}

/// UI text for the scripts. `{name}`, `{old}`, `{new}`, `{id}` are filled in by the script.
#[derive(serde::Serialize)]
pub struct JsText {
    pub attach: &'static str,
    pub uploading: &'static str,
    pub remove_file: &'static str,
    pub file_too_large: &'static str,
    pub file_type: &'static str,
    pub file_rate: &'static str,
    pub file_failed: &'static str,
    pub file_gone: &'static str,
    pub download_transcript: &'static str,
    pub transcript: &'static str,
    pub add_label: &'static str,
    pub all_labels: &'static str,
    pub remove_label: &'static str,
    pub canned_none: &'static str,
    pub canned_shared: &'static str,
    pub err_at_capacity: &'static str,
    pub rooms: &'static str,
    pub no_rooms: &'static str,
    pub room_placeholder: &'static str,
    pub room_typing: &'static str,
    pub mentioned_you: &'static str,
    pub room_gone: &'static str,
    pub note_toggle: &'static str,
    pub note_label: &'static str,
    pub note_placeholder: &'static str,
    pub transfer_note: &'static str,
    pub announcement: &'static str,
    pub dismiss: &'static str,
    pub notice: &'static str,
    pub launcher: &'static str,
    pub greeting: &'static str,
    pub placeholder: &'static str,
    pub send: &'static str,
    pub close_panel: &'static str,
    pub you: &'static str,
    pub waiting: &'static str,
    pub chatting_with: &'static str,
    pub took_over: &'static str,
    pub closed: &'static str,
    pub typing: &'static str,
    pub agent_typing: &'static str,
    pub pending: &'static str,
    pub failed: &'static str,
    pub reconnecting: &'static str,
    pub your_name: &'static str,
    pub your_email: &'static str,
    pub start_chat: &'static str,
    pub intro: &'static str,
    pub mine: &'static str,
    pub queue: &'static str,
    pub no_conversations: &'static str,
    pub select_conversation: &'static str,
    pub visitor_label: &'static str,
    pub claim: &'static str,
    pub transfer: &'static str,
    pub transfer_to: &'static str,
    pub close_conversation: &'static str,
    pub online: &'static str,
    pub away: &'static str,
    pub visitor_online: &'static str,
    pub visitor_offline: &'static str,
    pub details: &'static str,
    pub name: &'static str,
    pub email: &'static str,
    pub page: &'static str,
    pub referrer: &'static str,
    pub browser: &'static str,
    pub first_seen: &'static str,
    pub load_older: &'static str,
    pub new_message: &'static str,
    pub enable_notifications: &'static str,
    pub connected: &'static str,
    pub status_closed: &'static str,
    pub unknown: &'static str,
    pub too_long: &'static str,
    pub err_forbidden: &'static str,
    pub err_not_found: &'static str,
    pub err_already_assigned: &'static str,
    pub err_agent_offline: &'static str,
    pub err_closed: &'static str,
    pub err_rate_limited: &'static str,
    pub err_unavailable: &'static str,
    pub err_generic: &'static str,
    pub too_many_conversations: &'static str,
    pub too_many_connections: &'static str,
    /// The site requires a verified identity and this page's was not.
    pub identity_invalid: &'static str,
    pub waiting_for: &'static str,
    pub minutes: &'static str,
    pub hours: &'static str,
    pub just_now: &'static str,
    pub recently_closed: &'static str,
    pub today: &'static str,
    pub yesterday: &'static str,
    pub visitor_time: &'static str,
    pub confirm_close_queue: &'static str,
    pub close_queue: &'static str,
    pub no_longer_yours: &'static str,
    /// The site's id for its customer, and whether the site signed it.
    pub identity: &'static str,
    pub verified: &'static str,
    pub unverified: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_best_supported() {
        assert_eq!(
            Lang::from_accept_language("zh-CN,zh;q=0.9,en;q=0.8"),
            Lang::Zh
        );
        assert_eq!(
            Lang::from_accept_language("en-US,en;q=0.9,zh;q=0.8"),
            Lang::En
        );
        assert_eq!(Lang::from_accept_language("fr-FR, zh;q=0.5"), Lang::Zh);
        assert_eq!(Lang::from_accept_language("fr-FR,de"), Lang::En);
        assert_eq!(Lang::from_accept_language(""), Lang::En);
        assert_eq!(
            Lang::from_accept_language("en;q=0.2, zh-TW;q=0.7"),
            Lang::Zh
        );
    }
}
