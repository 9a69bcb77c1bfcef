use livedesk::domain::Role;

use crate::both_backends;
use crate::helpers::*;

async fn only_admins_reach_the_console(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app.get("/admin/agents").await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(location(&r), "/login");

    app.add_agent("lin", "lin-password", Role::Agent).await;
    app.login_ok("lin", "lin-password").await;
    assert_eq!(app.get("/admin/agents").await.status().as_u16(), 403);
    assert_eq!(app.get("/admin/agents/1").await.status().as_u16(), 403);
    // A non-admin posting, even with a valid token of its own session, is refused and writes nothing.
    let r = app
        .post_with_csrf_from(
            "/agent",
            "/admin/agents",
            &[
                ("username", "sneaky"),
                ("password", "sneaky-pass"),
                ("role", "admin"),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 403);
    let r = app
        .post_with_csrf_from("/agent", "/admin/agents/1/active", &[("active", "false")])
        .await;
    assert_eq!(r.status().as_u16(), 403);
    let r = app
        .post_with_csrf_from(
            "/agent",
            "/admin/agents/2",
            &[("display_name", "Boss"), ("role", "admin")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(app.agent_count().await, 2);
    assert!(app.agent("admin").await.active);
    assert_eq!(app.agent("lin").await.role, Role::Agent);
}

async fn admins_create_agents_and_see_them_listed(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let r = app
        .post_with_csrf_from(
            "/admin/agents",
            "/admin/agents",
            &[
                ("username", "Wang"),
                ("display_name", "Wang Wei"),
                ("password", "wang-password"),
                ("role", "agent"),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let (status, page) = app.get_text("/admin/agents").await;
    assert_eq!(status, 200);
    assert!(page.contains("Agent created."), "{page}");
    assert!(page.contains(r#"data-username="wang""#) && page.contains("Wang Wei"));
    // The audit trail is visible too, in words.
    assert!(page.contains(">signed in<"), "{page}");
    let wang = app.agent("wang").await;
    assert_eq!((wang.role, wang.active), (Role::Agent, true));

    let b = app.new_browser();
    b.login_ok("wang", "wang-password").await;
}

async fn bad_creations_are_refused_and_write_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    type Case<'a> = (&'a [(&'a str, &'a str)], u16, &'a str);
    let long_name = "n".repeat(65);
    let cases: [Case; 6] = [
        (
            &[
                ("username", "admin"),
                ("password", "long-enough"),
                ("role", "agent"),
            ],
            409,
            "already taken",
        ),
        (
            &[
                ("username", "ADMIN"),
                ("password", "long-enough"),
                ("role", "agent"),
            ],
            409,
            "already taken",
        ),
        (
            &[
                ("username", "bad name"),
                ("password", "long-enough"),
                ("role", "agent"),
            ],
            400,
            "Username must be",
        ),
        (
            &[("username", "ok"), ("password", "short"), ("role", "agent")],
            400,
            "Password must be",
        ),
        (
            &[
                ("username", "ok"),
                ("password", "long-enough"),
                ("role", "root"),
            ],
            400,
            "Role must be",
        ),
        (
            &[
                ("username", "ok"),
                ("display_name", &long_name),
                ("password", "long-enough"),
                ("role", "agent"),
            ],
            400,
            "Display name must be",
        ),
    ];
    for (form, status, msg) in cases {
        let r = app
            .post_with_csrf_from("/admin/agents", "/admin/agents", form)
            .await;
        assert_eq!(r.status().as_u16(), status, "{form:?}");
        let body = r.text().await.unwrap();
        assert!(body.contains(msg), "{form:?}: {body}");
    }
    assert_eq!(app.agent_count().await, 1);
    // Without a token: refused before anything else.
    let r = app
        .post_form(
            "/admin/agents",
            &[
                ("username", "x"),
                ("password", "long-enough"),
                ("role", "agent"),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(app.agent_count().await, 1);
}

async fn user_text_is_shown_as_text(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let xss = "<img src=x onerror=alert(1)>";
    let r = app
        .post_with_csrf_from(
            "/admin/agents",
            "/admin/agents",
            &[
                ("username", "mallory"),
                ("display_name", xss),
                ("password", "mallory-pass"),
                ("role", "agent"),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let (_, page) = app.get_text("/admin/agents").await;
    assert!(!page.contains(xss), "raw HTML must not appear");
    assert!(
        page.contains("&#60;img src=x onerror=alert(1)&#62;")
            || page.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{page}"
    );
}

async fn admins_edit_reset_and_disable(backend: Backend) {
    let app = spawn_app(backend).await;
    let lin = app.add_agent("lin", "lin-password", Role::Agent).await;
    let lin_browser = app.new_browser();
    lin_browser.login_ok("lin", "lin-password").await;
    app.login_admin().await;
    let page = format!("/admin/agents/{}", lin.id);

    // Display name and role.
    let r = app
        .post_with_csrf_from(
            &page,
            &page,
            &[("display_name", "Lin Na"), ("role", "admin")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let (_, html) = app.get_text(&page).await;
    assert!(html.contains("Changes saved.") && html.contains("Lin Na"));
    assert_eq!(app.agent("lin").await.role, Role::Admin);
    let r = app
        .post_with_csrf_from(
            &page,
            &page,
            &[("display_name", "Lin Na"), ("role", "agent")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(app.agent("lin").await.role, Role::Agent);

    // Password reset: the old one stops working and lin's open session ends.
    let r = app
        .post_with_csrf_from(
            &page,
            &format!("{page}/password"),
            &[("password", "brand-new-password")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(lin_browser.get("/agent").await.status().as_u16(), 303);
    let b = app.new_browser();
    assert_eq!(b.login("lin", "lin-password").await.status().as_u16(), 401);
    b.login_ok("lin", "brand-new-password").await;
    let r = app
        .post_with_csrf_from(&page, &format!("{page}/password"), &[("password", "short")])
        .await;
    assert_eq!(r.status().as_u16(), 400);

    // Disable: lin's session ends at once and lin cannot log in; enable restores.
    let r = app
        .post_with_csrf_from(&page, &format!("{page}/active"), &[("active", "false")])
        .await;
    assert_eq!(r.status().as_u16(), 303);
    assert!(!app.agent("lin").await.active);
    assert_eq!(b.get("/agent").await.status().as_u16(), 303);
    assert_eq!(
        app.new_browser()
            .login("lin", "brand-new-password")
            .await
            .status()
            .as_u16(),
        401
    );
    let (_, list) = app.get_text("/admin/agents").await;
    assert!(list.contains("Disabled"));
    let r = app
        .post_with_csrf_from(&page, &format!("{page}/active"), &[("active", "true")])
        .await;
    assert_eq!(r.status().as_u16(), 303);
    app.new_browser()
        .login_ok("lin", "brand-new-password")
        .await;
    let r = app
        .post_with_csrf_from(&page, &format!("{page}/active"), &[("active", "maybe")])
        .await;
    assert_eq!(r.status().as_u16(), 400);
}

async fn the_last_active_admin_stays(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    let admin = app.agent("admin").await;
    let page = format!("/admin/agents/{}", admin.id);
    let r = app
        .post_with_csrf_from(&page, &format!("{page}/active"), &[("active", "false")])
        .await;
    assert_eq!(r.status().as_u16(), 409);
    assert!(r.text().await.unwrap().contains("last active admin"));
    let r = app
        .post_with_csrf_from(
            &page,
            &page,
            &[("display_name", "Admin"), ("role", "agent")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 409);
    let admin = app.agent("admin").await;
    assert!(admin.active && admin.is_admin());

    // A disabled second admin does not count.
    let other = app.add_agent("boss", "boss-password", Role::Admin).await;
    let other_page = format!("/admin/agents/{}", other.id);
    let r = app
        .post_with_csrf_from(
            &other_page,
            &format!("{other_page}/active"),
            &[("active", "false")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let r = app
        .post_with_csrf_from(
            &page,
            &page,
            &[("display_name", "Admin"), ("role", "agent")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 409);

    // With another active admin, demoting works.
    let r = app
        .post_with_csrf_from(
            &other_page,
            &format!("{other_page}/active"),
            &[("active", "true")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let r = app
        .post_with_csrf_from(
            &page,
            &page,
            &[("display_name", "Admin"), ("role", "agent")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(app.agent("admin").await.role, Role::Agent);
    // …and the demoted admin has lost the console.
    assert_eq!(app.get("/admin/agents").await.status().as_u16(), 403);
}

async fn unknown_agents_are_404(backend: Backend) {
    let app = spawn_app(backend).await;
    app.login_admin().await;
    assert_eq!(app.get("/admin/agents/9999").await.status().as_u16(), 404);
    assert_eq!(app.get("/admin/agents/abc").await.status().as_u16(), 404);
    assert_eq!(
        app.get("/admin/agents/99999999999999999999999")
            .await
            .status()
            .as_u16(),
        404
    );
    let r = app
        .post_with_csrf_from(
            "/admin/agents",
            "/admin/agents/9999/active",
            &[("active", "false")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 404);
    let r = app
        .post_with_csrf_from(
            "/admin/agents",
            "/admin/agents/9999/password",
            &[("password", "long-enough")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 404);
}

both_backends!(
    only_admins_reach_the_console,
    admins_create_agents_and_see_them_listed,
    bad_creations_are_refused_and_write_nothing,
    user_text_is_shown_as_text,
    admins_edit_reset_and_disable,
    the_last_active_admin_stays,
    unknown_agents_are_404,
);
