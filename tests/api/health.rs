use crate::both_backends;
use crate::helpers::*;

async fn healthz_answers_ok_when_the_database_does(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, body) = app.get_text("/healthz").await;
    assert_eq!(status, 200);
    assert!(body.contains(r#""database":"ok""#), "{body}");
}

async fn metrics_count_requests_by_route(backend: Backend) {
    let app = spawn_app(backend).await;
    app.get("/login").await;
    app.get("/no/such/page").await;
    let (status, body) = app.get_text("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        body.contains(
            r#"livedesk_http_requests_total{method="GET",route="/login",status="200"} 1"#
        ),
        "{body}"
    );
    assert!(body.contains(r#"route="unmatched",status="404""#), "{body}");
    assert!(
        body.contains("livedesk_http_request_duration_seconds_bucket"),
        "{body}"
    );
}

both_backends!(
    healthz_answers_ok_when_the_database_does,
    metrics_count_requests_by_route
);

/// With its database gone, the node reports 503 rather than pretending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_is_503_when_postgres_is_gone() {
    let app = spawn_app(Backend::Postgres).await;
    assert_eq!(app.get("/healthz").await.status().as_u16(), 200);
    app.db.drop_postgres();
    let (status, body) = app.get_text("/healthz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("unavailable"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_pages_get_a_localized_404_without_internals() {
    let app = spawn_app(Backend::Sqlite).await;
    let r = app
        .client
        .get(app.url("/nothing-here"))
        .header("Accept-Language", "zh-CN,zh;q=0.9")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let body = r.text().await.unwrap();
    assert!(body.contains("页面不存在"), "{body}");
    assert!(
        !body.contains("panicked") && !body.contains("src/"),
        "{body}"
    );
}
