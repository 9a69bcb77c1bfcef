//! The real binary in a process of its own: to kill it, or to watch it
//! refuse to start.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

use crate::helpers::*;

/// The binary with what every spawned node of the suite shares, listening
/// on `bind`; `extra` adds or overrides `LIVEDESK_*` variables.
pub fn node_command(db_url: &str, bind: &str, extra: &[(&str, String)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_livedesk"));
    cmd.env_clear()
        .env("LIVEDESK_DATABASE_URL", db_url)
        .env("LIVEDESK_DATA_DIR", data_dir_for(db_url))
        .env("LIVEDESK_BIND", bind)
        .env("LIVEDESK_TEST_CAPTCHA", CAPTCHA)
        .env("LIVEDESK_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("LIVEDESK_VISITOR_SOCKETS_PER_IP", "0")
        .env("LIVEDESK_NEW_CONVERSATIONS_PER_IP", "0")
        .env("LIVEDESK_CONNECTIONS_PER_IP", "0")
        .env("LIVEDESK_LOG", "warn");
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd
}

/// Starts it: the child and its URL once it serves, or what it said on
/// stderr when it exited instead. (Its stderr is read all along, so a
/// chatty node never blocks on a full pipe.)
pub fn spawn_node(mut cmd: Command) -> Result<(Child, String), String> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the node starts");
    let mut stderr = child.stderr.take().unwrap();
    let said = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines.map_while(Result::ok).find_map(|l| {
        l.split_once("is running at ")
            .map(|(_, u)| u.trim_end_matches('/').to_owned())
    });
    match url {
        Some(url) => Ok((child, url)),
        None => {
            let _ = child.wait();
            Err(said.join().unwrap_or_default())
        }
    }
}
