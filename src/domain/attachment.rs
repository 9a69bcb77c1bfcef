//! Attachments as rules: what a file is (decided from its first bytes,
//! never from the name or type the client claims), whether this server
//! takes it, and how it is served. Plain code; the upload and the serving
//! are at the edges.

/// Files one message or note may carry.
pub const PER_MESSAGE: usize = 10;

/// How many first bytes decide what a file is.
pub const SNIFF_BYTES: usize = 8192;

/// The type decided from a file's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileType {
    pub mime: &'static str,
}

impl FileType {
    /// Shown in the page (a thumbnail, an `<img>`): raster images only. An
    /// SVG can carry script, so it is never one of them.
    pub fn inline(self) -> bool {
        shown_inline(self.mime)
    }

    /// The `Content-Type` it is served with (text with its charset).
    pub fn served_as(self) -> String {
        served_as(self.mime)
    }
}

/// The `Content-Type` a file of this (sniffed) type is served with.
pub fn served_as(mime: &str) -> String {
    if mime.starts_with("text/") {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_owned()
    }
}

/// Whether a file of this (sniffed) type is shown in the page: raster images.
pub fn shown_inline(mime: &str) -> bool {
    matches!(
        mime,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp"
    )
}

/// What a file is, from its first bytes (up to [`SNIFF_BYTES`]).
pub fn sniff(head: &[u8]) -> FileType {
    if let Some(t) = infer::get(head) {
        // `infer` knows the binary formats; text ones are decided below.
        if !t.mime_type().starts_with("text/") && t.mime_type() != "image/svg+xml" {
            return FileType {
                mime: t.mime_type(),
            };
        }
    }
    let Some(text) = utf8_prefix(head) else {
        return FileType {
            mime: "application/octet-stream",
        };
    };
    let start = text.trim_start_matches('\u{feff}').trim_start();
    let lower: String = start.chars().take(512).collect::<String>().to_lowercase();
    let mime = if lower.contains("<svg") {
        "image/svg+xml"
    } else if lower.starts_with("<!doctype html")
        || lower.starts_with("<html")
        || lower.contains("<script")
        || lower.contains("<body")
        || lower.contains("<iframe")
    {
        "text/html"
    } else if lower.starts_with("<?xml") {
        "application/xml"
    } else {
        "text/plain"
    };
    FileType { mime }
}

/// The text of `head` when it is UTF-8 (a character cut at its end
/// allowed) without control characters other than whitespace.
fn utf8_prefix(head: &[u8]) -> Option<&str> {
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        // A multi-byte character cut by the sniffing window.
        Err(e) if e.error_len().is_none() && head.len() - e.valid_up_to() < 4 => {
            std::str::from_utf8(&head[..e.valid_up_to()]).ok()?
        }
        Err(_) => return None,
    };
    text.chars()
        .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t' | '\u{c}'))
        .then_some(text)
}

/// The types this server takes: exact (`application/pdf`) or a family
/// (`image/*`), from `LIVEDESK_UPLOAD_TYPES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed(Vec<String>);

/// Images, PDF, plain text and the common office documents.
pub const DEFAULT_TYPES: &str = "image/*,application/pdf,text/plain,text/csv,\
application/msword,application/vnd.openxmlformats-officedocument.wordprocessingml.document,\
application/vnd.ms-excel,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,\
application/vnd.ms-powerpoint,application/vnd.openxmlformats-officedocument.presentationml.presentation,\
application/vnd.oasis.opendocument.text,application/vnd.oasis.opendocument.spreadsheet,\
application/vnd.oasis.opendocument.presentation";

impl Allowed {
    pub fn parse(list: &str) -> Self {
        Self(
            list.split(',')
                .map(|t| t.trim().to_ascii_lowercase())
                .filter(|t| !t.is_empty())
                .collect(),
        )
    }

    pub fn allows(&self, t: FileType) -> bool {
        self.0.iter().any(|a| match a.strip_suffix("/*") {
            Some(family) => t.mime.split('/').next() == Some(family),
            None => a == t.mime,
        })
    }
}

impl Default for Allowed {
    fn default() -> Self {
        Self::parse(DEFAULT_TYPES)
    }
}

/// A file name as it may be shown and offered for download: its last path
/// part, without control characters, at most 200 characters; never empty.
pub fn clean_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '\u{202e}' | '\u{202d}'))
        .take(200)
        .collect();
    match cleaned.trim().trim_matches('.') {
        "" => "file".to_owned(),
        t => t.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";

    #[test]
    fn the_bytes_decide_not_the_name() {
        assert_eq!(sniff(PNG).mime, "image/png");
        assert_eq!(sniff(b"%PDF-1.7\n%...").mime, "application/pdf");
        assert_eq!(sniff("订单号 12345\nthanks".as_bytes()).mime, "text/plain");
        assert_eq!(
            sniff(b"<!DOCTYPE html><script>alert(1)</script>").mime,
            "text/html"
        );
        assert_eq!(sniff(b"hello <script>x()</script>").mime, "text/html");
        assert_eq!(
            sniff(br#"<?xml version="1.0"?><svg onload="alert(1)"/>"#).mime,
            "image/svg+xml"
        );
        assert_eq!(sniff(b"\0\x01\x02binary").mime, "application/octet-stream");
        // A character cut by the window is still text.
        let cut = "é".repeat(10);
        assert_eq!(sniff(&cut.as_bytes()[..19]).mime, "text/plain");
    }

    #[test]
    fn only_raster_images_are_shown_inline() {
        assert!(sniff(PNG).inline());
        assert!(!sniff(b"<svg/>").inline());
        assert!(!sniff(b"<html>").inline());
        assert!(!sniff(b"%PDF-1.4").inline());
        assert_eq!(sniff(b"plain").served_as(), "text/plain; charset=utf-8");
    }

    #[test]
    fn allowed_types_by_name_or_family() {
        let d = Allowed::default();
        assert!(d.allows(sniff(PNG)));
        assert!(d.allows(sniff(b"%PDF-1.7")));
        assert!(d.allows(sniff(b"just text")));
        assert!(!d.allows(sniff(b"<html><body>hi")));
        assert!(!d.allows(sniff(b"\0\0binary")));
        let pdf_only = Allowed::parse(" application/PDF , ");
        assert!(pdf_only.allows(sniff(b"%PDF-1.7")));
        assert!(!pdf_only.allows(sniff(PNG)));
    }

    #[test]
    fn names_are_cleaned() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name(r"C:\Users\vera\发票.pdf"), "发票.pdf");
        assert_eq!(clean_name("a\"b\u{202e}gpj.exe\n"), "abgpj.exe");
        assert_eq!(clean_name(".."), "file");
        assert_eq!(clean_name(""), "file");
        assert_eq!(clean_name(&"x".repeat(300)).len(), 200);
    }
}
