//! Canned responses: a shortcut and a text with placeholders, filled in for
//! one conversation. `{visitor.name}`, `{visitor.email}`, `{agent.name}`; a
//! fallback after `|` for a value that is not known (`{visitor.name|there}`).
//! Anything else in braces is left as written.

pub const SHORTCUT_MAX: usize = 32;

/// What placeholders are filled with (`None`: not known).
#[derive(Debug, Default, Clone)]
pub struct Values<'a> {
    pub visitor_name: Option<&'a str>,
    pub visitor_email: Option<&'a str>,
    pub agent_name: Option<&'a str>,
}

pub fn fill(text: &str, v: &Values<'_>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let inner = &after[..close];
        let (key, fallback) = match inner.split_once('|') {
            Some((k, f)) => (k.trim(), Some(f)),
            None => (inner.trim(), None),
        };
        let value = match key {
            "visitor.name" => Some(v.visitor_name),
            "visitor.email" => Some(v.visitor_email),
            "agent.name" => Some(v.agent_name),
            _ => None,
        };
        match value {
            Some(known) => {
                let known = known.map(str::trim).filter(|s| !s.is_empty());
                out.push_str(known.or(fallback).unwrap_or(""));
            }
            // Not a placeholder: keep it as written.
            None => {
                out.push('{');
                out.push_str(inner);
                out.push('}');
            }
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// A shortcut: 1-32 characters, no spaces, without a leading `/`.
pub fn parse_shortcut(raw: &str) -> Option<String> {
    let s = raw.trim().trim_start_matches('/');
    let n = s.chars().count();
    ((1..=SHORTCUT_MAX).contains(&n) && !s.chars().any(|c| c.is_whitespace() || c.is_control()))
        .then(|| s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_with_fallbacks() {
        let v = Values {
            visitor_name: Some("Vera"),
            visitor_email: None,
            agent_name: Some("Lin"),
        };
        assert_eq!(
            fill("Hi {visitor.name|there}, I'm {agent.name}.", &v),
            "Hi Vera, I'm Lin."
        );
        assert_eq!(
            fill("Mail: {visitor.email|not given}", &v),
            "Mail: not given"
        );
        assert_eq!(fill("Mail: {visitor.email}!", &v), "Mail: !");
        assert_eq!(
            fill("{order.id} and {unclosed", &v),
            "{order.id} and {unclosed"
        );
        let blank = Values {
            visitor_name: Some("  "),
            ..Values::default()
        };
        assert_eq!(fill("Hi {visitor.name|there}", &blank), "Hi there");
        assert_eq!(
            fill("你好，{visitor.name|朋友}", &Values::default()),
            "你好，朋友"
        );
    }

    #[test]
    fn shortcuts_are_short_words() {
        assert_eq!(parse_shortcut("/thanks").as_deref(), Some("thanks"));
        assert_eq!(parse_shortcut("退款").as_deref(), Some("退款"));
        assert_eq!(parse_shortcut("two words"), None);
        assert_eq!(parse_shortcut(""), None);
        assert_eq!(parse_shortcut(&"x".repeat(33)), None);
    }
}
