//! `livedesk migrate`, `livedesk agent …` and `livedesk room …`: accounts
//! and team rooms from a shell.

use std::io::BufRead;

use anyhow::{bail, Context};

use crate::config::{AgentCommand, RoomCommand, Settings};
use crate::domain::RoomId;
use crate::domain::{password, Clock, DisplayName, NewPassword, Role, Username};
use crate::startup::open_storage;
use crate::storage::{agents, rooms, sessions, StorageError};

pub fn migrate(settings: &Settings) -> anyhow::Result<()> {
    open_storage(settings)?;
    println!("database is up to date");
    Ok(())
}

fn read_password(from_stdin: bool) -> anyhow::Result<(NewPassword, bool)> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let pw = line.trim_end_matches(['\r', '\n']);
        Ok((
            NewPassword::parse(pw).context("password must be 8-128 characters")?,
            false,
        ))
    } else {
        Ok((NewPassword::parse(&password::generate_password())?, true))
    }
}

fn find(conn: &mut crate::storage::DbConnection, raw: &str) -> anyhow::Result<agents::Agent> {
    let name = Username::parse(raw)?;
    match agents::find_by_username(conn, name.as_str())? {
        Some((a, _)) => Ok(a),
        None => bail!("no agent named '{}'", name),
    }
}

pub fn agent(settings: &Settings, cmd: AgentCommand) -> anyhow::Result<()> {
    let storage = open_storage(settings)?;
    let mut conn = storage.conn()?;
    let conn = &mut *conn;
    match cmd {
        AgentCommand::Add {
            username,
            name,
            admin,
            password_stdin,
        } => {
            let username = Username::parse(&username)?;
            let display = DisplayName::parse(name.as_deref().unwrap_or(username.as_str()))?;
            let role = if admin { Role::Admin } else { Role::Agent };
            let (pw, generated) = read_password(password_stdin)?;
            let hash = password::hash_password(pw.expose());
            let new = agents::NewAgent {
                username: username.as_str(),
                display_name: display.as_str(),
                password_hash: &hash,
                role,
            };
            match agents::insert(conn, &new, Clock::default().now_naive()) {
                Ok(a) => println!("created {} '{}' (id {})", role.as_str(), a.username, a.id),
                Err(StorageError::Conflict) => {
                    bail!("an agent named '{}' already exists", username)
                }
                Err(e) => return Err(e.into()),
            }
            if generated {
                println!("password: {}", pw.expose());
            }
        }
        AgentCommand::Passwd {
            username,
            password_stdin,
        } => {
            let a = find(conn, &username)?;
            let (pw, generated) = read_password(password_stdin)?;
            agents::set_password_hash(conn, a.id, &password::hash_password(pw.expose()))?;
            let ended = sessions::delete_for_agent(conn, a.id)?;
            println!(
                "password of '{}' changed; {ended} session(s) ended",
                a.username
            );
            if generated {
                println!("password: {}", pw.expose());
            }
        }
        AgentCommand::Disable { username } => {
            let a = find(conn, &username)?;
            match agents::set_active(conn, a.id, false) {
                Ok(_) => {}
                Err(StorageError::LastAdmin) => bail!(
                    "'{}' is the last active admin and cannot be disabled",
                    a.username
                ),
                Err(e) => return Err(e.into()),
            }
            let ended = sessions::delete_for_agent(conn, a.id)?;
            println!("disabled '{}'; {ended} session(s) ended", a.username);
        }
        AgentCommand::Enable { username } => {
            let a = find(conn, &username)?;
            agents::set_active(conn, a.id, true)?;
            println!("enabled '{}'", a.username);
        }
        AgentCommand::List => {
            println!(
                "{:<6} {:<32} {:<24} {:<6} {:<8} last login",
                "id", "username", "display name", "role", "active"
            );
            for a in agents::list(conn)? {
                println!(
                    "{:<6} {:<32} {:<24} {:<6} {:<8} {}",
                    a.id,
                    a.username,
                    a.display_name,
                    a.role.as_str(),
                    if a.active { "yes" } else { "no" },
                    a.last_login_at
                        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                        .unwrap_or_else(|| "never".into())
                );
            }
        }
    }
    Ok(())
}

fn room_named(conn: &mut crate::storage::DbConnection, name: &str) -> anyhow::Result<rooms::Room> {
    match rooms::find_by_name(conn, name) {
        Err(StorageError::NotFound) => bail!("no room named '{}'", name.trim()),
        other => Ok(other?),
    }
}

pub fn room(settings: &Settings, cmd: RoomCommand) -> anyhow::Result<()> {
    let storage = open_storage(settings)?;
    let mut conn = storage.conn()?;
    let conn = &mut *conn;
    let everyone = || anyhow::anyhow!("the everyone room keeps its name and members");
    match cmd {
        RoomCommand::Add {
            name,
            members,
            topic,
        } => {
            let name = rooms::parse_name(&name).context("a room name is 1-64 characters")?;
            let topic = rooms::parse_topic(topic.as_deref())
                .map_err(|_| anyhow::anyhow!("a topic is at most 200 characters"))?;
            let ids = members
                .iter()
                .map(|m| find(conn, m).map(|a| a.id))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let now = Clock::default().now_naive();
            match rooms::create(conn, &name, topic.as_deref(), &ids, now) {
                Ok(r) => println!(
                    "created room '{}' (id {}, {} members)",
                    r.name,
                    r.id,
                    ids.len()
                ),
                Err(StorageError::Conflict) => bail!("a room named '{}' already exists", name),
                Err(e) => return Err(e.into()),
            }
        }
        RoomCommand::List => {
            println!("{:<6} {:<24} members", "id", "name");
            for (r, m) in rooms::list(conn)? {
                let members = match r.everyone {
                    true => "(every active agent)".to_owned(),
                    false => m.into_iter().map(|(_, u)| u).collect::<Vec<_>>().join(", "),
                };
                println!("{:<6} {:<24} {}", r.id, r.name, members);
            }
        }
        RoomCommand::AddMember { name, username } => {
            let (r, a) = (room_named(conn, &name)?, find(conn, &username)?);
            match rooms::add_member(conn, RoomId(r.id), a.id) {
                Ok(true) => println!("added '{}' to '{}'", a.username, r.name),
                Ok(false) => println!("'{}' is in '{}' already", a.username, r.name),
                Err(StorageError::Conflict) => return Err(everyone()),
                Err(e) => return Err(e.into()),
            }
        }
        RoomCommand::RemoveMember { name, username } => {
            let (r, a) = (room_named(conn, &name)?, find(conn, &username)?);
            match rooms::remove_member(conn, RoomId(r.id), a.id) {
                Ok(true) => println!("removed '{}' from '{}'", a.username, r.name),
                Ok(false) => bail!("'{}' is not in '{}'", a.username, r.name),
                Err(StorageError::Conflict) => return Err(everyone()),
                Err(e) => return Err(e.into()),
            }
        }
        RoomCommand::Delete { name } => {
            let r = room_named(conn, &name)?;
            match rooms::delete(conn, RoomId(r.id)) {
                Ok(_) => println!("deleted room '{}'", r.name),
                Err(StorageError::Conflict) => bail!("the everyone room cannot be deleted"),
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}
