//! `livedesk-bench relay`: the framework's ceiling to compare livedesk with.
//!
//! A plain relay in the shape of actix's chat examples (actix-web, actix-ws,
//! one hub task that every socket talks to): a visitor's message is
//! acknowledged and handed to an agent at once, stored nowhere, checked for
//! nothing. It speaks just enough of livedesk's protocol and pages (sign-in
//! form, agent creation, `welcome`, `ack`, `message`) for the `durable`
//! scenario to drive it unchanged, so the two are measured by one generator.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

type Out = UnboundedSender<String>;

enum Cmd {
    Agent(Out),
    Message {
        visitor: u64,
        reply: Out,
        client_id: String,
        body: String,
    },
}

#[derive(Deserialize)]
struct In {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    body: String,
}

/// The hub: one task; conversations are given to agents in turn.
async fn hub(mut rx: UnboundedReceiver<Cmd>) {
    let mut agents: Vec<Out> = Vec::new();
    let mut next_agent = 0;
    // visitor -> (conversation, agent, last seq)
    let mut conversations: HashMap<u64, (u64, usize, u64)> = HashMap::new();
    let mut next_conversation = 0;
    while let Some(cmd) = rx.recv().await {
        match cmd {
            Cmd::Agent(out) => agents.push(out),
            Cmd::Message {
                visitor,
                reply,
                client_id,
                body,
            } => {
                let c = conversations.entry(visitor).or_insert_with(|| {
                    next_conversation += 1;
                    next_agent += 1;
                    (next_conversation, next_agent, 0)
                });
                c.2 += 1;
                let m = serde_json::json!({
                    "conversation_id": c.0, "seq": c.2, "client_id": client_id, "body": body,
                });
                if !agents.is_empty() {
                    let _ = agents[c.1 % agents.len()]
                        .send(format!(r#"{{"type":"message","message":{m}}}"#));
                }
                let _ = reply.send(format!(
                    r#"{{"type":"ack","client_id":{},"message":{m}}}"#,
                    serde_json::Value::String(client_id)
                ));
            }
        }
    }
}

static VISITORS: AtomicU64 = AtomicU64::new(0);

async fn socket(
    req: HttpRequest,
    body: web::Payload,
    hub: web::Data<UnboundedSender<Cmd>>,
    agent: bool,
) -> actix_web::Result<HttpResponse> {
    let (res, mut session, mut stream) = actix_ws::handle(&req, body)?;
    let (tx, mut rx) = unbounded_channel::<String>();
    let visitor = VISITORS.fetch_add(1, Ordering::Relaxed);
    if agent {
        let _ = hub.send(Cmd::Agent(tx.clone()));
    }
    let hub = hub.get_ref().clone();
    actix_rt::spawn(async move {
        loop {
            tokio::select! {
                m = stream.next() => match m {
                    Some(Ok(actix_ws::Message::Text(t))) if !agent => {
                        let Ok(f) = serde_json::from_str::<In>(&t) else { continue };
                        match f.kind.as_str() {
                            "hello" => {
                                let _ = tx.send(r#"{"type":"welcome","token":"relay","conversation_id":null}"#.into());
                            }
                            "message" => {
                                let _ = hub.send(Cmd::Message {
                                    visitor,
                                    reply: tx.clone(),
                                    client_id: f.client_id,
                                    body: f.body,
                                });
                            }
                            _ => {}
                        }
                    }
                    Some(Ok(actix_ws::Message::Ping(b))) => {
                        let _ = session.pong(&b).await;
                    }
                    Some(Ok(actix_ws::Message::Close(_))) | Some(Err(_)) | None => break,
                    Some(Ok(_)) => {}
                },
                Some(out) = rx.recv() => {
                    if session.text(out).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = session.close(None).await;
    });
    Ok(res)
}

/// The sign-in and admin pages, as far as the generator reads them.
async fn form() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html")
        .body(r#"<form><input type="hidden" name="csrf_token" value="relay"></form>"#)
}

async fn signed_in() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", "/"))
        .insert_header(("Set-Cookie", "livedesk_session=relay; Path=/"))
        .finish()
}

/// Serves until killed.
pub fn serve(bind: &str, workers: usize) -> anyhow::Result<()> {
    let bind = bind.to_owned();
    actix_rt::System::new().block_on(async move {
        let (tx, rx) = unbounded_channel();
        actix_rt::spawn(hub(rx));
        let hub = web::Data::new(tx);
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(hub.clone())
                .route("/login", web::get().to(form))
                .route("/login", web::post().to(signed_in))
                .route("/admin/agents", web::get().to(form))
                .route("/admin/agents", web::post().to(signed_in))
                .route(
                    "/ws/visitor",
                    web::get().to(|r, b, h| socket(r, b, h, false)),
                )
                .route("/ws/agent", web::get().to(|r, b, h| socket(r, b, h, true)))
        })
        .tcp_nodelay(true);
        if workers > 0 {
            server = server.workers(workers);
        }
        let server = server.bind(&bind)?;
        println!("relay listening on http://{bind}");
        server.run().await?;
        Ok(())
    })
}
