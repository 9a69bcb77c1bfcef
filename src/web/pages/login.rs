//! Sign-in with a captcha, sign-out, and the captcha image.
//!
//! Order of checks in POST /login: CSRF, field sizes, rate limit (before any
//! expensive work, and without telling which check failed), captcha, then the
//! password on the blocking pool. Every outcome goes to the audit trail, which
//! is what the limits count.

use actix_session::Session;
use actix_web::{http::header, http::StatusCode, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{Duration, NaiveDateTime};
use serde::Deserialize;

use super::{render, see_other, Chrome};
use crate::chat::{hub::Logins, messages::CloseReason};
use crate::domain::{agent::PASSWORD_MAX, agent::USERNAME_MAX, AgentId, Username};
use crate::storage::login_attempts::{self, Key, Outcome};
use crate::storage::{agents, StorageResult};
use crate::web::auth::{client_ip, CurrentAgent};
use crate::web::error::WebError;
use crate::web::i18n::Lang;
use crate::web::session::{self, Challenge};
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    c: Chrome,
    error: Option<&'a str>,
    username: &'a str,
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    captcha: String,
}

const CAPTCHA_LEN: usize = 5;
/// Characters that stay readable once distorted (no 0/o, 1/l/i, …).
const CAPTCHA_CHARS: &str = "abcdefghkmnpqrstuvwxyz23456789";

fn new_challenge(state: &AppState) -> Challenge {
    let answer = match &state.login.test_captcha {
        Some(a) => a.clone(),
        None => {
            use rand::seq::IndexedRandom;
            let chars: Vec<char> = captcha_alphabet();
            let mut rng = rand::rng();
            (0..CAPTCHA_LEN)
                .filter_map(|_| chars.choose(&mut rng).copied())
                .collect()
        }
    };
    Challenge {
        answer,
        issued_at: state.clock.now(),
    }
}

/// Our preferred characters that the captcha font can draw.
fn captcha_alphabet() -> Vec<char> {
    static ALPHABET: std::sync::OnceLock<Vec<char>> = std::sync::OnceLock::new();
    ALPHABET
        .get_or_init(|| {
            let supported = captcha::Captcha::new().supported_chars();
            CAPTCHA_CHARS
                .chars()
                .filter(|c| supported.contains(c))
                .collect()
        })
        .clone()
}

fn challenge_valid(c: &Challenge, now: chrono::DateTime<chrono::Utc>, ttl: Duration) -> bool {
    now >= c.issued_at && now - c.issued_at <= ttl
}

/// Case-insensitive, surrounding blanks ignored.
pub fn captcha_matches(expected: &str, given: &str) -> bool {
    let given = given.trim();
    !given.is_empty() && expected.to_lowercase() == given.to_lowercase()
}

pub async fn show(
    req: HttpRequest,
    s: Session,
    lang: Lang,
    state: web::Data<AppState>,
    agent: Option<CurrentAgent>,
) -> Result<HttpResponse, WebError> {
    if agent.is_some() {
        return Ok(see_other("/agent"));
    }
    // Arm a fresh challenge now: the image drawn at /captcha shows this answer.
    session::set_captcha(&s, &new_challenge(&state))?;
    login_page(&req, &s, lang, StatusCode::OK, None, "")
}

fn login_page(
    req: &HttpRequest,
    s: &Session,
    lang: Lang,
    status: StatusCode,
    error: Option<&str>,
    username: &str,
) -> Result<HttpResponse, WebError> {
    let mut c = Chrome::anonymous(lang, req.path());
    c.csrf = session::csrf_token(s)?;
    render(status, &LoginPage { c, error, username })
}

/// GET /captcha: the PNG of the session's current challenge; a new challenge
/// when the last one was used up or has expired.
pub async fn captcha(s: Session, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    let now = state.clock.now();
    let challenge = match session::current_captcha(&s) {
        Some(c) if challenge_valid(&c, now, state.login.captcha_ttl) => c,
        _ => {
            let c = new_challenge(&state);
            session::set_captcha(&s, &c)?;
            c
        }
    };
    let answer = challenge.answer;
    let png = web::block(move || draw(&answer))
        .await
        .map_err(|e| WebError::Session(e.to_string()))?
        .ok_or_else(|| WebError::Session("captcha drawing failed".into()))?;
    Ok(HttpResponse::Ok()
        .content_type("image/png")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(png))
}

fn draw(answer: &str) -> Option<Vec<u8>> {
    use captcha::filters::{Noise, Wave};
    let mut cap = captcha::Captcha::new();
    let supported = cap.supported_chars();
    let drawable: Vec<char> = answer.chars().filter(|c| supported.contains(c)).collect();
    if drawable.is_empty() {
        // A test answer the font cannot draw: any picture will do.
        cap.add_chars(CAPTCHA_LEN as u32);
    }
    for ch in drawable {
        cap.set_chars(&[ch]).add_char();
    }
    cap.apply_filter(Noise::new(0.2))
        .apply_filter(Wave::new(2.0, 16.0))
        .view(220, 80);
    cap.as_png()
}

/// How long until `key` may try again, if it has used up its failures.
fn retry_after(
    failures: &[NaiveDateTime],
    max: u32,
    window: Duration,
    now: NaiveDateTime,
) -> Option<i64> {
    let max = max.max(1) as usize;
    let pivot = failures.get(max - 1)?;
    let secs = (*pivot + window - now).num_seconds();
    Some(secs.max(1))
}

pub async fn submit(
    req: HttpRequest,
    s: Session,
    lang: Lang,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, WebError> {
    session::check_csrf(&s, &form.csrf_token)?;
    let t = lang.strings();
    let typed_name: String = form.username.chars().take(USERNAME_MAX).collect();
    if form.username.trim().is_empty() || form.password.is_empty() || form.captcha.trim().is_empty()
    {
        return login_page(
            &req,
            &s,
            lang,
            StatusCode::BAD_REQUEST,
            Some(t.login_missing),
            &typed_name,
        );
    }
    if form.username.chars().count() > USERNAME_MAX
        || form.password.chars().count() > PASSWORD_MAX
        || form.captcha.chars().count() > 32
    {
        return login_page(
            &req,
            &s,
            lang,
            StatusCode::BAD_REQUEST,
            Some(t.err_bad_request),
            &typed_name,
        );
    }
    // A malformed username cannot exist; it is checked like any other so the
    // answer does not reveal that.
    let key_name = Username::parse(&form.username)
        .map(|u| u.as_str().to_owned())
        .unwrap_or_else(|_| form.username.trim().to_lowercase());
    let ip = client_ip(&req, &state.proxy);
    let now = state.clock.now_naive();
    let policy = state.login.clone();

    // Per address: every failure. Per account: wrong passwords only, and the
    // account's limit binds only addresses that guessed wrong for it lately,
    // so a stranger cannot lock the owner out without spending real guesses,
    // and the owner from a clean address still gets to try (OWASP's
    // per-address-and-account scheme).
    let (ip_fail, name_fail, pair_fail) = {
        let (ip, name) = (ip.clone(), key_name.clone());
        let since = now - policy.window;
        let limit = i64::from(policy.max_failures) + 1;
        state
            .storage
            .run(move |c| -> StorageResult<_> {
                Ok((
                    login_attempts::recent_failures(c, Key::Ip(&ip), since, limit)?,
                    login_attempts::recent_failures(c, Key::Account(&name), since, limit)?,
                    login_attempts::recent_failures(c, Key::AccountFromIp(&name, &ip), since, 1)?,
                ))
            })
            .await?
    };
    let name_wait = if pair_fail.is_empty() {
        None
    } else {
        retry_after(&name_fail, policy.max_failures, policy.window, now)
    };
    let wait = [
        retry_after(&ip_fail, policy.max_failures, policy.window, now),
        name_wait,
    ]
    .into_iter()
    .flatten()
    .max();
    if let Some(secs) = wait {
        record(&state, None, &key_name, &ip, Outcome::RateLimited).await?;
        tracing::warn!(%ip, username = %key_name, "login rate limited");
        let mut res = login_page(
            &req,
            &s,
            lang,
            StatusCode::TOO_MANY_REQUESTS,
            Some(t.login_rate_limited),
            &typed_name,
        )?;
        res.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from_str(&secs.to_string()).map_err(|_| WebError::BadRequest)?,
        );
        return Ok(res);
    }

    let captcha_ok = session::take_captcha(&s).is_some_and(|c| {
        challenge_valid(&c, state.clock.now(), policy.captcha_ttl)
            && captcha_matches(&c.answer, &form.captcha)
    });
    if !captcha_ok {
        record(&state, None, &key_name, &ip, Outcome::BadCaptcha).await?;
        return login_page(
            &req,
            &s,
            lang,
            StatusCode::UNAUTHORIZED,
            Some(t.login_failed),
            &typed_name,
        );
    }

    let name = key_name.clone();
    let found = state
        .storage
        .run(move |c| agents::find_by_username(c, &name))
        .await?;
    // Verified even for unknown users, so the timing is the same.
    let stored = found.as_ref().map(|(_, h)| h.clone());
    let password_ok = state.hasher.verify(form.password.clone(), stored).await?;
    let agent = found.map(|(a, _)| a);

    let outcome = match &agent {
        Some(a) if password_ok && a.active => Outcome::Success,
        Some(_) if password_ok => Outcome::Disabled,
        _ => Outcome::BadCredentials,
    };
    let agent_id = agent.as_ref().map(|a| a.id);
    record(&state, agent_id, &key_name, &ip, outcome).await?;
    match (outcome, agent_id) {
        (Outcome::Success, Some(id)) => {
            let at = state.clock.now_naive();
            state
                .storage
                .run(move |c| agents::touch_login(c, id, at))
                .await?;
            session::log_in(&s, id)?;
            tracing::info!(agent_id = %id, %ip, "agent signed in");
            Ok(see_other("/agent"))
        }
        _ => {
            tracing::info!(%ip, username = %key_name, outcome = outcome.as_str(), "sign-in refused");
            login_page(
                &req,
                &s,
                lang,
                StatusCode::UNAUTHORIZED,
                Some(t.login_failed),
                &typed_name,
            )
        }
    }
}

async fn record(
    state: &AppState,
    agent: Option<AgentId>,
    username: &str,
    ip: &str,
    outcome: Outcome,
) -> Result<(), WebError> {
    let (name, ip, now) = (username.to_owned(), ip.to_owned(), state.clock.now_naive());
    state
        .storage
        .run(move |c| login_attempts::record(c, agent, &name, &ip, outcome, now))
        .await?;
    Ok(())
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf_token: String,
}

pub async fn logout(
    s: Session,
    state: web::Data<AppState>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, WebError> {
    session::check_csrf(&s, &form.csrf_token)?;
    let (agent, login) = (session::agent_id(&s), session::login_id(&s));
    s.purge();
    // The sockets this sign-in opened end with it (other sign-ins stay).
    if let (Some(agent), Some(login)) = (agent, login) {
        state
            .agent_sockets
            .close(agent, Logins::Only(&login), CloseReason::SessionEnded);
    }
    Ok(see_other("/login"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captcha_answers_are_case_insensitive_and_never_empty() {
        assert!(captcha_matches("AbC7x", "abc7X"));
        assert!(captcha_matches("abc7x", " ABC7X "));
        assert!(!captcha_matches("abc7x", "abc7"));
        assert!(!captcha_matches("", ""));
    }

    #[test]
    fn the_alphabet_is_drawable_and_a_challenge_renders() {
        let a = captcha_alphabet();
        assert!(a.len() >= 20, "font lost characters: {a:?}");
        let png = draw("ab3k7").expect("png");
        assert_eq!(&png[1..4], b"PNG");
    }

    #[test]
    fn retry_after_counts_from_the_oldest_counted_failure() {
        let now = chrono::DateTime::from_timestamp(10_000, 0)
            .unwrap()
            .naive_utc();
        let w = Duration::seconds(900);
        let fails: Vec<_> = (0..5).map(|i| now - Duration::seconds(i * 10)).collect();
        assert_eq!(retry_after(&fails[..4], 5, w, now), None);
        assert_eq!(retry_after(&fails, 5, w, now), Some(900 - 40));
    }
}
