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

/// The server's sockets send each small frame at once (TCP_NODELAY): with
/// Nagle's algorithm, a burst of frames to one agent waited for the client's
/// delayed ACK. The server runs in this process, so its accepted socket is
/// one of this process's file descriptors.
#[tokio::test]
async fn accepted_sockets_have_nagle_off() {
    let app = spawn_app(Backend::Sqlite).await;
    let mut v = Ws::visitor(&app).await;
    v.hello(None, None).await; // accepted, upgraded and answered
    let mut accepted = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap() {
        let Ok(fd) = entry.unwrap().file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let (Some(local), Some(_peer)) = (
            sock_port(fd, libc::getsockname),
            sock_port(fd, libc::getpeername),
        ) else {
            continue;
        };
        if local == app.port {
            let mut on: libc::c_int = 0;
            let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            // SAFETY: fd is open (listed just now); `on`/`len` are valid for the call.
            let r = unsafe {
                libc::getsockopt(
                    fd,
                    libc::IPPROTO_TCP,
                    libc::TCP_NODELAY,
                    (&mut on as *mut libc::c_int).cast(),
                    &mut len,
                )
            };
            assert_eq!(r, 0);
            accepted.push(on);
        }
    }
    assert!(
        !accepted.is_empty(),
        "the server's accepted socket was not found"
    );
    assert!(
        accepted.iter().all(|on| *on != 0),
        "TCP_NODELAY off: {accepted:?}"
    );
}

/// The port of a socket's local or peer address; None for anything else.
fn sock_port(
    fd: i32,
    get: unsafe extern "C" fn(
        libc::c_int,
        *mut libc::sockaddr,
        *mut libc::socklen_t,
    ) -> libc::c_int,
) -> Option<u16> {
    let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `addr` is large enough for any address and `len` says so.
    if unsafe {
        get(
            fd,
            (&mut addr as *mut libc::sockaddr_storage).cast(),
            &mut len,
        )
    } != 0
    {
        return None;
    }
    match addr.ss_family as i32 {
        libc::AF_INET => {
            // SAFETY: the family says it is a sockaddr_in.
            let a =
                unsafe { &*(&addr as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(u16::from_be(a.sin_port))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says it is a sockaddr_in6.
            let a =
                unsafe { &*(&addr as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(u16::from_be(a.sin6_port))
        }
        _ => None,
    }
}
