//! Text for people: strings from the network shortened and made safe for
//! a terminal. The lowest module that needs them is the diagnosis, so they
//! live here with the vocabulary; `sink::format` re-exports them.

use std::fmt::Write as _;

/// `s` with every control character made visible (`\n`, `\e`,
/// `\u{7}`), so that bytes from the network never drive the terminal.
pub fn visible(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{1b}' => out.push_str("\\e"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Trimmed, with runs of white space made one space: the form in which
/// the diagnosis compares message texts.
pub fn normalize(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `width` characters, with `…` where it was cut.
pub fn shorten(s: &str, width: usize) -> String {
    match s.char_indices().nth(width) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}
