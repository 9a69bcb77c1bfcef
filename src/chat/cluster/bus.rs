//! The Redis link of a node, on a thread of its own: one connection that
//! publishes (fed by a queue, so no actor ever waits on Redis) and one that
//! listens on this node's channel (and, on the leader, the leader's). It
//! also renews the leases: the leader's, and this node's own.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::{Message, Recipient};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::wire::{Request, ToNode};
use super::ClusterConfig;

/// What the node's channels bring, for the Dispatcher.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub enum Inbound {
    Request(Request),
    ToNode(ToNode),
    /// These nodes' leases have run out: their sockets are gone.
    NodesGone(Vec<String>),
    /// The leader died and this node took the lead.
    Promoted,
    /// Another node leads now: it knows nothing of this node's sockets.
    LeaderChanged,
    /// This node led, and another node holds the leader's lease now (Redis
    /// came back empty and the other was first): it stops deciding.
    Demoted,
    /// The link was lost and is back: what was published meanwhile is gone.
    Resync,
}

enum Out {
    Publish {
        channel: String,
        payload: String,
    },
    /// Which of these nodes no longer hold a lease? (answered as `NodesGone`)
    CheckNodes(Vec<String>),
}

#[derive(Clone)]
pub struct Bus {
    out: mpsc::UnboundedSender<Out>,
    cfg: Arc<ClusterConfig>,
    inbound: Arc<Mutex<Option<Recipient<Inbound>>>>,
    connected: Arc<AtomicBool>,
    leading: Arc<AtomicBool>,
}

impl Bus {
    /// Starts the link. `leader`: this node decides, so it listens for calls.
    pub fn start(cfg: ClusterConfig, leader: bool) -> anyhow::Result<Self> {
        let client = redis::Client::open(cfg.redis_url.as_str())?;
        let (tx, rx) = mpsc::unbounded_channel();
        let bus = Bus {
            out: tx,
            cfg: Arc::new(cfg),
            inbound: Arc::default(),
            connected: Arc::new(AtomicBool::new(false)),
            leading: Arc::new(AtomicBool::new(leader)),
        };
        let b = bus.clone();
        std::thread::Builder::new()
            .name("livedesk-cluster".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("cluster runtime");
                rt.block_on(run(b, client, rx, leader));
            })?;
        Ok(bus)
    }

    pub fn config(&self) -> &ClusterConfig {
        &self.cfg
    }

    /// Where what arrives goes (the Dispatcher, once it runs).
    pub fn deliver_to(&self, r: Recipient<Inbound>) {
        *self.inbound.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
    }

    /// Does this node hold the leader's lease (as far as it last heard)?
    pub fn leading(&self) -> bool {
        self.leading.load(Ordering::Relaxed)
    }

    /// Is the link to Redis up (for `/healthz`)?
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    pub fn to_leader(&self, r: &Request) {
        self.publish(self.cfg.leader_channel(), r);
    }

    pub fn to_node(&self, node: &str, m: &ToNode) {
        self.publish(self.cfg.node_channel(node), m);
    }

    pub fn check_nodes(&self, nodes: Vec<String>) {
        let _ = self.out.send(Out::CheckNodes(nodes));
    }

    fn publish(&self, channel: String, v: &impl serde::Serialize) {
        match serde_json::to_string(v) {
            Ok(payload) => {
                let _ = self.out.send(Out::Publish { channel, payload });
            }
            Err(e) => tracing::error!(error = %e, "could not encode a cluster message"),
        }
    }

    fn hand_in(&self, m: Inbound) {
        if let Some(r) = self
            .inbound
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            r.do_send(m);
        }
    }
}

fn spawn_listener(bus: &Bus, client: &redis::Client, leader: bool) -> tokio::task::JoinHandle<()> {
    let (bus, client) = (bus.clone(), client.clone());
    tokio::spawn(async move {
        let mut lost = false;
        loop {
            if let Err(e) = listen(&bus, &client, &bus.cfg, leader, lost).await {
                bus.connected.store(false, Ordering::Relaxed);
                tracing::warn!(error = %e, "cluster link lost; reconnecting");
                lost = true;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
}

async fn run(
    bus: Bus,
    client: redis::Client,
    mut rx: mpsc::UnboundedReceiver<Out>,
    mut leader: bool,
) {
    let cfg = bus.cfg.clone();
    let mut listener = spawn_listener(&bus, &client, leader);
    let mut conn = loop {
        match redis::aio::ConnectionManager::new(client.clone()).await {
            Ok(c) => break c,
            Err(e) => {
                tracing::warn!(error = %e, "cannot reach Redis; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    };
    let mut known_leader = super::lease::leader(&mut conn, &cfg).await.ok().flatten();
    let mut missed: std::collections::HashMap<String, u32> = Default::default();
    // Ticks in a row that found no leader: a live leader takes its lease back
    // within one tick, so only a leader gone for a whole TTL is replaced.
    let mut leaderless = 0u32;
    let mut renew = tokio::time::interval(cfg.ttl / 3);
    loop {
        tokio::select! {
            m = rx.recv() => match m {
                Some(Out::Publish { channel, payload }) => {
                    // Whatever queued up meanwhile goes in one round trip,
                    // in order: one PUBLISH at a time capped a node at a few
                    // thousand relayed messages per second.
                    let mut pipe = redis::pipe();
                    pipe.cmd("PUBLISH").arg(&channel).arg(&payload).ignore();
                    let mut later = None;
                    for _ in 0..1024 {
                        match rx.try_recv() {
                            Ok(Out::Publish { channel, payload }) => {
                                pipe.cmd("PUBLISH").arg(&channel).arg(&payload).ignore();
                            }
                            Ok(other) => {
                                later = Some(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    let mut r: redis::RedisResult<()> = pipe.query_async(&mut conn).await;
                    // Redis came back while this connection was idle: the
                    // first command finds it broken and the manager
                    // reconnects. While the listener is linked again, try
                    // again rather than lose a rejoin or a resync.
                    for _ in 0..3 {
                        if r.is_ok() || !bus.connected() {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        r = pipe.query_async(&mut conn).await;
                    }
                    if let Err(e) = r {
                        tracing::warn!(error = %e, "could not publish to the cluster");
                    }
                    if let Some(Out::CheckNodes(nodes)) = later {
                        bus.check_nodes(nodes);
                    }
                }
                Some(Out::CheckNodes(nodes)) => {
                    // Gone after two checks in a row without a lease: a node
                    // renews every third of its TTL, also into an emptied Redis.
                    let mut gone = Vec::new();
                    missed.retain(|n, _| nodes.contains(n));
                    for n in nodes {
                        let alive: redis::RedisResult<bool> = redis::cmd("EXISTS").arg(cfg.node_key(&n)).query_async(&mut conn).await;
                        match alive {
                            Ok(false) => {
                                let m = missed.entry(n.clone()).or_default();
                                *m += 1;
                                if *m >= 2 {
                                    missed.remove(&n);
                                    gone.push(n);
                                }
                            }
                            Ok(true) => {
                                missed.remove(&n);
                            }
                            Err(_) => {}
                        }
                    }
                    if !gone.is_empty() {
                        bus.hand_in(Inbound::NodesGone(gone));
                    }
                }
                None => break,
            },
            _ = renew.tick() => {
                match super::lease::renew(&mut conn, &cfg, leader).await {
                    Err(e) => {
                        tracing::warn!(error = %e, "could not renew this node's cluster lease");
                        continue;
                    }
                    Ok(false) => {
                        // Another node leads now: this one stops deciding.
                        leader = false;
                        bus.leading.store(false, Ordering::Relaxed);
                        known_leader = None;
                        listener.abort();
                        listener = spawn_listener(&bus, &client, false);
                        bus.hand_in(Inbound::Demoted);
                        continue;
                    }
                    Ok(true) => {}
                }
                if leader {
                    continue;
                }
                // Not leading: is there still a leader, and the same one?
                match super::lease::leader(&mut conn, &cfg).await {
                    Ok(None) => {
                        leaderless += 1;
                        if leaderless >= 3 && matches!(super::lease::claim_leader(&mut conn, &cfg).await, Ok(true)) {
                            tracing::warn!(node = %cfg.node_id, "the leader is gone; this node leads now");
                            leader = true;
                            bus.leading.store(true, Ordering::Relaxed);
                            known_leader = Some(cfg.node_id.clone());
                            listener.abort();
                            listener = spawn_listener(&bus, &client, true);
                            bus.hand_in(Inbound::Promoted);
                        }
                    }
                    Ok(Some(now)) => {
                        leaderless = 0;
                        if known_leader.as_deref().is_some_and(|k| k != now) {
                            tracing::warn!(leader = %now, "another node leads now");
                            bus.hand_in(Inbound::LeaderChanged);
                        }
                        known_leader = Some(now);
                    }
                    Err(e) => tracing::warn!(error = %e, "could not read the cluster's leader"),
                }
            }
        }
    }
    listener.abort();
}

/// Subscribes and hands in what arrives, until the connection drops.
async fn listen(
    bus: &Bus,
    client: &redis::Client,
    cfg: &ClusterConfig,
    leader: bool,
    after_loss: bool,
) -> redis::RedisResult<()> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(cfg.node_channel(&cfg.node_id)).await?;
    if leader {
        pubsub.subscribe(cfg.leader_channel()).await?;
    }
    bus.connected.store(true, Ordering::Relaxed);
    if after_loss {
        // Whatever was published while the link was down never came.
        bus.hand_in(Inbound::Resync);
    }
    let mut stream = pubsub.into_on_message();
    while let Some(msg) = stream.next().await {
        let payload: String = msg.get_payload()?;
        let m = if msg.get_channel_name() == cfg.leader_channel() {
            serde_json::from_str(&payload).map(Inbound::Request)
        } else {
            serde_json::from_str(&payload).map(Inbound::ToNode)
        };
        match m {
            Ok(m) => bus.hand_in(m),
            Err(e) => tracing::warn!(error = %e, "unreadable cluster message dropped"),
        }
    }
    Err(redis::RedisError::from((
        redis::ErrorKind::Io,
        "subscription ended",
    )))
}
