//! What the dashboard and the console need from the server: recently closed
//! conversations after a reload, names that read as they are, clean titles.

use livedesk::domain::Role;
use serde_json::json;

use crate::both_backends;
use crate::helpers::*;

const PW: &str = "agent-password";

async fn recently_closed_conversations_come_after_the_welcome(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_agent("lin", PW, Role::Agent).await;
    app.add_agent("wang", PW, Role::Agent).await;
    let (lb, mut lin, _) = app.agent_online("lin", PW).await;
    let mut v = Ws::visitor(&app).await;
    let w = v.begin("thanks, that was all").await;
    let conv = w["conversation_id"].as_i64().unwrap();
    lin.send(json!({"type": "close", "conversation_id": conv}))
        .await;
    v.expect("closed").await;
    lin.expect_where("conversation", |f| f["conversation"]["status"] == "closed")
        .await;
    lin.close().await;

    // A reload: the closed one is listed again, and nobody else's is.
    let mut again = Ws::agent(&lb).await;
    again.expect("welcome").await;
    let recent = again.expect("recent").await;
    let list = recent["conversations"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{recent}");
    assert_eq!(list[0]["id"], conv);
    assert_eq!(list[0]["status"], "closed");
    assert_eq!(list[0]["visitor"]["name"], "Vera");
    assert_eq!(list[0]["agent"]["name"], "lin");
    // Its transcript is readable by its agent.
    again
        .send(json!({"type": "history", "conversation_id": conv}))
        .await;
    let h = again
        .expect_where("history", |f| f["conversation_id"] == conv)
        .await;
    assert_eq!(h["messages"][0]["body"], "thanks, that was all");

    let (_wb, mut wang, _) = app.agent_online("wang", PW).await;
    assert_eq!(wang.expect("recent").await["conversations"], json!([]));

    // A day later it is the archive's business, not the dashboard's.
    app.clock.advance(chrono::Duration::hours(25));
    let (_lb2, mut later, _) = app.agent_online("lin", PW).await;
    assert_eq!(later.expect("recent").await["conversations"], json!([]));
}

async fn names_cannot_spoof_how_they_read(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let r = app
        .post_with_csrf_from(
            "/admin/agents",
            "/admin/agents",
            &[
                ("username", "spoof"),
                ("display_name", "Lin\u{202E}gnaW"),
                ("password", "a-long-password"),
                ("role", "agent"),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(app.agent_count().await, 1);

    app.add_agent("lin", PW, Role::Agent).await;
    let (_b, mut lin, _) = app.agent_online("lin", PW).await;
    let mut v = Ws::visitor(&app).await;
    v.send(
        json!({"type": "hello", "name": "Ver\u{202E}a\u{2066}", "timezone": "<b>not a zone</b>"}),
    )
    .await;
    v.expect("welcome").await;
    v.say("m1", "hi").await;
    let c = lin.expect("conversation").await;
    assert_eq!(c["conversation"]["visitor"]["name"], "Vera");
    assert_eq!(
        c["conversation"]["visitor"]["timezone"],
        serde_json::Value::Null
    );
}

both_backends!(
    recently_closed_conversations_come_after_the_welcome,
    names_cannot_spoof_how_they_read,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_titles_are_plain_text() {
    let app = spawn_app(Backend::Sqlite).await;
    app.login_admin().await;
    for (path, title) in [
        ("/admin/agents", "<title>Agents · livedesk</title>"),
        ("/admin/agents/1", "<title>admin · livedesk</title>"),
    ] {
        let (status, page) = app.get_text(path).await;
        assert_eq!(status, 200);
        assert!(page.contains(title), "{path}: {page}");
    }
}
