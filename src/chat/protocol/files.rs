//! Files as messages carry them: what a client needs to show one (a
//! thumbnail for an image, else name, size and a link).

use serde::{Deserialize, Serialize};

use super::MessageView;
use crate::domain::attachment::shown_inline;
use crate::domain::ConversationId;
use crate::storage::attachments::{self, Attachment};
use crate::storage::{DbConnection, StorageResult};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileView {
    pub id: i64,
    pub name: String,
    /// The type the server found in the bytes (and serves it with).
    pub content_type: String,
    pub size: i64,
    /// A raster image: shown inline, as a thumbnail.
    pub image: bool,
    /// Where it is fetched (the visitor with its token, agents with their session).
    pub url: String,
}

impl From<&Attachment> for FileView {
    fn from(a: &Attachment) -> Self {
        FileView {
            id: a.id,
            name: a.name.clone(),
            content_type: a.mime.clone(),
            size: a.size,
            image: shown_inline(&a.mime),
            url: format!("/files/{}", a.id),
        }
    }
}

impl FileView {
    /// `1.2 MB`, `34 KB`, `512 B`.
    pub fn size_text(&self) -> String {
        match self.size {
            b if b >= 1_000_000 => format!("{:.1} MB", b as f64 / 1e6),
            b if b >= 1_000 => format!("{} KB", b / 1_000),
            b => format!("{b} B"),
        }
    }
}

/// Gives each message (or note) the files sent with it, looked up in
/// storage (`with_private`: notes' files too; a visitor's view never).
pub fn with_files(
    db: &mut DbConnection,
    conversation: ConversationId,
    mut views: Vec<MessageView>,
    with_private: bool,
) -> StorageResult<Vec<MessageView>> {
    let files = attachments::sent_with(db, conversation, &client_ids(&views), with_private)?;
    attach(&mut views, &files);
    Ok(views)
}

fn attach(views: &mut [MessageView], files: &[Attachment]) {
    if files.is_empty() {
        return;
    }
    for v in views.iter_mut() {
        let Some(cid) = v.client_id.as_deref() else {
            continue;
        };
        v.files = files
            .iter()
            .filter(|f| f.client_id.as_deref() == Some(cid) && f.private == v.private)
            .map(FileView::from)
            .collect();
    }
}

fn client_ids(views: &[MessageView]) -> Vec<&str> {
    views
        .iter()
        .filter_map(|v| v.client_id.as_deref())
        .collect()
}
