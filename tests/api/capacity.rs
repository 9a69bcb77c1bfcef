//! Capacity over real sockets: a full agent gets no new conversation, the
//! queue drains when it closes one, a claim beyond capacity is refused, and
//! an admin's per-agent setting reaches the open dashboard.

use livedesk::domain::Role;
use serde_json::json;

use crate::both_backends;
use crate::helpers::*;

const PW: &str = "agent-password";

async fn full_agents_get_nothing_new_and_the_queue_drains(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.agent_capacity = 1).await;
    let lin = app.add_agent("lin", PW, Role::Agent).await;
    let (_b, mut ws, _) = app.agent_online("lin", PW).await;
    let mut v1 = Ws::visitor(&app).await;
    let first = v1.begin("one").await;
    assert_eq!(first["status"], "assigned");
    let c1 = first["conversation_id"].as_i64().unwrap();
    let mut v2 = Ws::visitor(&app).await;
    let second = v2.begin("two").await;
    assert_eq!(second["status"], "queued", "lin is full: {second}");
    let c2 = second["conversation_id"].as_i64().unwrap();

    ws.send(json!({"type": "claim", "conversation_id": c2}))
        .await;
    assert_eq!(ws.expect_error().await, "at_capacity");

    // Closing the first frees lin: the queued one comes to lin.
    ws.send(json!({"type": "close", "conversation_id": c1}))
        .await;
    let got = ws
        .expect_where("conversation", |f| {
            f["conversation"]["id"] == c2 && f["conversation"]["status"] == "assigned"
        })
        .await;
    assert_eq!(got["conversation"]["agent"]["name"], "lin");
    assert_eq!(v2.expect("assigned").await["conversation_id"], c2);

    // An admin gives lin room for two: the dashboard reconnects (4001) with it.
    app.login_admin().await;
    let page = format!("/admin/agents/{}", lin.id);
    for bad in ["-1", "1001", "many"] {
        let r = app
            .post_with_csrf_from(&page, &format!("{page}/capacity"), &[("capacity", bad)])
            .await;
        assert_eq!(r.status().as_u16(), 400, "{bad}");
    }
    let r = app
        .post_with_csrf_from(&page, &format!("{page}/capacity"), &[("capacity", "2")])
        .await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(app.agent("lin").await.capacity, Some(2));
    assert_eq!(ws.expect_close().await, 4001);
    let (_b2, mut ws, _) = app.agent_online("lin", PW).await;
    let mut v3 = Ws::visitor(&app).await;
    assert_eq!(v3.begin("three").await["status"], "assigned");
    let mut v4 = Ws::visitor(&app).await;
    assert_eq!(v4.begin("four").await["status"], "queued");
    ws.expect("conversation").await;
}

both_backends!(full_agents_get_nothing_new_and_the_queue_drains);
