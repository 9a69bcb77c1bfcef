//! The SQLite default on a full disk: what cannot be stored is refused with
//! `unavailable` (never acknowledged), nothing stored is damaged, and once
//! there is room again the same messages, sent again, are stored once.
//! The disk is a real small filesystem (tmpfs of 8 MiB, mounted for the test:
//! this needs root, as the machine the suite runs on has).

use std::path::{Path, PathBuf};
use std::process::Command;

use diesel::{Connection, RunQueryDsl, SqliteConnection};
use livedesk::domain::{ConversationId, Role};

use crate::helpers::*;

struct SmallDisk {
    at: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let at = dir.path().join("disk");
        std::fs::create_dir(&at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&at)
            .output()
            .expect("mount runs");
        assert!(
            out.status.success(),
            "the disk-full test mounts a small tmpfs and needs root for it: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk { at, _dir: dir }
    }

    fn path(&self) -> &Path {
        &self.at
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.at).status();
    }
}

/// Fills the disk with a file until there is no room left.
fn fill(path: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let block = vec![7u8; 64 * 1024];
    while f.write_all(&block).is_ok() {}
    let mut small = vec![7u8; 512];
    while !small.is_empty() {
        if f.write_all(&small).is_err() {
            small.truncate(small.len() / 2);
        }
    }
    let _ = f.sync_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_full_disk_nothing_is_acknowledged_that_is_not_stored() {
    let disk = SmallDisk::mount("8m");
    let db_file = disk.path().join("livedesk.sqlite3");
    let url = format!("sqlite://{}", db_file.display());
    let db = TestDb::Sqlite {
        _dir: tempfile::tempdir().unwrap(),
        url: url.clone(),
    };
    let app = spawn_on(db, test_settings(&url)).await;
    app.add_agent("lin", "agent-password", Role::Agent).await;
    let (_b, mut lin, _) = app.agent_online("lin", "agent-password").await;
    let mut v = Ws::visitor(&app).await;
    let conv = v.begin("hello").await["conversation_id"].as_i64().unwrap();
    assert_eq!(
        v.offer("before", "stored before the disk filled").await["type"],
        "ack"
    );

    fill(&disk.path().join("filler"));
    // Messages go until one cannot be stored; it is refused, not acknowledged.
    let body = "x".repeat(4000);
    let mut acked = vec!["first".to_string(), "before".to_string()];
    let mut refused = None;
    for i in 0..2000 {
        let cid = format!("m{i}");
        let f = v.offer(&cid, &body).await;
        if f["type"] == "ack" {
            acked.push(cid);
        } else {
            assert_eq!(f["code"], "unavailable", "{f}");
            refused = Some(cid);
            break;
        }
    }
    let refused = refused.expect("a full disk refused a message");

    // Room again: sent again, it is stored once; nothing before it is lost.
    std::fs::remove_file(disk.path().join("filler")).unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while v.offer(&refused, &body).await["type"] != "ack" {
        assert!(tokio::time::Instant::now() < deadline, "no recovery");
    }
    acked.push(refused.clone());
    lin.expect_where("message", |f| f["message"]["client_id"] == refused.as_str())
        .await;
    let stored = app
        .storage
        .run(move |db| livedesk::storage::messages::after(db, ConversationId(conv), 0, 5000))
        .await
        .unwrap();
    let cids: Vec<String> = stored.iter().filter_map(|m| m.client_id.clone()).collect();
    assert_eq!(cids, acked, "exactly the acknowledged messages, in order");
    let seqs: Vec<i64> = stored.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=stored.len() as i64).collect::<Vec<_>>());
    let mut c = SqliteConnection::establish(db_file.to_str().unwrap()).unwrap();
    #[derive(diesel::QueryableByName)]
    struct Check {
        #[diesel(sql_type = diesel::sql_types::Text)]
        integrity_check: String,
    }
    let r: Vec<Check> = diesel::sql_query("PRAGMA integrity_check")
        .load(&mut c)
        .unwrap();
    assert_eq!(r[0].integrity_check, "ok");
}

/// A read-only database (its filesystem remounted read-only while the node
/// was down): the node refuses to start and says why, plainly; nothing
/// stored is damaged; once the disk is writable again it starts and serves
/// what was stored. (A filesystem cannot turn read-only under a running
/// node here: the kernel refuses while a file on it is open for writing.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_database_is_refused_plainly_and_recovers() {
    use crate::process::{node_command, spawn_node};
    let disk = SmallDisk::mount("8m");
    let db_file = disk.path().join("livedesk.sqlite3");
    let url = format!("sqlite://{}", db_file.display());
    let cmd = || node_command(&url, "127.0.0.1:0", &[]);
    let (mut node, address) = spawn_node(cmd()).expect("the node serves");
    let port: u16 = address.rsplit(':').next().unwrap().parse().unwrap();
    let mut v = Ws::connect_to(port, "/ws/visitor", &[]).await.unwrap();
    v.hello(None, None).await;
    assert_eq!(v.say("m1", "stored before").await["seq"], 1);
    v.close().await;
    // Stopped as a service manager stops it, so that nothing is open.
    unsafe { libc::kill(node.id() as i32, libc::SIGTERM) };
    assert!(node.wait().unwrap().success());

    let remount = |how: &str| {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,{how}")])
            .arg(disk.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    remount("ro");
    let said = spawn_node(cmd())
        .map(|_| ())
        .expect_err("a node on a read-only database");
    assert!(
        said.contains("is read-only") && said.contains(&db_file.display().to_string()),
        "{said}"
    );
    assert!(!said.contains("panicked"), "{said}");

    remount("rw");
    let (mut node, address) = spawn_node(cmd()).expect("the node serves again");
    let port: u16 = address.rsplit(':').next().unwrap().parse().unwrap();
    let mut v = Ws::connect_to(port, "/ws/visitor", &[]).await.unwrap();
    v.hello(None, None).await;
    assert_eq!(
        v.say("m2", "stored after").await["seq"],
        1,
        "a new visitor's conversation"
    );
    node.kill().unwrap();
    node.wait().unwrap();
    let mut c = SqliteConnection::establish(db_file.to_str().unwrap()).unwrap();
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let r: Vec<Count> =
        diesel::sql_query("SELECT count(*) AS n FROM messages WHERE body LIKE 'stored %'")
            .load(&mut c)
            .unwrap();
    assert_eq!(r[0].n, 2, "both messages, once each");
}
