//! Rules for text people type that others will read.

/// Characters that change the direction text is shown in without being
/// visible: in a name they let "Lin\u{202E}gnaW" read as "LinWang" reversed,
/// spoofing who someone is. Right-to-left text itself (Arabic, Hebrew) is fine.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

pub fn without_bidi_controls(s: &str) -> String {
    s.chars().filter(|c| !is_bidi_control(*c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_overrides_go_and_right_to_left_text_stays() {
        assert_eq!(without_bidi_controls("Lin\u{202E}gnaW"), "LingnaW");
        assert_eq!(without_bidi_controls("\u{2067}x\u{2069}\u{200F}"), "x");
        assert_eq!(without_bidi_controls("שלום مرحبا"), "שלום مرحبا");
        assert!(!is_bidi_control('a'));
    }
}
