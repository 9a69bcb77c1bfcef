//! Rooms and notes across two nodes of a cluster: the same stories as on
//! one node, with the senders on one node and the readers on the other.

use crate::cluster::cluster;
use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_reach_members_on_other_nodes_and_no_one_else() {
    let nodes = cluster(2).await;
    crate::rooms::rooms_reach_members_only(&nodes[1], &nodes[0]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_stay_with_agents_across_nodes() {
    let nodes = cluster(2).await;
    // The agents on the node that does not lead, the visitor on the leader.
    crate::notes::notes_stay_with_agents(&nodes[1], &nodes[0]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_and_announcements_reach_every_node() {
    let nodes = cluster(2).await;
    nodes[0]
        .add_agent("lin", crate::rooms::PW, livedesk::domain::Role::Agent)
        .await;
    let (_b, mut lin, _) = nodes[0].agent_online("lin", crate::rooms::PW).await;
    let mut v = Ws::visitor(&nodes[0]).await;
    v.hello(None, None).await;
    let admin = &nodes[1];
    admin.login_admin().await;
    let page = "/admin/announcements";
    let r = admin
        .post_with_csrf_from(
            page,
            "/admin/notices",
            &[("body", "Back at 9"), ("hours", "1")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(v.expect("notice").await["body"], "Back at 9");
    let r = admin
        .post_with_csrf_from(page, page, &[("body", "Team meeting at 3")])
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let a = lin.expect("announcement").await;
    assert_eq!(a["announcement"]["body"], "Team meeting at 3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_are_live_across_nodes() {
    let nodes = cluster(2).await;
    // The agents on the node that does not lead, the admin on the leader.
    crate::labels::labels_reach_whoever_sees_the_conversation(&nodes[1], &nodes[0]).await;
}
