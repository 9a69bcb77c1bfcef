//! Rooms managed from the admin console and the command line, and
//! announcements and notices: open sockets are told at once.

use livedesk::domain::Role;
use serde_json::json;

use crate::both_backends;
use crate::cli::{fails_with, livedesk, ok};
use crate::helpers::*;
use crate::rooms::{everyone, room_heard, room_say, PW};

const ROOMS: &str = "/admin/rooms";

async fn room_id(app: &TestApp, name: &str) -> i64 {
    let name = name.to_owned();
    app.storage
        .run(move |db| livedesk::storage::rooms::find_by_name(db, &name))
        .await
        .unwrap()
        .id
}

async fn admins_manage_rooms_and_members_hear_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_agent("lin", PW, Role::Agent).await;
    app.add_agent("wang", PW, Role::Agent).await;
    let (_lb, mut lin, _) = app.agent_online("lin", PW).await;
    let (wb, mut wang, _) = app.agent_online("wang", PW).await;
    // Not for agents.
    assert_ne!(wb.get(ROOMS).await.status().as_u16(), 200);
    app.login_admin().await;

    let r = app
        .post_with_csrf_from(
            ROOMS,
            ROOMS,
            &[
                ("name", "support <b>"),
                ("topic", "refunds"),
                ("members", "lin"),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let joined = lin.expect("room").await;
    assert_eq!(joined["room"]["name"], "support <b>");
    assert_eq!(joined["room"]["topic"], "refunds");
    let room = joined["room"]["id"].as_i64().unwrap();
    let (_, html) = app.get_text(ROOMS).await;
    assert!(!html.contains("support <b>"), "raw HTML must not appear");
    assert!(html.contains("support &#60;b&#62;") || html.contains("support &lt;b&gt;"));

    // Refusals: an empty name, a taken one, an unknown member, no CSRF token.
    for (form, status) in [
        (vec![("name", " ")], 400),
        (vec![("name", "support <b>")], 409),
        (vec![("name", "night"), ("members", "ghost")], 400),
    ] {
        let r = app.post_with_csrf_from(ROOMS, ROOMS, &form).await;
        assert_eq!(r.status().as_u16(), status, "{form:?}");
    }
    let r = app.post_form(ROOMS, &[("name", "forged")]).await;
    assert_eq!(r.status().as_u16(), 403);
    let (_, html) = app.get_text(ROOMS).await;
    assert!(!html.contains("night") && !html.contains("forged"));

    // wang added: told, and hears the next message.
    let members = format!("{ROOMS}/{room}/members");
    let r = app
        .post_with_csrf_from(ROOMS, &members, &[("username", "wang")])
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let told = wang.expect("room").await;
    assert_eq!(told["room"]["id"], room);
    room_say(&mut lin, room, "a1", "hi wang").await;
    room_heard(&mut wang, room, "hi wang").await;

    // wang removed while connected: told, and hears nothing more of it.
    let remove = format!("{ROOMS}/{room}/members/remove");
    let r = app
        .post_with_csrf_from(ROOMS, &remove, &[("username", "wang")])
        .await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(wang.expect("room_removed").await["room_id"], room);
    room_say(&mut lin, room, "a2", "wang cannot see this").await;
    let all = everyone(&app).await;
    room_say(&mut lin, all, "a3", "sync").await;
    room_heard(&mut wang, all, "sync").await;
    assert!(!wang.seen().contains("wang cannot see this"));

    // Renamed: members are told.
    let r = app
        .post_with_csrf_from(
            ROOMS,
            &format!("{ROOMS}/{room}"),
            &[("name", "support"), ("topic", "")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let renamed = lin
        .expect_where("room", |f| f["room"]["name"] == "support")
        .await;
    assert_eq!(renamed["room"]["topic"], json!(null));

    // `everyone` keeps its name and members, and stays.
    let e = format!("{ROOMS}/{all}");
    for (path, form) in [
        (e.clone(), vec![("name", "all-hands")]),
        (format!("{e}/members"), vec![("username", "lin")]),
        (format!("{e}/delete"), vec![]),
    ] {
        let r = app.post_with_csrf_from(ROOMS, &path, &form).await;
        assert_eq!(r.status().as_u16(), 409, "{path}");
    }

    // Deleted: its members are told; it is gone for them.
    let r = app
        .post_with_csrf_from(ROOMS, &format!("{ROOMS}/{room}/delete"), &[])
        .await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(lin.expect("room_removed").await["room_id"], room);
    lin.send(json!({"type": "room_history", "room_id": room}))
        .await;
    assert_eq!(lin.expect_error().await, "not_found");
    let r = app
        .post_with_csrf_from(ROOMS, &format!("{ROOMS}/{room}/delete"), &[])
        .await;
    assert_eq!(r.status().as_u16(), 404);
}

async fn the_cli_manages_rooms(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_agent("lin", PW, Role::Agent).await;
    app.add_agent("wang", PW, Role::Agent).await;
    let url = app.db.url().to_owned();
    let run = |args: Vec<&'static str>| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || livedesk(&url, &args, None))
    };
    let out = ok(&run(vec![
        "room",
        "add",
        "night shift",
        "--member",
        "lin",
        "--member",
        "wang",
    ])
    .await
    .unwrap());
    assert!(
        out.contains("created room 'night shift'") && out.contains("2 members"),
        "{out}"
    );
    fails_with(
        &run(vec!["room", "add", "night shift"]).await.unwrap(),
        "already exists",
    );
    fails_with(
        &run(vec!["room", "add", "x", "--member", "ghost"])
            .await
            .unwrap(),
        "no agent named 'ghost'",
    );
    let list = ok(&run(vec!["room", "list"]).await.unwrap());
    assert!(
        list.contains("everyone") && list.contains("night shift") && list.contains("lin, wang"),
        "{list}"
    );

    // Membership from the CLI counts at once for a running server's sockets.
    let room = room_id(&app, "night shift").await;
    let (_lb, mut lin, _) = app.agent_online("lin", PW).await;
    let (_wb, mut wang, _) = app.agent_online("wang", PW).await;
    ok(&run(vec!["room", "remove-member", "night shift", "wang"])
        .await
        .unwrap());
    fails_with(
        &run(vec!["room", "remove-member", "night shift", "wang"])
            .await
            .unwrap(),
        "is not in",
    );
    room_say(&mut lin, room, "c1", "wang is gone").await;
    wang.send(
        json!({"type": "room_message", "room_id": room, "client_id": "w1", "body": "still here?"}),
    )
    .await;
    assert_eq!(wang.expect_error().await, "not_found");
    ok(&run(vec!["room", "add-member", "night shift", "wang"])
        .await
        .unwrap());
    room_say(&mut lin, room, "c2", "welcome back").await;
    let back = room_heard(&mut wang, room, "welcome back").await;
    assert_eq!(back["seq"], 2);
    assert!(!wang.seen().contains("wang is gone"));

    fails_with(
        &run(vec!["room", "add-member", "everyone", "lin"])
            .await
            .unwrap(),
        "everyone",
    );
    fails_with(
        &run(vec!["room", "delete", "everyone"]).await.unwrap(),
        "cannot be deleted",
    );
    fails_with(
        &run(vec!["room", "delete", "nowhere"]).await.unwrap(),
        "no room named 'nowhere'",
    );
    ok(&run(vec!["room", "delete", "night shift"]).await.unwrap());
    assert!(!ok(&run(vec!["room", "list"]).await.unwrap()).contains("night shift"));
}

async fn announcements_reach_online_agents_and_later_welcomes(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_agent("lin", PW, Role::Agent).await;
    let (lb, mut lin, w) = app.agent_online("lin", PW).await;
    assert_eq!(w["announcements"], json!([]));
    app.login_admin().await;
    let page = "/admin/announcements";
    let r = app
        .post_with_csrf_from(
            page,
            page,
            &[("body", "New refund policy from Monday <script>")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let a = lin.expect("announcement").await;
    assert_eq!(
        a["announcement"]["body"],
        "New refund policy from Monday <script>"
    );
    assert_eq!(a["announcement"]["author"], "Admin");
    let mut later = Ws::agent(&lb).await;
    let w = later.expect("welcome").await;
    assert_eq!(
        w["announcements"][0]["body"],
        "New refund policy from Monday <script>"
    );
    let (_, html) = app.get_text(page).await;
    assert!(
        !html.contains("Monday <script>"),
        "raw HTML must not appear"
    );
    assert!(html.contains("Monday &#60;script&#62;") || html.contains("Monday &lt;script&gt;"));
    // Refused: empty, too long, no CSRF token.
    let long = "x".repeat(1001);
    for body in [" ", long.as_str()] {
        let r = app.post_with_csrf_from(page, page, &[("body", body)]).await;
        assert_eq!(r.status().as_u16(), 400);
    }
    assert_eq!(
        app.post_form(page, &[("body", "forged")])
            .await
            .status()
            .as_u16(),
        403
    );
    later
        .send(json!({"type": "room_history", "room_id": everyone(&app).await}))
        .await;
    later.expect("room_history").await;
    assert!(!later.seen().contains("forged"));
}

async fn notices_reach_connected_and_new_widgets_until_they_expire(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut v = Ws::visitor(&app).await;
    let w = v.hello(None, None).await;
    assert!(w.get("notice").is_none(), "{w}");
    app.login_admin().await;
    let page = "/admin/announcements";
    for (body, hours) in [("closing early", "0"), ("closing early", "100"), ("", "2")] {
        let r = app
            .post_with_csrf_from(page, "/admin/notices", &[("body", body), ("hours", hours)])
            .await;
        assert_eq!(r.status().as_u16(), 400, "{body} {hours}");
    }
    let r = app
        .post_with_csrf_from(
            page,
            "/admin/notices",
            &[("body", "We close at 18:00 today"), ("hours", "2")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let n = v.expect("notice").await;
    assert_eq!(n["body"], "We close at 18:00 today");
    assert!(n["until"].as_str().unwrap().ends_with('Z'));
    let mut fresh = Ws::visitor(&app).await;
    let w = fresh.hello(None, None).await;
    assert_eq!(w["notice"]["body"], "We close at 18:00 today");
    // Three hours later it has expired: new widgets are not shown it.
    app.clock.advance(chrono::Duration::hours(3));
    let mut late = Ws::visitor(&app).await;
    let w = late.hello(None, None).await;
    assert!(w.get("notice").is_none(), "{w}");
}

both_backends!(
    admins_manage_rooms_and_members_hear_at_once,
    the_cli_manages_rooms,
    announcements_reach_online_agents_and_later_welcomes,
    notices_reach_connected_and_new_widgets_until_they_expire
);
