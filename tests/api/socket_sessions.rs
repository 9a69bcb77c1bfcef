//! An agent socket lives no longer than the session that opened it, and no
//! longer with more rights than the account has now.

use std::time::Duration;

use livedesk::domain::Role;
use livedesk::storage::sessions;
use serde_json::json;

use crate::both_backends;
use crate::helpers::*;

const PW: &str = "agent-password";
/// Close code that asks the dashboard to reconnect with the account's new rights.
const REAUTHORIZE: u16 = 4001;

/// The socket still answers: a status change comes back.
async fn answers(ws: &mut Ws) {
    ws.send(json!({"type": "status", "status": "online"})).await;
    ws.expect("status").await;
}

/// Slow periodic checks, so what is tested is the immediate close.
fn no_periodic_check(s: &mut livedesk::config::Settings) {
    s.ws_ping_secs = 3600;
    s.ws_timeout_secs = 7200;
}

async fn a_password_reset_closes_the_agents_sockets_at_once(backend: Backend) {
    let app = spawn_app_with(backend, no_periodic_check).await;
    let lin = app.add_agent("lin", PW, Role::Agent).await;
    let (_b1, mut tab1, _) = app.agent_online("lin", PW).await;
    let (_b2, mut tab2, _) = app.agent_online("lin", PW).await;
    app.login_admin().await;
    let r = app
        .post_with_csrf_from(
            &format!("/admin/agents/{}", lin.id),
            &format!("/admin/agents/{}/password", lin.id),
            &[("password", "brand-new-password")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(tab1.expect_close().await, 1008);
    assert_eq!(tab2.expect_close().await, 1008);

    // What visitors write now goes to nobody's old socket: it is queued.
    let mut v = Ws::visitor(&app).await;
    v.hello(None, None).await;
    v.say("v-1", "anyone there?").await;
    app.wait_counts(|c| c.agent_sockets == 0).await;
}

async fn signing_out_closes_that_sign_ins_sockets_only(backend: Backend) {
    let app = spawn_app_with(backend, no_periodic_check).await;
    app.add_agent("lin", PW, Role::Agent).await;
    let (here, mut ws_here, _) = app.agent_online("lin", PW).await;
    let (_elsewhere, mut ws_elsewhere, _) = app.agent_online("lin", PW).await;
    let r = here.post_with_csrf_from("/agent", "/logout", &[]).await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(ws_here.expect_close().await, 1008);
    // The other browser's sign-in is untouched.
    answers(&mut ws_elsewhere).await;
}

async fn a_demoted_admin_reconnects_without_admin_rights(backend: Backend) {
    let app = spawn_app_with(backend, no_periodic_check).await;
    let boss = app.add_agent("boss", PW, Role::Admin).await;
    app.add_agent("lin", PW, Role::Agent).await;
    let (_lb, mut lin, _) = app.agent_online("lin", PW).await;
    // A conversation of lin's, closed.
    let mut v = Ws::visitor(&app).await;
    v.hello(None, None).await;
    let m = v.say("v-1", "hello").await;
    let conv = m["conversation_id"].as_i64().unwrap();
    lin.expect_where("message", |f| f["message"]["conversation_id"] == conv)
        .await;
    lin.send(json!({"type": "close", "conversation_id": conv}))
        .await;
    v.expect("closed").await;

    let (boss_browser, mut boss_ws, welcome) = app.agent_online("boss", PW).await;
    assert_eq!(welcome["agent"]["role"], "admin");
    // As an admin, boss may read it.
    boss_ws
        .send(json!({"type": "history", "conversation_id": conv}))
        .await;
    boss_ws.expect("history").await;

    app.login_admin().await;
    let r = app
        .post_with_csrf_from(
            &format!("/admin/agents/{}", boss.id),
            &format!("/admin/agents/{}", boss.id),
            &[("display_name", "boss"), ("role", "agent")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(boss_ws.expect_close().await, REAUTHORIZE);

    // The same sign-in reconnects, now as an agent, and may not read it.
    let mut again = Ws::agent(&boss_browser).await;
    let welcome = again.expect("welcome").await;
    assert_eq!(welcome["agent"]["role"], "agent");
    again
        .send(json!({"type": "history", "conversation_id": conv}))
        .await;
    assert_eq!(again.expect_error().await, "forbidden");
}

async fn sessions_ended_elsewhere_or_expired_close_at_the_next_check(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.ws_ping_secs = 1;
        s.session_ttl_minutes = 30;
    })
    .await;
    let lin = app.add_agent("lin", PW, Role::Agent).await;

    // Ended by another node or the command line: only the database knows.
    let (_b, mut ws, _) = app.agent_online("lin", PW).await;
    let id = lin.id;
    app.storage
        .run(move |c| sessions::delete_for_agent(c, id))
        .await
        .unwrap();
    assert_eq!(ws.expect_close().await, 1008);

    // Expired: nobody ended it, time did.
    let (_b, mut ws, _) = app.agent_online("lin", PW).await;
    answers(&mut ws).await;
    app.clock.advance(chrono::Duration::minutes(31));
    assert_eq!(ws.expect_close().await, 1008);
}

async fn an_open_socket_keeps_working_while_its_session_lives(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.ws_ping_secs = 1).await;
    app.add_agent("lin", PW, Role::Agent).await;
    let (_b, mut ws, _) = app.agent_online("lin", PW).await;
    // Several periodic checks pass without closing it.
    ws.assert_no("nothing", Duration::from_millis(3500)).await;
    answers(&mut ws).await;
}

both_backends!(
    a_password_reset_closes_the_agents_sockets_at_once,
    signing_out_closes_that_sign_ins_sockets_only,
    a_demoted_admin_reconnects_without_admin_rights,
    sessions_ended_elsewhere_or_expired_close_at_the_next_check,
    an_open_socket_keeps_working_while_its_session_lives,
);
