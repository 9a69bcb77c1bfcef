//! Entry points for `cargo fuzz` (fuzz/): each feeds arbitrary input to the
//! parsers the server runs on what clients send, exactly as the server
//! calls them. A panic here is a bug; an `Err` is the expected answer.

use crate::chat::protocol::{parse, AgentIn, VisitorIn, AGENT_TYPES, VISITOR_TYPES};
use crate::domain::message::{ClientId, MessageBody};
use crate::domain::{attachment, canned, DisplayName, NewPassword, Role, Username};
use crate::web::pages;

/// A visitor socket's text frame.
pub fn visitor_frame(text: &str) {
    let _ = parse::<VisitorIn>(text, VISITOR_TYPES);
}

/// An agent socket's text frame.
pub fn agent_frame(text: &str) {
    let _ = parse::<AgentIn>(text, AGENT_TYPES);
}

/// A message's fields, checked as both sockets check them.
pub fn message_fields(text: &str) {
    let mid = text
        .char_indices()
        .nth(text.chars().count() / 2)
        .map_or(text.len(), |(i, _)| i);
    let (head, tail) = text.split_at(mid);
    let _ = ClientId::parse(head);
    let _ = MessageBody::parse(tail);
    for files in [0, 1, 10, 11] {
        let _ = MessageBody::with_files(text, files);
    }
}

/// A form body of the login and admin pages, decoded as actix decodes
/// `web::Form` and `web::Query`, and every value through every field check.
pub fn forms(body: &[u8]) {
    use serde_urlencoded::from_bytes;
    let _ = from_bytes::<pages::login::LoginForm>(body);
    let _ = from_bytes::<pages::admin::CreateForm>(body);
    let _ = from_bytes::<pages::admin_agent::ProfileForm>(body);
    let _ = from_bytes::<pages::admin_agent::PasswordForm>(body);
    let _ = from_bytes::<pages::admin_agent::CapacityForm>(body);
    let _ = from_bytes::<pages::admin_agent::ActiveForm>(body);
    let _ = from_bytes::<pages::admin_labels::LabelForm>(body);
    let _ = from_bytes::<pages::admin_rooms::RoomForm>(body);
    let _ = from_bytes::<pages::canned::CannedForm>(body);
    let _ = from_bytes::<pages::archive::Query>(body);
    let Ok(pairs) = from_bytes::<Vec<(String, String)>>(body) else {
        return;
    };
    for (_, v) in pairs {
        let _ = Username::parse(&v);
        let _ = DisplayName::parse(&v);
        let _ = NewPassword::parse(&v);
        let _ = Role::parse(&v);
        let _ = crate::storage::labels::parse_colour(&v);
        let _ = crate::storage::labels::parse_name(&v);
        let _ = canned::parse_shortcut(&v);
        let values = canned::Values {
            visitor_name: Some(&v),
            visitor_email: None,
            agent_name: Some("agent"),
        };
        let _ = canned::fill(&v, &values);
    }
}

/// An uploaded file's first bytes and its name.
pub fn file_bytes(data: &[u8]) {
    let t = attachment::sniff(&data[..data.len().min(attachment::SNIFF_BYTES)]);
    let _ = (t.inline(), t.served_as());
    let _ = attachment::Allowed::default().allows(t);
    let _ = attachment::clean_name(&String::from_utf8_lossy(data));
}
