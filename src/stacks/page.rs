//! Reading error pages: the small text operations every stack module
//! needs (a span between two markers, HTML entities, the first line).

/// The text between `start` and `end` after the first `start` in `text`.
pub fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = &text[text.find(start)? + start.len()..];
    Some(&rest[..rest.find(end)?])
}

/// `s` with its HTML entities decoded (`&#39;` is `'`; `&nbsp` without
/// its `;`, as Starlette writes it, is a space).
pub fn decode_html(s: &str) -> String {
    html_escape::decode_html_entities(&s.replace("&nbsp;", " ").replace("&nbsp", " ")).into_owned()
}

/// The first line of `s`, trimmed.
pub fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_owned()
}
