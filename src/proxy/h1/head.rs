//! Message heads as they come off the wire (RFC 9112 sections 2 to 6):
//! parsed with `httparse`, the field names and values kept as slices of
//! the bytes read (no copies), in the order and case they were sent, and
//! written back out the same way.

use std::ops::Range;

use bytes::{Bytes, BytesMut};

use crate::proxy::headers::{has_token, Fields};

/// The most fields a head may have: hyper's default, which wsdiag used
/// before it had a forwarder of its own.
pub const MAX_FIELDS: usize = 100;

/// The most bytes a head may take. nginx takes 32 KiB at most
/// (`large_client_header_buffers`); this leaves room for large cookies.
pub const MAX_HEAD: usize = 256 << 10;

/// One header field, as sent.
#[derive(Debug, Clone)]
pub struct Field {
    /// The name in the sender's case.
    pub name: Bytes,
    /// The value, surrounding whitespace trimmed (RFC 9112 section 5).
    pub value: Bytes,
}

/// `bytes` as text, a byte sequence that is not UTF-8 as U+FFFD (checked
/// whole first: `from_utf8_lossy` alone goes chunk by chunk, at four
/// times the cost on the usual ASCII field).
fn text(bytes: &[u8]) -> String {
    std::str::from_utf8(bytes).map_or_else(
        |_| String::from_utf8_lossy(bytes).into_owned(),
        str::to_owned,
    )
}

/// Header fields in the order and case they were sent; the proxy's
/// changes ([`crate::proxy::headers::prepare_request`]) edit them in place.
#[derive(Debug, Clone, Default)]
pub struct FieldList(pub Vec<Field>);

impl Fields for FieldList {
    fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a [u8]> {
        let name = name.as_bytes();
        self.0
            .iter()
            .filter(move |f| f.name.eq_ignore_ascii_case(name))
            .map(|f| &f.value[..])
    }

    fn remove(&mut self, name: &str) {
        let name = name.as_bytes();
        self.0.retain(|f| !f.name.eq_ignore_ascii_case(name));
    }

    /// In one pass over the fields (the hop-by-hop ones are ten or more
    /// names, on every request and response).
    fn remove_each(&mut self, names: &[&str]) {
        self.0.retain(|f| {
            !names
                .iter()
                .any(|n| f.name.eq_ignore_ascii_case(n.as_bytes()))
        });
    }

    fn append(&mut self, name: &'static str, value: &[u8]) {
        self.0.push(Field {
            name: Bytes::from_static(name.as_bytes()),
            value: Bytes::copy_from_slice(value),
        });
    }

    fn set(&mut self, name: &'static str, value: &[u8]) {
        let value = Bytes::copy_from_slice(value);
        let key = name.as_bytes();
        match self.0.iter().position(|f| f.name.eq_ignore_ascii_case(key)) {
            // The first one keeps its place and its case.
            Some(at) => {
                self.0[at].value = value;
                if !self.0[at + 1..]
                    .iter()
                    .any(|f| f.name.eq_ignore_ascii_case(key))
                {
                    return;
                }
                let mut seen = 0;
                self.0.retain(|f| {
                    let same = f.name.eq_ignore_ascii_case(key);
                    seen += usize::from(same);
                    !same || seen == 1
                });
            }
            None => self.0.push(Field {
                name: Bytes::from_static(key),
                value,
            }),
        }
    }
}

impl FieldList {
    /// Appends `name: value\r\n` for each field to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        for f in &self.0 {
            out.extend_from_slice(&f.name);
            out.extend_from_slice(b": ");
            out.extend_from_slice(&f.value);
            out.extend_from_slice(b"\r\n");
        }
    }

    /// The fields as the capture keeps them: names in lower case (as
    /// hyper gave them before), values as text.
    pub fn recorded(&self) -> crate::event::Headers {
        self.0
            .iter()
            .map(|f| {
                let mut name = text(&f.name);
                name.make_ascii_lowercase();
                (name, text(&f.value))
            })
            .collect()
    }

    /// Whether the message asks to close the connection after it: `close`
    /// in `Connection`, or HTTP/1.0 without `keep-alive` (RFC 9112
    /// section 9.3).
    pub fn wants_close(&self, minor_version: u8) -> bool {
        has_token(self, "connection", "close")
            || (minor_version == 0 && !has_token(self, "connection", "keep-alive"))
    }
}

/// A request head.
#[derive(Debug)]
pub struct RequestHead {
    /// The method, as sent.
    pub method: String,
    /// The request target, as sent (origin form for what is forwarded).
    pub target: String,
    /// 1 for HTTP/1.1, 0 for HTTP/1.0.
    pub minor_version: u8,
    /// The header fields.
    pub fields: FieldList,
    /// The whole head as read.
    pub raw: Bytes,
}

/// A response head.
#[derive(Debug)]
pub struct ResponseHead {
    /// The status code.
    pub status: u16,
    /// The reason phrase, as sent (may be empty).
    pub reason: Bytes,
    /// 1 for HTTP/1.1, 0 for HTTP/1.0.
    pub minor_version: u8,
    /// The header fields.
    pub fields: FieldList,
}

/// Why a head could not be read, with the status that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadError {
    /// 400 for a malformed head, 431 for one too large.
    pub status: u16,
    /// What was wrong, for the capture and the answer.
    pub message: String,
}

impl HeadError {
    fn malformed(what: impl std::fmt::Display) -> HeadError {
        HeadError {
            status: 400,
            message: format!("malformed head: {what}"),
        }
    }

    fn too_large(what: &str) -> HeadError {
        HeadError {
            status: 431,
            message: format!(
                "{what}: wsdiag takes at most {MAX_FIELDS} header fields and {} KiB of head",
                MAX_HEAD >> 10
            ),
        }
    }
}

/// What a parse found so far: a whole head (taken off `buf`), or `None`
/// when more bytes are needed.
type Parsed<T> = Result<Option<T>, HeadError>;

/// The byte range of `part` within `base`; empty when `part` is not a
/// slice of it (httparse hands every name and value as one).
fn range_in(base: &[u8], part: &[u8]) -> Range<usize> {
    let start = (part.as_ptr() as usize).checked_sub(base.as_ptr() as usize);
    match start.map(|start| start..start + part.len()) {
        Some(range) if range.end <= base.len() => range,
        _ => 0..0,
    }
}

/// The reason phrase of the status line that starts `raw`, as sent:
/// after `HTTP/1.1 200 `, up to the line's end. Read from the bytes, not
/// from httparse, which gives an empty phrase (not a slice of the head)
/// when it holds bytes above 0x7F (RFC 9110's obs-text).
fn reason_of(raw: &Bytes) -> Bytes {
    let line_end = raw.iter().position(|&b| b == b'\n').unwrap_or(0);
    let line = raw.slice(..line_end);
    let line = line.slice(..line.len() - usize::from(line.ends_with(b"\r")));
    // `HTTP/1.1` (8 bytes), a space, three digits, a space.
    line.get(13..).map_or_else(Bytes::new, |_| line.slice(13..))
}

/// Where one field's name and value are in a head.
type FieldRanges = (Range<usize>, Range<usize>);

/// Takes the fields httparse found out of the head `raw` by their ranges,
/// with room for the few the proxy adds.
fn fields_of(raw: &Bytes, ranges: &[FieldRanges]) -> FieldList {
    let mut fields = Vec::with_capacity(ranges.len() + 4);
    fields.extend(ranges.iter().map(|(name, value)| Field {
        name: raw.slice(name.clone()),
        value: raw.slice(value.clone()),
    }));
    FieldList(fields)
}

/// The ranges of each field's name and value within `base`, into
/// `ranges` (on the stack: no allocation per head); returns how many.
fn field_ranges(
    base: &[u8],
    headers: &[httparse::Header<'_>],
    ranges: &mut [FieldRanges; MAX_FIELDS],
) -> usize {
    for (slot, h) in ranges.iter_mut().zip(headers) {
        *slot = (range_in(base, h.name.as_bytes()), range_in(base, h.value));
    }
    headers.len().min(MAX_FIELDS)
}

/// The length of a whole head from httparse's answer on `buffered`
/// bytes; `None` while more are needed. `what`: "request" or "response".
fn head_length(
    parsed: httparse::Result<usize>,
    buffered: usize,
    what: &str,
) -> Result<Option<usize>, HeadError> {
    match parsed {
        Ok(httparse::Status::Complete(len)) if len <= MAX_HEAD => Ok(Some(len)),
        Ok(httparse::Status::Partial) if buffered <= MAX_HEAD => Ok(None),
        Ok(_) => Err(HeadError::too_large(&format!(
            "the {what} head is too large"
        ))),
        Err(httparse::Error::TooManyHeaders) => Err(HeadError::too_large(&format!(
            "the {what} has too many header fields"
        ))),
        Err(e) => Err(HeadError::malformed(e)),
    }
}

/// Reads a request head from the start of `buf`, taking its bytes off
/// `buf` when it is complete.
pub fn parse_request(buf: &mut BytesMut) -> Parsed<RequestHead> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut req = httparse::Request::new(&mut headers);
    let Some(len) = head_length(req.parse(buf), buf.len(), "request")? else {
        return Ok(None);
    };
    let mut ranges: [FieldRanges; MAX_FIELDS] = std::array::from_fn(|_| (0..0, 0..0));
    let count = field_ranges(buf, req.headers, &mut ranges);
    let method = req.method.unwrap_or_default().to_owned();
    let target = req.path.unwrap_or_default().to_owned();
    let minor_version = req.version.unwrap_or(1);
    let raw = buf.split_to(len).freeze();
    Ok(Some(RequestHead {
        method,
        target,
        minor_version,
        fields: fields_of(&raw, &ranges[..count]),
        raw,
    }))
}

/// Reads a response head from the start of `buf`, taking its bytes off
/// `buf` when it is complete.
pub fn parse_response(buf: &mut BytesMut) -> Parsed<ResponseHead> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut resp = httparse::Response::new(&mut headers);
    let Some(len) = head_length(resp.parse(buf), buf.len(), "response")? else {
        return Ok(None);
    };
    let mut ranges: [FieldRanges; MAX_FIELDS] = std::array::from_fn(|_| (0..0, 0..0));
    let count = field_ranges(buf, resp.headers, &mut ranges);
    let status = resp.code.unwrap_or_default();
    let minor_version = resp.version.unwrap_or(1);
    let raw = buf.split_to(len).freeze();
    Ok(Some(ResponseHead {
        status,
        reason: reason_of(&raw),
        minor_version,
        fields: fields_of(&raw, &ranges[..count]),
    }))
}

/// Writes an HTTP/1.1 response head into `out` as it is: no string made
/// per response.
pub fn write_response_head(out: &mut Vec<u8>, status: u16, reason: &[u8], fields: &FieldList) {
    let _ = std::io::Write::write_fmt(out, format_args!("HTTP/1.1 {status} "));
    out.extend_from_slice(reason);
    out.extend_from_slice(b"\r\n");
    fields.write_to(out);
    out.extend_from_slice(b"\r\n");
}

/// How a message's body is delimited (RFC 9112 section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// The chunked transfer coding.
    Chunked,
    /// Until the sender closes the connection (responses only).
    UntilClose,
}

/// The `Content-Length` of `fields`: `None` without one; an error for a
/// value that is not a number or for differing values (RFC 9110 section
/// 8.6; a list of equal values counts as one).
fn content_length(fields: &FieldList) -> Result<Option<u64>, String> {
    let mut found: Option<u64> = None;
    for value in fields.values("content-length") {
        for part in value.split(|b| *b == b',') {
            // Plain digits, the usual case, read without the text's parse.
            let n = match decimal(part) {
                Some(n) => n,
                None => {
                    let text = std::str::from_utf8(part).unwrap_or_default().trim();
                    match text.parse::<u64>() {
                        Ok(n) if !text.starts_with('+') => n,
                        _ => return Err(format!("Content-Length {text:?} is not a length")),
                    }
                }
            };
            if found.is_some_and(|f| f != n) {
                return Err("Content-Length is given twice with different values".into());
            }
            found = Some(n);
        }
    }
    Ok(found)
}

/// `text` as a number when it is 1 to 19 decimal digits and nothing else
/// (so it cannot overflow).
fn decimal(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 19 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        text.iter()
            .fold(0, |n, digit| n * 10 + u64::from(digit - b'0')),
    )
}

/// The transfer codings of `fields`, in order (`None` without
/// `Transfer-Encoding`), and whether the last is `chunked`.
fn codings(fields: &FieldList) -> Option<(usize, bool)> {
    let codings: Vec<&[u8]> = fields
        .values("transfer-encoding")
        .flat_map(|v| v.split(|b| *b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|c| !c.is_empty())
        .collect();
    let last = codings.last()?;
    Some((codings.len(), last.eq_ignore_ascii_case(b"chunked")))
}

/// Whether the transfer codings of `fields` end in `chunked`; `None`
/// without `Transfer-Encoding`.
fn ends_chunked(fields: &FieldList) -> Option<bool> {
    codings(fields).map(|(_, chunked)| chunked)
}

impl RequestHead {
    /// How the body is delimited (RFC 9112 section 6.3), and whether the
    /// connection must close after this request: a request with both
    /// `Transfer-Encoding` and `Content-Length` is read as chunked, and
    /// nothing after it is trusted. A transfer coding other than chunked
    /// at the end, or a bad `Content-Length`, is a 400; codings before
    /// chunked (`gzip, chunked`) a 501.
    pub fn framing(&self) -> Result<(Framing, bool), HeadError> {
        let length = content_length(&self.fields).map_err(|m| HeadError {
            status: 400,
            message: m,
        })?;
        match (codings(&self.fields), length) {
            (Some((1, true)), length) => Ok((Framing::Chunked, length.is_some())),
            // nginx answers the same: passing `gzip` on unlabelled would
            // change the body the upstream reads.
            (Some((_, true)), _) => Err(HeadError {
                status: 501,
                message: "wsdiag forwards request bodies in the chunked transfer coding only"
                    .into(),
            }),
            (Some((_, false)), _) => Err(HeadError {
                status: 400,
                message: "a request's Transfer-Encoding must end in chunked".into(),
            }),
            (None, Some(0) | None) => Ok((Framing::Empty, false)),
            (None, Some(n)) => Ok((Framing::Length(n), false)),
        }
    }
}

impl ResponseHead {
    /// How the body of this response is delimited (RFC 9112 section
    /// 6.3); `to_head`: it answers a `HEAD` request. A bad
    /// `Content-Length` is an error.
    pub fn framing(&self, to_head: bool) -> Result<Framing, String> {
        if to_head || self.status < 200 || self.status == 204 || self.status == 304 {
            return Ok(Framing::Empty);
        }
        match ends_chunked(&self.fields) {
            Some(true) => return Ok(Framing::Chunked),
            Some(false) => return Ok(Framing::UntilClose),
            None => {}
        }
        Ok(match content_length(&self.fields)? {
            Some(0) => Framing::Empty,
            Some(n) => Framing::Length(n),
            None => Framing::UntilClose,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(raw: &str) -> Parsed<RequestHead> {
        parse_request(&mut BytesMut::from(raw))
    }

    #[test]
    fn a_request_head_keeps_case_order_and_the_bytes_after_it() {
        let mut buf = BytesMut::from(
            "POST /api/x?y=1 HTTP/1.1\r\nHost: a\r\nX-CSRFToken:  t \r\nhost: b\r\n\r\nbody",
        );
        let head = parse_request(&mut buf).unwrap().unwrap();
        assert_eq!(
            (head.method.as_str(), head.target.as_str()),
            ("POST", "/api/x?y=1")
        );
        let names: Vec<&[u8]> = head.fields.0.iter().map(|f| &f.name[..]).collect();
        assert_eq!(names, [&b"Host"[..], b"X-CSRFToken", b"host"]);
        assert_eq!(head.fields.first("x-csrftoken"), Some(&b"t"[..]));
        assert_eq!(&buf[..], b"body");
        let mut out = Vec::new();
        head.fields.write_to(&mut out);
        assert_eq!(out, b"Host: a\r\nX-CSRFToken: t\r\nhost: b\r\n");
        assert_eq!(
            head.fields.recorded()[1],
            ("x-csrftoken".into(), "t".into())
        );
    }

    #[test]
    fn a_partial_head_waits_and_a_bad_or_huge_one_says_its_status() {
        assert!(request("GET / HTTP/1.1\r\nHost: a\r\n").unwrap().is_none());
        assert_eq!(request("GARBAGE\r\n\r\n").unwrap_err().status, 400);
        let mut many = String::from("GET / HTTP/1.1\r\n");
        for i in 0..=MAX_FIELDS {
            many.push_str(&format!("X-{i}: v\r\n"));
        }
        assert_eq!(request(&(many + "\r\n")).unwrap_err().status, 431);
        let huge = format!("GET / HTTP/1.1\r\nX: {}", "v".repeat(MAX_HEAD));
        assert_eq!(request(&huge).unwrap_err().status, 431);
    }

    fn framing(raw: &str) -> Result<(Framing, bool), u16> {
        request(raw)
            .unwrap()
            .unwrap()
            .framing()
            .map_err(|e| e.status)
    }

    #[test]
    fn request_framing_follows_rfc_9112() {
        assert_eq!(
            framing("GET / HTTP/1.1\r\n\r\n"),
            Ok((Framing::Empty, false))
        );
        assert_eq!(
            framing("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n"),
            Ok((Framing::Length(5), false))
        );
        assert_eq!(
            framing("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n"),
            Ok((Framing::Length(5), false))
        );
        assert_eq!(
            framing("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n"),
            Ok((Framing::Chunked, false))
        );
        assert_eq!(
            framing("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            Err(501)
        );
        // Both: chunked wins, and the connection closes after it.
        assert_eq!(
            framing("POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Ok((Framing::Chunked, true))
        );
        for bad in [
            "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: five\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        ] {
            assert_eq!(framing(bad), Err(400), "{bad}");
        }
    }

    #[test]
    fn response_framing_follows_rfc_9112() {
        let response = |raw: &str| parse_response(&mut BytesMut::from(raw)).unwrap().unwrap();
        let ok = response("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
        assert_eq!(ok.reason, "OK");
        assert_eq!(ok.framing(false), Ok(Framing::Length(2)));
        assert_eq!(ok.framing(true), Ok(Framing::Empty));
        let none = response("HTTP/1.0 200 OK\r\n\r\n");
        assert_eq!(none.framing(false), Ok(Framing::UntilClose));
        assert!(none.fields.wants_close(none.minor_version));
        let chunked =
            response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n");
        assert_eq!(chunked.framing(false), Ok(Framing::Chunked));
        assert_eq!(
            response("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n").framing(false),
            Ok(Framing::Empty)
        );
        assert!(response("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n")
            .framing(false)
            .is_err());
    }

    #[test]
    fn a_reason_phrase_passes_as_sent_even_with_bytes_above_0x7f() {
        let reason = |raw: &[u8]| {
            let head = parse_response(&mut BytesMut::from(raw)).unwrap().unwrap();
            head.reason
        };
        assert_eq!(reason(b"HTTP/1.1 200 OK\r\n\r\n"), "OK");
        assert_eq!(
            reason(b"HTTP/1.1 500 Intern \xb6\xb6 clos\r\n\r\n"),
            &b"Intern \xb6\xb6 clos"[..]
        );
        assert_eq!(reason(b"HTTP/1.1 204 \r\n\r\n"), "");
        assert_eq!(reason(b"HTTP/1.1 204\r\n\r\n"), "");
    }

    #[test]
    fn set_replaces_in_place_and_remove_takes_every_case() {
        let mut buf = BytesMut::from("GET / HTTP/1.1\r\nHost: a\r\nAccept: *\r\nHOST: b\r\n\r\n");
        let mut fields = parse_request(&mut buf).unwrap().unwrap().fields;
        fields.set("host", b"c");
        let mut out = Vec::new();
        fields.write_to(&mut out);
        assert_eq!(out, b"Host: c\r\nAccept: *\r\n");
        fields.remove("ACCEPT");
        fields.set("via", b"1.1 x");
        out.clear();
        fields.write_to(&mut out);
        assert_eq!(out, b"Host: c\r\nvia: 1.1 x\r\n");
    }
}
