//! The archive: filters, text in messages (Chinese too), who sees what, pages.

use livedesk::domain::Role;
use serde_json::json;

use crate::both_backends;
use crate::helpers::*;

const PW: &str = "agent-password";

fn ids(html: &str) -> Vec<i64> {
    html.split("data-conversation=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().parse().unwrap())
        .collect()
}

async fn the_archive_finds_conversations_by_filter_and_text(backend: Backend) {
    let app = spawn_app(backend).await;
    let lin = app.add_agent("lin", PW, Role::Agent).await;
    app.add_agent("wang", PW, Role::Agent).await;
    let (lb, mut lin_ws, _) = app.agent_online("lin", PW).await;
    // Two of lin's: one about a refund in Chinese, one closed.
    let mut v1 = Ws::visitor(&app).await;
    let c1 = v1.begin("我想申请退款，订单 50%_off").await["conversation_id"]
        .as_i64()
        .unwrap();
    let mut v2 = Ws::visitor(&app).await;
    let c2 = v2.begin("Where is my parcel?").await["conversation_id"]
        .as_i64()
        .unwrap();
    lin_ws
        .send(json!({"type": "close", "conversation_id": c2}))
        .await;
    v2.expect("closed").await;
    // One of wang's (lin away: it goes to wang).
    lin_ws
        .send(json!({"type": "status", "status": "away"}))
        .await;
    lin_ws.expect("status").await;
    let (wb, _wang_ws, _) = app.agent_online("wang", PW).await;
    let mut v3 = Ws::visitor(&app).await;
    let w3 = v3.begin("hello from the other one").await;
    assert_eq!(w3["agent"]["name"], "wang");
    let c3 = w3["conversation_id"].as_i64().unwrap();

    // An agent finds its own, newest first; not wang's.
    assert_eq!(find(&lb, "").await, [c2, c1]);
    assert_eq!(find(&wb, "").await, [c3]);
    // Text in messages, Chinese and LIKE's own characters taken literally.
    assert_eq!(find(&lb, "q=退款").await, [c1]);
    assert_eq!(find(&lb, "q=50%25_OFF").await, [c1]);
    assert_eq!(find(&lb, "q=5_%25").await, Vec::<i64>::new());
    assert_eq!(find(&lb, "q=PARCEL").await, [c2]);
    // Visitor name or email; status.
    assert_eq!(find(&lb, "visitor=VERA@example").await, [c2, c1]);
    assert_eq!(find(&lb, "status=closed").await, [c2]);
    // Admins see all, and may filter by agent; dates.
    app.login_admin().await;
    assert_eq!(find(&app, "").await, [c3, c2, c1]);
    assert_eq!(find(&app, &format!("agent={}", lin.id)).await, [c2, c1]);
    let today = app.clock.now_naive().date();
    let tomorrow = today.succ_opt().unwrap();
    assert_eq!(
        find(&app, &format!("from={today}&to={today}")).await,
        [c3, c2, c1]
    );
    assert!(find(&app, &format!("from={tomorrow}")).await.is_empty());
    // Labels.
    let now = app.clock.now_naive();
    let label = app
        .storage
        .run(move |db| livedesk::storage::labels::save(db, None, "refund", "#cc0000", now))
        .await
        .unwrap();
    app.storage
        .run(move |db| {
            livedesk::storage::labels::set(db, livedesk::domain::ConversationId(c1), label.id, true)
        })
        .await
        .unwrap();
    assert_eq!(find(&app, &format!("label={}", label.id)).await, [c1]);
    // Pages: one at a time, then the next from the link.
    let (_, html) = app.get_text("/agent/archive?per=2").await;
    assert_eq!(ids(&html), [c3, c2]);
    let next = html
        .split("id=\"older-page\" href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&")
        .replace("&#38;", "&")
        .replace("&#x2f;", "/")
        .replace("&#47;", "/");
    let (_, html) = app.get_text(&next).await;
    assert_eq!(ids(&html), [c1]);
    assert!(!html.contains("older-page"));
    // Signed out: to the sign-in page.
    assert_eq!(
        app.new_browser()
            .get("/agent/archive")
            .await
            .status()
            .as_u16(),
        303
    );
}

async fn find(b: &TestApp, q: &str) -> Vec<i64> {
    let (status, html) = b.get_text(&format!("/agent/archive?{q}")).await;
    assert_eq!(status, 200, "{html}");
    ids(&html)
}

both_backends!(the_archive_finds_conversations_by_filter_and_text);
