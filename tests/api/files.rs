//! Attachments: uploaded over HTTP with the sockets' credentials, sent in
//! messages and notes, served only to whoever may see them, as inert files
//! typed by their bytes; refused early when too large or of a type not taken.

use std::time::Duration;

use livedesk::domain::Role;
use reqwest::header::HeaderMap;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::both_backends;
use crate::helpers::*;

const PW: &str = "agent-password";

/// A real 1×1 PNG.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];
const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

/// POST /files as the visitor with `token`; the status and the JSON answer.
async fn visitor_upload(app: &TestApp, token: &str, name: &str, body: &[u8]) -> (u16, Value) {
    let r = app
        .client
        .post(app.url(&format!("/files?name={name}")))
        .bearer_auth(token)
        // The client's claim, which the server ignores.
        .header("Content-Type", "image/png")
        .body(body.to_vec())
        .send()
        .await
        .expect("POST /files");
    (r.status().as_u16(), r.json().await.expect("a JSON answer"))
}

async fn agent_upload(b: &TestApp, conv: i64, csrf: &str, name: &str, body: &[u8]) -> (u16, Value) {
    let r = b
        .client
        .post(b.url(&format!("/agent/files?conversation_id={conv}&name={name}")))
        .header("X-CSRF-Token", csrf)
        .body(body.to_vec())
        .send()
        .await
        .expect("POST /agent/files");
    (r.status().as_u16(), r.json().await.expect("a JSON answer"))
}

/// GET /files/{id}: by `b`'s session, or with a visitor token.
async fn fetch(b: &TestApp, id: &Value, token: Option<&str>) -> (u16, HeaderMap, Vec<u8>) {
    let mut req = b.client.get(b.url(&format!("/files/{id}")));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("GET /files");
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    (status, headers, r.bytes().await.unwrap().to_vec())
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

fn files_of(frame: &Value) -> Vec<Value> {
    frame["files"].as_array().cloned().unwrap_or_default()
}

async fn files_travel_with_messages(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_agent("lin", PW, Role::Agent).await;
    app.add_agent("wang", PW, Role::Agent).await;
    let (lb, mut lin, _) = app.agent_online("lin", PW).await;
    let mut v = Ws::visitor(&app).await;
    let conv = v.begin("here is a screenshot").await["conversation_id"]
        .as_i64()
        .unwrap();
    let token = v.hello_token().await;

    // The visitor's image: typed by its bytes, shown inline.
    let (status, png) = visitor_upload(&app, &token, "screen%20shot.png", PNG).await;
    assert_eq!(status, 201, "{png}");
    assert_eq!(png["content_type"], "image/png");
    assert_eq!(png["image"], true);
    assert_eq!(png["name"], "screen shot.png");
    assert_eq!(png["size"], PNG.len());
    v.send(json!({"type": "message", "client_id": "v-img", "files": [png["id"]]}))
        .await;
    let ack = v.expect("ack").await;
    assert_eq!(ack["message"]["body"], "", "files alone are a message");
    assert_eq!(files_of(&ack["message"]), vec![png.clone()]);
    let got = lin
        .expect_where("message", |f| f["message"]["client_id"] == "v-img")
        .await;
    assert_eq!(files_of(&got["message"]), vec![png.clone()]);
    let mut tab = Ws::agent(&lb).await;
    let w = tab.expect("welcome").await;
    assert_eq!(
        w["conversations"][0]["last_message"], "\u{1F4CE} screen shot.png",
        "{w}"
    );
    tab.close().await;

    // Its agent and the visitor fetch it; it is shown inline, never sniffed.
    let (s, h, bytes) = fetch(&lb, &png["id"], None).await;
    assert_eq!((s, bytes.as_slice()), (200, PNG));
    assert_eq!(header(&h, "content-type"), "image/png");
    assert!(
        header(&h, "content-disposition").starts_with("inline"),
        "{h:?}"
    );
    assert_eq!(header(&h, "x-content-type-options"), "nosniff");
    assert!(header(&h, "content-security-policy").contains("sandbox"));
    assert_eq!(fetch(&app, &png["id"], Some(&token)).await.0, 200);

    // Nobody else: no credentials, another visitor, an agent without the conversation.
    assert_eq!(fetch(&app.new_browser(), &png["id"], None).await.0, 404);
    let mut other = Ws::visitor(&app).await;
    other.hello(None, None).await;
    let other_token = other.hello_token().await;
    assert_eq!(fetch(&app, &png["id"], Some(&other_token)).await.0, 404);
    let (wb, _wang, _) = app.agent_online("wang", PW).await;
    assert_eq!(fetch(&wb, &png["id"], None).await.0, 404);
    let admin = app.new_browser();
    admin.login_admin().await;
    assert_eq!(fetch(&admin, &png["id"], None).await.0, 200);

    // Another visitor cannot send it, nor this one send it twice.
    other
        .send(json!({"type": "message", "client_id": "steal", "body": "x", "files": [png["id"]]}))
        .await;
    assert_eq!(other.expect_error().await, "bad_file");
    v.send(json!({"type": "message", "client_id": "again", "files": [png["id"]]}))
        .await;
    assert_eq!(v.expect_error().await, "bad_file");

    // The agent's upload: session and CSRF token, into its conversation.
    let csrf = lb.csrf_of_page("/agent").await;
    assert_eq!(agent_upload(&lb, conv, "wrong", "a.pdf", PDF).await.0, 403);
    let (status, pdf) = agent_upload(&lb, conv, &csrf, "invoice.pdf", PDF).await;
    assert_eq!(status, 201, "{pdf}");
    assert_eq!(
        (pdf["content_type"].as_str(), pdf["image"].as_bool()),
        (Some("application/pdf"), Some(false))
    );
    // Not sent yet: not the visitor's to see.
    assert_eq!(fetch(&app, &pdf["id"], Some(&token)).await.0, 404);
    lin.send(
        json!({"type": "message", "conversation_id": conv, "client_id": "a-pdf",
                    "body": "your invoice", "files": [pdf["id"]]}),
    )
    .await;
    assert_eq!(
        files_of(&lin.expect("ack").await["message"]),
        vec![pdf.clone()]
    );
    let got = v
        .expect_where("message", |f| f["message"]["client_id"] == "a-pdf")
        .await;
    assert_eq!(files_of(&got["message"]), vec![pdf.clone()]);
    let (s, h, bytes) = fetch(&app, &pdf["id"], Some(&token)).await;
    assert_eq!((s, bytes.as_slice()), (200, PDF));
    assert!(
        header(&h, "content-disposition").starts_with("attachment"),
        "{h:?}"
    );

    // A note's file: the agents', never the visitor's.
    let (_, secret) = agent_upload(&lb, conv, &csrf, "internal.pdf", b"%PDF-1.4 internal").await;
    lin.send(
        json!({"type": "message", "conversation_id": conv, "client_id": "n-pdf",
                    "body": "their contract", "private": true, "files": [secret["id"]]}),
    )
    .await;
    let ack = lin.expect("ack").await;
    assert_eq!(ack["message"]["private"], true);
    assert_eq!(files_of(&ack["message"]), vec![secret.clone()]);
    assert_eq!(fetch(&app, &secret["id"], Some(&token)).await.0, 404);
    assert_eq!(fetch(&lb, &secret["id"], None).await.0, 200);
    // …nor can the note's file be sent on to the visitor.
    lin.send(
        json!({"type": "message", "conversation_id": conv, "client_id": "n-pdf",
                    "body": "oops", "files": [secret["id"]]}),
    )
    .await;
    assert_eq!(lin.expect_error().await, "bad_file");
    assert_eq!(fetch(&app, &secret["id"], Some(&token)).await.0, 404);

    // Stored with the messages: the agent's history and the visitor's welcome.
    lin.send(json!({"type": "history", "conversation_id": conv}))
        .await;
    // (The first history frame, pushed when it was assigned, is older.)
    let h = lin
        .expect_where("history", |f| f["messages"].as_array().unwrap().len() >= 4)
        .await;
    let by_cid = |cid: &str| {
        h["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["client_id"] == cid)
            .cloned()
            .unwrap()
    };
    assert_eq!(files_of(&by_cid("v-img")), vec![png.clone()]);
    assert_eq!(files_of(&by_cid("a-pdf")), vec![pdf.clone()]);
    assert_eq!(files_of(&by_cid("n-pdf")), vec![secret.clone()]);
    let mut again = Ws::visitor(&app).await;
    let w = again.hello(Some(&token), None).await;
    let text = w.to_string();
    assert!(
        text.contains("invoice.pdf") && text.contains("screen shot.png"),
        "{w}"
    );
    assert!(
        !text.contains("internal.pdf"),
        "a note's file in a welcome: {w}"
    );

    // Transcripts list them: the agent's all, the visitor's not the note's.
    let r = lb
        .get(&format!("/agent/conversations/{conv}/transcript.json"))
        .await;
    let t: Value = r.json().await.unwrap();
    let note = t["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["client_id"] == "n-pdf")
        .unwrap();
    assert_eq!(files_of(note), vec![secret.clone()]);
    let (_, page) = lb
        .get_text(&format!("/agent/conversations/{conv}/transcript"))
        .await;
    assert!(
        page.contains(&format!("src=\"/files/{}\"", png["id"])),
        "a thumbnail: {page}"
    );
    let r = app.post_form("/transcript", &[("token", &token)]).await;
    let text = r.text().await.unwrap();
    assert!(
        text.contains("screen shot.png") && text.contains("invoice.pdf"),
        "{text}"
    );
    assert!(!text.contains("internal.pdf"), "{text}");
}

/// Sends a request by hand over TCP (so the body can stop short) and reads
/// the answer; the server must answer before the rest is sent.
async fn raw_request(app: &TestApp, head: &str, body: &[u8]) -> String {
    let s = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    let (mut s, mut w) = s.into_split();
    let mut all = head.as_bytes().to_vec();
    all.extend_from_slice(body);
    // Written beside the reading: the server stops reading when it refuses.
    let writer = tokio::spawn(async move {
        let _ = w.write_all(&all).await;
        w
    });
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
            if out.windows(2).any(|w| w == b"}}") {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("an answer before the whole body was sent");
    writer.abort();
    String::from_utf8_lossy(&out).into_owned()
}

fn stored_files(app: &TestApp) -> Vec<String> {
    let root = data_dir_for(app.db.url()).join("files");
    let mut out = Vec::new();
    for d in std::fs::read_dir(&root).unwrap() {
        let d = d.unwrap().path();
        for f in std::fs::read_dir(&d).unwrap() {
            out.push(f.unwrap().path().display().to_string());
        }
    }
    out
}

async fn uploads_are_refused_early(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.uploads_per_minute = 3).await;
    let mut v = Ws::visitor(&app).await;
    v.hello(None, None).await;
    let token = v.hello_token().await;
    let head = |len: usize, chunked: bool| {
        let framing = if chunked {
            "Transfer-Encoding: chunked".to_owned()
        } else {
            format!("Content-Length: {len}")
        };
        format!("POST /files?name=x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n{framing}\r\n\r\n")
    };
    // 200 MB announced, 1 KB sent: refused at once.
    let r = raw_request(&app, &head(200 << 20, false), &[b'a'; 1024]).await;
    assert!(r.starts_with("HTTP/1.1 413"), "{r}");
    assert!(r.contains("\"too_large\""), "{r}");
    // Not announced (chunked): refused once it passes the limit.
    let mut body = Vec::new();
    for _ in 0..11 {
        body.extend_from_slice(format!("{:x}\r\n", 1 << 20).as_bytes());
        body.extend(std::iter::repeat_n(b'b', 1 << 20));
        body.extend_from_slice(b"\r\n");
    }
    let r = raw_request(&app, &head(0, true), &body).await;
    assert!(r.starts_with("HTTP/1.1 413"), "{r}");
    // A type not taken (a program): refused after its first 8 KiB of 5 MB.
    let mut elf = b"\x7fELF\x02\x01\x01\x00".to_vec();
    elf.resize(9000, 0);
    let r = raw_request(&app, &head(5 << 20, false), &elf).await;
    assert!(r.starts_with("HTTP/1.1 415"), "{r}");
    assert!(r.contains("\"unsupported_type\""), "{r}");
    assert!(stored_files(&app).is_empty(), "{:?}", stored_files(&app));
    app.clock.advance(chrono::Duration::seconds(61)); // past the refused ones

    // Bytes that contradict the name and the claimed type: HTML is not an image.
    let (s, e) = visitor_upload(
        &app,
        &token,
        "cat.png",
        b"<!doctype html><script>alert(1)</script>",
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (415, Some("unsupported_type"))
    );
    let (s, e) = visitor_upload(&app, &token, "empty.txt", b"").await;
    assert_eq!((s, e["error"]["code"].as_str()), (400, Some("empty")));
    assert_eq!(
        visitor_upload(&app, "no-such-token", "a.png", PNG).await.0,
        401
    );
    assert!(stored_files(&app).is_empty());

    // Three uploads a minute per visitor (refused ones count too).
    let mut v2 = Ws::visitor(&app).await;
    v2.hello(None, None).await;
    let t2 = v2.hello_token().await;
    for i in 0..3 {
        assert_eq!(
            visitor_upload(&app, &t2, &format!("{i}.png"), PNG).await.0,
            201
        );
    }
    let (s, e) = visitor_upload(&app, &t2, "4.png", PNG).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (429, Some("rate_limited"))
    );
    app.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(visitor_upload(&app, &t2, "5.png", PNG).await.0, 201);
    // Three uploads of the same bytes: stored once.
    assert_eq!(stored_files(&app).len(), 1);
}

async fn html_and_svg_are_inert(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.upload_types = format!("{},text/html", livedesk::domain::attachment::DEFAULT_TYPES)
    })
    .await;
    let mut v = Ws::visitor(&app).await;
    v.hello(None, None).await;
    let token = v.hello_token().await;
    let html = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>";
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
    for (name, bytes, ty) in [
        ("page.png", &html[..], "text/html; charset=utf-8"),
        ("logo.svg", &svg[..], "image/svg+xml"),
    ] {
        let (s, f) = visitor_upload(&app, &token, name, bytes).await;
        assert_eq!(s, 201, "{f}");
        assert_eq!(f["image"], false, "never shown inline: {f}");
        let (s, h, _) = fetch(&app, &f["id"], Some(&token)).await;
        assert_eq!(s, 200);
        assert_eq!(header(&h, "content-type"), ty);
        assert!(
            header(&h, "content-disposition").starts_with("attachment"),
            "{h:?}"
        );
        assert_eq!(header(&h, "x-content-type-options"), "nosniff");
        let csp = header(&h, "content-security-policy");
        assert!(
            csp.contains("sandbox") && csp.contains("default-src 'none'"),
            "{csp}"
        );
    }
}

/// In a cluster: uploaded on one node, sent, delivered and fetched on another
/// (the nodes share the data directory, as they must).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_cross_the_cluster() {
    let nodes = crate::cluster::cluster(2).await;
    crate::cluster::wait_linked(&nodes).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    a.add_agent("lin", PW, Role::Agent).await;
    let (lb, mut lin, _) = b.agent_online("lin", PW).await;
    let mut v = Ws::visitor(a).await;
    let conv = v.begin("hello").await["conversation_id"].as_i64().unwrap();
    let token = v.hello_token().await;
    let (s, png) = visitor_upload(a, &token, "a.png", PNG).await;
    assert_eq!(s, 201, "{png}");
    v.send(json!({"type": "message", "client_id": "v1", "files": [png["id"]]}))
        .await;
    let got = lin
        .expect_where("message", |f| f["message"]["client_id"] == "v1")
        .await;
    assert_eq!(files_of(&got["message"]), vec![png.clone()]);
    assert_eq!(fetch(&lb, &png["id"], None).await.2, PNG);
    let csrf = lb.csrf_of_page("/agent").await;
    let (s, pdf) = agent_upload(&lb, conv, &csrf, "b.pdf", PDF).await;
    assert_eq!(s, 201, "{pdf}");
    lin.send(
        json!({"type": "message", "conversation_id": conv, "client_id": "a1",
                    "body": "from node b", "files": [pdf["id"]]}),
    )
    .await;
    let got = v
        .expect_where("message", |f| f["message"]["client_id"] == "a1")
        .await;
    assert_eq!(files_of(&got["message"]), vec![pdf.clone()]);
    assert_eq!(fetch(a, &pdf["id"], Some(&token)).await.2, PDF);
}

both_backends!(
    files_travel_with_messages,
    uploads_are_refused_early,
    html_and_svg_are_inert
);
