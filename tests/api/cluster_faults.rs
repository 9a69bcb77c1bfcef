//! A cluster under faults: nodes in processes of their own, killed with
//! SIGKILL (no goodbye: their sockets just stop, their leases run out).

use livedesk::config::Settings;
use livedesk::domain::Role;

use crate::cluster::PW;
use crate::helpers::*;
use crate::process::{node_command, spawn_node};
use serde_json::json;

/// A node in a process of its own, to be killed; its URL once it serves.
fn node_process(settings: &Settings, db_url: &str) -> (std::process::Child, String) {
    let extra = [
        ("LIVEDESK_REDIS_URL", redis_url()),
        ("LIVEDESK_CLUSTER", settings.cluster.clone()),
        ("LIVEDESK_NODE_TTL_SECS", settings.node_ttl_secs.to_string()),
        (
            "LIVEDESK_AGENT_GRACE_SECS",
            settings.agent_grace_secs.to_string(),
        ),
    ];
    spawn_node(node_command(db_url, "127.0.0.1:0", &extra)).expect("the node serves")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_nodes_agent_loses_its_conversations_to_an_agent_on_another_node() {
    let db = TestDb::create(Backend::Postgres);
    let db_url = db.url().to_owned();
    let mut settings = cluster_settings(&db);
    settings.node_ttl_secs = 1;
    settings.agent_grace_secs = 1;
    let leader = spawn_on(db, settings.clone()).await;
    leader.add_agent("lin", PW, Role::Agent).await;
    leader.add_agent("wang", PW, Role::Agent).await;
    let s = settings.clone();
    let (mut child, url) = tokio::task::spawn_blocking(move || node_process(&s, &db_url))
        .await
        .unwrap();
    let mut doomed = leader.new_browser();
    doomed.port = url.rsplit(':').next().unwrap().parse().unwrap();
    doomed.address = url;
    let (_lb, _lin, _) = doomed.agent_online("lin", PW).await;
    let mut v = Ws::visitor(&leader).await;
    let w = v.begin("are you there?").await;
    assert_eq!(w["agent"]["name"], "lin");
    let (_wb, mut wang, _) = leader.agent_online("wang", PW).await;

    child.kill().unwrap(); // SIGKILL: no goodbye, its sockets just stop
    child.wait().unwrap();
    // Within the node TTL (1 s) + the grace period (1 s) + 5 s.
    let started = std::time::Instant::now();
    assert_eq!(v.expect("assigned").await["agent"]["name"], "wang");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(7),
        "{:?}",
        started.elapsed()
    );
    let c = wang
        .expect_where("conversation", |f| {
            f["conversation"]["id"] == w["conversation_id"]
        })
        .await;
    assert_eq!(c["conversation"]["agent"]["name"], "wang");
    // The visitor misses nothing: its history is all there on the surviving node.
    v.say("v2", "hello wang").await;
    let m = wang
        .expect_where("message", |f| f["message"]["client_id"] == "v2")
        .await;
    assert_eq!(m["message"]["body"], "hello wang");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_leader_is_killed_another_node_leads_and_nothing_is_lost() {
    let db = TestDb::create(Backend::Postgres);
    let db_url = db.url().to_owned();
    let mut settings = cluster_settings(&db);
    settings.node_ttl_secs = 1;
    settings.agent_grace_secs = 10;
    // The leader, in a process of its own, starts first; this node relays to it.
    let (s, u) = (settings.clone(), db_url.clone());
    let (mut leader, _) = tokio::task::spawn_blocking(move || node_process(&s, &u))
        .await
        .unwrap();
    let node = spawn_on(db, settings.clone()).await;
    node.add_agent("lin", PW, Role::Agent).await;
    let (lb, mut lin, _) = node.agent_online("lin", PW).await;
    let mut v = Ws::visitor(&node).await;
    let w = v.begin("before the leader died").await;
    assert_eq!(w["agent"]["name"], "lin", "{w}");
    let token = w["token"].as_str().unwrap().to_owned();
    let conv = w["conversation_id"].as_i64().unwrap();
    lin.expect_where("message", |f| f["message"]["conversation_id"] == conv)
        .await;

    leader.kill().unwrap();
    leader.wait().unwrap();
    // Within the TTL the surviving node leads. Its sockets stay open and
    // join the Desk it now runs: lin gets a fresh welcome, still owning the
    // conversation (back within the grace period), and the visitor hears
    // who has it.
    let welcome = lin.expect("welcome").await;
    let mine = &welcome["conversations"];
    assert!(
        mine.as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == conv && c["agent"]["name"] == "lin"),
        "lin keeps the conversation: {welcome}"
    );
    let a = v.expect("assigned").await;
    assert_eq!(
        (a["conversation_id"].as_i64(), &a["agent"]["name"]),
        (Some(conv), &json!("lin"))
    );
    // Messages flow both ways again, on the same sockets, nothing twice.
    v.say("after", "after the failover").await;
    let m = lin
        .expect_where("message", |f| f["message"]["client_id"] == "after")
        .await;
    assert_eq!(m["message"]["seq"], 2);
    assert!(
        !lin.kept("message", |f| f["message"]["seq"] == 1),
        "seq 1 once"
    );
    lin.agent_say(conv, "a-after", "still here").await;
    assert_eq!(v.expect("message").await["message"]["body"], "still here");
    drop((lb, token));
}

/// A Redis server of this test's own (the shared one stays up for the other
/// tests), on a fixed port so it can be restarted where the nodes look for it.
struct OwnRedis {
    port: u16,
    child: Option<std::process::Child>,
}

impl OwnRedis {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut r = OwnRedis { port, child: None };
        r.restart();
        r
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts it (empty: it keeps nothing on disk) and waits until it answers.
    fn restart(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (`apt-get install redis-server`; bash .ci/run installs it)");
        self.child = Some(child);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server did not start"
            );
            std::thread::yield_now();
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn health(node: &TestApp) -> String {
    node.get_text("/healthz").await.1
}

/// A leader and another node on a Redis of the test's own.
async fn on_own_redis() -> (OwnRedis, TestApp, TestApp) {
    let redis = OwnRedis::start();
    let db = TestDb::create(Backend::Postgres);
    let mut settings = cluster_settings(&db);
    settings.redis_url = Some(livedesk::config::Secret::new(redis.url()));
    settings.node_ttl_secs = 2;
    let leader = spawn_on(db, settings.clone()).await;
    let node = leader.another_node(settings).await;
    (redis, leader, node)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_redis_restart_every_socket_catches_up_exactly_and_messages_flow() {
    let (mut redis, leader, node) = on_own_redis().await;
    leader.add_agent("lin", PW, Role::Agent).await;
    let (lb, mut lin, _) = leader.agent_online("lin", PW).await;
    let mut v = Ws::visitor(&node).await;
    let w = v.begin("before").await;
    assert_eq!(w["agent"]["name"], "lin", "{w}");
    let token = w["token"].as_str().unwrap().to_owned();
    let conv = w["conversation_id"].as_i64().unwrap();
    lin.expect_where("message", |f| f["message"]["client_id"] == "first")
        .await;
    // The (empty) history that came with the new conversation.
    assert_eq!(lin.expect("history").await["messages"], json!([]));

    redis.kill();
    let deadline = tokio::time::Instant::now() + WAIT;
    while !health(&node).await.contains(r#""redis":"unreachable""#) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never reported degraded"
        );
        tokio::task::yield_now().await;
    }
    // Still stored and acknowledged while Redis is away, both ways (the
    // agent's message cannot reach the visitor's node now).
    let a = lin
        .agent_say(conv, "a-during", "agent, while Redis is away")
        .await;
    assert_eq!(a["seq"], 2, "{a}");
    let during = v.say("during", "sent while Redis is away").await;
    assert_eq!(during["seq"], 3);

    redis.restart();
    // Every socket stays open, joins again and catches up: nothing lost,
    // nothing twice, and the outage moved nothing. The agent gets a fresh
    // welcome and asks for what it lacks; the visitor hears its status again.
    let welcome = lin.expect("welcome").await;
    let mine = welcome["conversations"].as_array().unwrap();
    assert!(
        mine.iter()
            .any(|c| c["id"] == conv && c["agent"]["name"] == "lin"),
        "the outage moved nothing: {welcome}"
    );
    lin.send(serde_json::json!({"type": "history", "conversation_id": conv, "after_seq": 1}))
        .await;
    let h = lin.expect("history").await;
    let seqs: Vec<i64> = h["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, vec![2, 3], "{h}");
    // The visitor gets the agent's message (live if it squeezed through,
    // else from the catch-up), once.
    let m = v
        .expect_where("message", |f| f["message"]["seq"] == 2)
        .await;
    assert_eq!(m["message"]["body"], "agent, while Redis is away");
    assert_eq!(v.expect("assigned").await["agent"]["name"], "lin");
    // And new messages flow both ways again, on the same sockets.
    v.say("after", "after the restart").await;
    let m = lin
        .expect_where("message", |f| f["message"]["client_id"] == "after")
        .await;
    assert_eq!(m["message"]["seq"], 4);
    assert!(
        !lin.kept("message", |f| f["message"]["seq"] == 3),
        "seq 3 came once, in the history"
    );
    lin.agent_say(conv, "a-after", "welcome back").await;
    // Nothing twice for the visitor, and its own message is not sent back
    // to it by the catch-up.
    assert_eq!(v.expect("message").await["message"]["body"], "welcome back");
    assert!(!v.kept("message", |_| true), "nothing else came");
    drop((lb, token));
    let deadline = tokio::time::Instant::now() + WAIT;
    while !health(&node).await.contains(r#""redis":"ok""#) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never healthy again"
        );
        tokio::task::yield_now().await;
    }
}

/// While Redis is away a node that does not lead keeps delivering between
/// its own sockets (an agent may go on writing to its conversation); when
/// Redis is back, nothing comes twice and the leader hears of it all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_a_redis_outage_a_node_delivers_between_its_own_sockets() {
    let (mut redis, leader, node) = on_own_redis().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !health(&node).await.contains(r#""redis":"ok""#) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the node never linked"
        );
        tokio::task::yield_now().await;
    }
    leader.add_agent("lin", PW, Role::Agent).await;
    let (_lb, mut lin, _) = node.agent_online("lin", PW).await;
    let mut v = Ws::visitor(&node).await;
    let w = v.begin("before").await;
    assert_eq!(w["agent"]["name"], "lin", "{w}");
    let conv = w["conversation_id"].as_i64().unwrap();
    lin.expect_where("message", |f| f["message"]["client_id"] == "first")
        .await;

    redis.kill();
    let deadline = tokio::time::Instant::now() + WAIT;
    while !health(&node).await.contains(r#""redis":"unreachable""#) {
        assert!(tokio::time::Instant::now() < deadline, "never degraded");
        tokio::task::yield_now().await;
    }
    // Both ways, live, on this node alone.
    assert_eq!(v.say("v-out", "while Redis is away").await["seq"], 2);
    let m = lin
        .expect_where("message", |f| f["message"]["client_id"] == "v-out")
        .await;
    assert_eq!(m["message"]["seq"], 2);
    assert_eq!(
        lin.agent_say(conv, "a-out", "I still hear you").await["seq"],
        3
    );
    let m = v.expect("message").await;
    assert_eq!(
        (m["message"]["seq"].as_i64(), &m["message"]["body"]),
        (Some(3), &json!("I still hear you"))
    );

    redis.restart();
    // Back: the sockets rejoin (a fresh welcome for the agent), the leader
    // knows the conversation is lin's, and messages flow through it again.
    let welcome = lin.expect("welcome").await;
    assert!(
        welcome["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == conv && c["agent"]["name"] == "lin"),
        "{welcome}"
    );
    assert_eq!(v.expect("assigned").await["agent"]["name"], "lin");
    v.say("v-back", "and now?").await;
    let m = lin
        .expect_where("message", |f| f["message"]["client_id"] == "v-back")
        .await;
    assert_eq!(m["message"]["seq"], 4);
    lin.agent_say(conv, "a-back", "all good").await;
    let m = v.expect("message").await;
    assert_eq!(
        m["message"]["body"], "all good",
        "nothing twice before it: {m}"
    );
    for seq in [2, 3] {
        assert!(
            !lin.kept("message", |f| f["message"]["seq"] == seq),
            "seq {seq} once"
        );
    }
}
