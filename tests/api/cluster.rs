//! Several nodes as one service: real nodes (in this process) on one
//! PostgreSQL database and the real Redis at 127.0.0.1:6379, each test in a
//! cluster of its own name. Under CI=true a missing Redis fails loudly.

use livedesk::chat::messages::GetPresence;
use livedesk::domain::Role;
use serde_json::json;

use crate::helpers::*;

pub(crate) const PW: &str = "agent-password";

/// `n` nodes of one cluster: the first leads.
pub(crate) async fn cluster(n: usize) -> Vec<TestApp> {
    let db = TestDb::create(Backend::Postgres);
    let settings = cluster_settings(&db);
    let first = spawn_on(db, settings.clone()).await;
    let mut nodes = vec![first];
    for _ in 1..n {
        let node = nodes[0].another_node(settings.clone()).await;
        nodes.push(node);
    }
    nodes
}

/// Waits until every node's cluster link is up (it subscribes right after the start).
pub(crate) async fn wait_linked(nodes: &[TestApp]) {
    for node in nodes {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (status, body) = node.get_text("/healthz").await;
            assert_eq!(status, 200);
            if body == r#"{"status":"ok","database":"ok","redis":"ok"}"# {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{body}");
            tokio::task::yield_now().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_on_one_node_and_its_agent_on_another_talk_both_ways() {
    let nodes = cluster(2).await;
    wait_linked(&nodes).await;
    let (leader, other) = (&nodes[0], &nodes[1]);
    leader.add_agent("lin", PW, Role::Agent).await;
    // The agent on the node that does not lead, the visitor on the leader, and the other way round.
    for (agent_node, visitor_node) in [(other, leader), (leader, other)] {
        let (_b, mut lin, _) = agent_node.agent_online("lin", PW).await;
        let mut v = Ws::visitor(visitor_node).await;
        let w = v.begin("hello across nodes").await;
        assert_eq!(w["status"], "assigned", "{w}");
        assert_eq!(w["agent"]["name"], "lin");
        let conv = w["conversation_id"].as_i64().unwrap();
        let m = lin
            .expect_where("message", |f| f["message"]["conversation_id"] == conv)
            .await;
        assert_eq!(m["message"]["body"], "hello across nodes");
        lin.agent_say(conv, "a1", "hi from the other node").await;
        let back = v.expect("message").await;
        assert_eq!(back["message"]["body"], "hi from the other node");
        let typing = json!({"type": "typing", "conversation_id": conv, "active": true});
        lin.send(typing).await;
        assert_eq!(v.expect("typing").await["active"], true);
        v.close().await;
        lin.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_with_tabs_on_two_nodes_is_one_agent() {
    let nodes = cluster(3).await;
    nodes[0].add_agent("lin", PW, Role::Agent).await;
    let (_a, mut tab_a, _) = nodes[1].agent_online("lin", PW).await;
    let (_b, mut tab_b, _) = nodes[2].agent_online("lin", PW).await;
    let presence = nodes[0].dispatcher.send(GetPresence).await.unwrap();
    assert_eq!(presence.len(), 1, "{presence:?}");
    assert_eq!(
        presence[0].nodes.len(),
        2,
        "one socket on each of two nodes: {presence:?}"
    );
    // The admin console's live view, asked on a third node, says the same.
    let admin = nodes[0].new_browser();
    admin.login_admin().await;
    let live: serde_json::Value = admin.get("/admin/presence").await.json().await.unwrap();
    assert_eq!(live[0]["nodes"].as_array().unwrap().len(), 2, "{live}");
    let from_other_node = nodes[1].dispatcher.send(GetPresence).await.unwrap();
    assert_eq!(
        from_other_node, presence,
        "every node sees the cluster's presence"
    );
    let mut v = Ws::visitor(&nodes[0]).await;
    let w = v.begin("to both tabs").await;
    let conv = w["conversation_id"].as_i64().unwrap();
    for tab in [&mut tab_a, &mut tab_b] {
        let m = tab
            .expect_where("message", |f| f["message"]["conversation_id"] == conv)
            .await;
        assert_eq!(m["message"]["body"], "to both tabs");
    }
    // One tab closes: the agent stays online and keeps the conversation.
    tab_a.close().await;
    v.say("v2", "still there?").await;
    let m = tab_b
        .expect_where("message", |f| f["message"]["client_id"] == "v2")
        .await;
    assert_eq!(m["message"]["body"], "still there?");
    let presence = nodes[2].dispatcher.send(GetPresence).await.unwrap();
    assert_eq!(presence.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_from_three_nodes_have_one_winner() {
    let nodes = cluster(3).await;
    let mut tabs = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let name = format!("agent{i}");
        nodes[0].add_agent(&name, PW, Role::Agent).await;
        let (b, mut ws, _) = node.agent_online(&name, PW).await;
        ws.send(json!({"type": "status", "status": "away"})).await;
        ws.expect("status").await;
        tabs.push((b, ws));
    }
    let mut v = Ws::visitor(&nodes[1]).await;
    let w = v.begin("who takes me?").await;
    assert_eq!(w["status"], "queued");
    let conv = w["conversation_id"].as_i64().unwrap();
    for (_, ws) in tabs.iter_mut() {
        ws.send(json!({"type": "claim", "conversation_id": conv}))
            .await;
    }
    let mut winners = 0;
    let mut losers = 0;
    for (_, ws) in tabs.iter_mut() {
        let f = ws
            .expect_where_any(&["conversation", "error"], |f| {
                f["type"] == "error" || f["conversation"]["status"] == "assigned"
            })
            .await;
        match f["type"].as_str() {
            Some("conversation") => winners += 1,
            _ => {
                assert_eq!(f["code"], "already_assigned", "{f}");
                losers += 1;
            }
        }
    }
    assert_eq!((winners, losers), (1, 2));
    let placed = v.expect("assigned").await;
    assert!(placed["agent"]["name"]
        .as_str()
        .unwrap()
        .starts_with("agent"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_on_sqlite_is_refused_with_a_clear_message() {
    let db = TestDb::create(Backend::Sqlite);
    let settings = cluster_settings(&db);
    let err = livedesk::startup::Application::build(settings)
        .await
        .err()
        .expect("refused");
    let msg = format!("{err:#}");
    assert!(msg.contains("needs PostgreSQL"), "{msg}");
    assert!(msg.contains("LIVEDESK_REDIS_URL"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_an_agent_on_one_node_closes_its_socket_on_another_at_once() {
    let nodes = cluster(3).await;
    let lin = nodes[0].add_agent("lin", PW, Role::Agent).await;
    nodes[0].add_agent("wang", PW, Role::Agent).await;
    let (_lb, mut lin_ws, _) = nodes[1].agent_online("lin", PW).await;
    let mut v = Ws::visitor(&nodes[1]).await;
    let w = v.begin("hello").await;
    assert_eq!(w["agent"]["name"], "lin");
    let (_wb, mut wang, _) = nodes[0].agent_online("wang", PW).await;

    let admin = nodes[2].new_browser();
    admin.login_admin().await;
    let page = format!("/admin/agents/{}", lin.id.0);
    let r = admin
        .post_with_csrf_from(&page, &format!("{page}/active"), &[("active", "false")])
        .await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(lin_ws.expect_close().await, 1008);
    // Its conversation moves now, not after the grace period.
    let c = wang
        .expect_where("conversation", |f| {
            f["conversation"]["agent"]["name"] == "wang"
        })
        .await;
    assert_eq!(c["conversation"]["id"], w["conversation_id"]);
    assert_eq!(v.expect("assigned").await["agent"]["name"], "wang");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_agents_arriving_at_once_on_two_nodes_drain_the_queue_once() {
    let nodes = cluster(3).await;
    nodes[0].add_agent("lin", PW, Role::Agent).await;
    nodes[0].add_agent("wang", PW, Role::Agent).await;
    let mut visitors = Vec::new();
    for i in 0..50 {
        let mut v = Ws::visitor(&nodes[i % 3]).await;
        let w = v.begin(&format!("visitor {i}")).await;
        assert_eq!(w["status"], "queued");
        visitors.push((w["conversation_id"].as_i64().unwrap(), v));
    }
    let (a, b) = tokio::join!(
        nodes[1].agent_online("lin", PW),
        nodes[2].agent_online("wang", PW)
    );
    let (mut lin, mut wang) = (a.1, b.1);
    let mut owner = std::collections::HashMap::new();
    for (conv, v) in visitors.iter_mut() {
        let f = v.expect("assigned").await;
        owner.insert(*conv, f["agent"]["name"].as_str().unwrap().to_owned());
    }
    // Each agent was told of exactly the conversations it got, each once.
    for (name, ws) in [("lin", &mut lin), ("wang", &mut wang)] {
        let mine: Vec<i64> = owner
            .iter()
            .filter(|(_, n)| *n == name)
            .map(|(c, _)| *c)
            .collect();
        let mut told = std::collections::BTreeSet::new();
        while told.len() < mine.len() {
            let f = ws
                .expect_where("conversation", |f| {
                    f["conversation"]["status"] == "assigned"
                })
                .await;
            let id = f["conversation"]["id"].as_i64().unwrap();
            assert_eq!(
                owner[&id], name,
                "{name} told of {id}, which {} has",
                owner[&id]
            );
            told.insert(id);
        }
    }
    assert_eq!(owner.len(), 50);
    // Nobody was handed a conversation twice.
    for (_, v) in visitors.iter_mut().take(5) {
        v.assert_no("assigned", std::time::Duration::from_millis(100))
            .await;
    }
}
