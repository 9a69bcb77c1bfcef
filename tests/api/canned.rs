//! Saved replies over HTTP: shared and personal lists, who sees which, the
//! picker's offers filled in for one conversation (with fallbacks), import
//! and export, bad input.

use livedesk::domain::Role;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;

const PW: &str = "agent-password";

async fn offers(b: &TestApp, conv: Option<i64>) -> (u16, Value) {
    let path = match conv {
        Some(c) => format!("/agent/canned.json?conversation_id={c}"),
        None => "/agent/canned.json".into(),
    };
    let r = b.get(&path).await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn text_of<'a>(list: &'a Value, shortcut: &str) -> Option<&'a str> {
    list.as_array()?
        .iter()
        .find(|o| o["shortcut"] == shortcut)
        .and_then(|o| o["text"].as_str())
}

async fn saved_replies_are_filled_in_and_kept_to_their_owners(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_agent("lin", PW, Role::Agent).await;
    app.add_agent("wang", PW, Role::Agent).await;
    app.login_admin().await;
    let r = app
        .post_with_csrf_from(
            "/admin/canned",
            "/admin/canned",
            &[
                ("shortcut", "/hello"),
                ("body", "Hello {visitor.name|there}, I am {agent.name}."),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let (lin_b, _lin_ws, _) = app.agent_online("lin", PW).await;
    let r = lin_b
        .post_with_csrf_from(
            "/agent/canned",
            "/agent/canned",
            &[
                ("shortcut", "refund"),
                (
                    "body",
                    "Refunds take 5 days, {visitor.email|no email given}.",
                ),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    // Refused: a shortcut with a space, an empty body, no CSRF token.
    for form in [
        [("shortcut", "two words"), ("body", "x")],
        [("shortcut", "ok"), ("body", " ")],
    ] {
        let r = lin_b
            .post_with_csrf_from("/agent/canned", "/agent/canned", &form)
            .await;
        assert_eq!(r.status().as_u16(), 400);
    }
    let r = lin_b
        .post_form("/agent/canned", &[("shortcut", "forged"), ("body", "x")])
        .await;
    assert_eq!(r.status().as_u16(), 403);

    // A visitor with a name and an email, in lin's conversation.
    let mut v = Ws::visitor(&app).await;
    let conv = v.begin("hi").await["conversation_id"].as_i64().unwrap();
    let (status, list) = offers(&lin_b, Some(conv)).await;
    assert_eq!(status, 200);
    assert_eq!(text_of(&list, "hello"), Some("Hello Vera, I am lin."));
    assert_eq!(
        text_of(&list, "refund"),
        Some("Refunds take 5 days, vera@example.com.")
    );
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|o| o["shortcut"] != "forged"));

    // wang sees the shared one, not lin's; and not lin's conversation.
    let (wang_b, _wang_ws, _) = app.agent_online("wang", PW).await;
    let (_, list) = offers(&wang_b, None).await;
    assert_eq!(text_of(&list, "hello"), Some("Hello there, I am wang."));
    assert_eq!(
        text_of(&list, "refund"),
        None,
        "personal replies are personal"
    );
    let (_, html) = wang_b.get_text("/agent/canned").await;
    assert!(!html.contains("Refunds take"));
    assert_eq!(offers(&wang_b, Some(conv)).await.0, 404);
    assert_eq!(offers(&wang_b, Some(987_654)).await.0, 404);
    // Not anyone's to delete but lin's.
    let id = lin_b.get("/agent/canned/export.json").await;
    assert_eq!(id.status().as_u16(), 200);
    let exported: Value = id.json().await.unwrap();
    assert_eq!(
        exported,
        json!([{"shortcut": "refund", "body": "Refunds take 5 days, {visitor.email|no email given}."}])
    );
    let lin_list = offers(&lin_b, None).await.1;
    let rid = lin_list
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["shortcut"] == "refund")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let r = wang_b
        .post_with_csrf_from("/agent/canned", &format!("/agent/canned/{rid}/delete"), &[])
        .await;
    assert_eq!(r.status().as_u16(), 404);

    // Import: wang takes lin's export; a bad import changes nothing.
    let r = wang_b
        .post_with_csrf_from(
            "/agent/canned",
            "/agent/canned/import",
            &[("json", "[{\"shortcut\": \"bad one\", \"body\": \"x\"}]")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 400);
    let r = wang_b
        .post_with_csrf_from(
            "/agent/canned",
            "/agent/canned/import",
            &[("json", &exported.to_string())],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let (_, list) = offers(&wang_b, None).await;
    assert_eq!(
        text_of(&list, "refund"),
        Some("Refunds take 5 days, no email given.")
    );
    // lin deletes its own.
    let r = lin_b
        .post_with_csrf_from("/agent/canned", &format!("/agent/canned/{rid}/delete"), &[])
        .await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(text_of(&offers(&lin_b, None).await.1, "refund"), None);
    // Shared ones are the admins' to manage.
    assert_eq!(lin_b.get("/admin/canned").await.status().as_u16(), 403);
}

both_backends!(saved_replies_are_filled_in_and_kept_to_their_owners);
