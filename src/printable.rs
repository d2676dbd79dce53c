//! Text made safe for a terminal before it leaves the provider.
//!
//! Diagnostics and log lines carry strings from the server (messages, key and group names) and
//! from the configuration. Printed raw, an ESC sequence can retitle the window or clear the
//! screen, and a bidirectional override can make one name read as another. Every such character
//! is shown instead as a visible escape, `\u{1b}`, so the text still says what was there.

use std::borrow::Cow;

/// Characters that change how text around them is shown, or are not shown at all: C0 and C1
/// controls and DEL, the bidirectional marks, embeddings, overrides and isolates, and the
/// invisible format characters (zero-width space and joiners, word joiner, BOM, soft hyphen).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{3164}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
}

/// `text` with every unsafe character but line breaks and tabs escaped: for diagnostics, whose
/// details may span lines.
pub fn for_terminal(text: &str) -> Cow<'_, str> {
    escape(text, |c| c == '\n' || c == '\t')
}

/// `text` with every unsafe character escaped, line breaks too: for one log line.
pub fn for_log(text: &str) -> Cow<'_, str> {
    escape(text, |_| false)
}

fn escape(text: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    let unsafe_char = |c: char| is_unsafe(c) && !keep(c);
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_overrides_are_shown_not_obeyed() {
        let key = "\u{1b}]0;TITLE\u{7}\u{1b}[31mRED\u{202e}evil";
        assert_eq!(
            for_terminal(key),
            "\\u{1b}]0;TITLE\\u{7}\\u{1b}[31mRED\\u{202e}evil"
        );
        assert_eq!(for_terminal("\u{1b}[2Jgone"), "\\u{1b}[2Jgone");
        assert_eq!(
            for_terminal("a\u{85}b\u{9b}c\u{2066}d\u{200b}e\u{feff}"),
            "a\\u{85}b\\u{9b}c\\u{2066}d\\u{200b}e\\u{feff}"
        );
        assert_eq!(for_terminal("two\nlines\tand tab"), "two\nlines\tand tab");
        assert_eq!(for_log("two\nlines"), "two\\u{a}lines");
        assert!(matches!(
            for_terminal("plain ü text"),
            Cow::Borrowed("plain ü text")
        ));
    }

    proptest::proptest! {
        #[test]
        fn nothing_unsafe_is_left(text in "\\PC*|[\\x00-\\x{9f}\\x{2000}-\\x{2070}\\x{feff}]*") {
            let escaped = for_log(&text);
            proptest::prop_assert!(!escaped.chars().any(is_unsafe), "{escaped:?}");
        }
    }
}
