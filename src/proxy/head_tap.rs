//! A tap on an upstream connection that keeps a copy of the first bytes
//! read, up to the end of the response head, so the head can be recorded
//! as the upstream sent it: every header in its order, duplicates apart
//! (RFC 9112 section 2.1). hyper parses the same bytes for forwarding.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use crate::event::Headers;

/// The most of a head the tap keeps; hyper refuses longer heads anyway.
const HEAD_MAX: usize = 64 * 1024;

/// The head as read so far, shared with the tap.
#[derive(Clone, Default)]
pub struct Head(Arc<Mutex<Vec<u8>>>);

impl Head {
    /// The header fields of the response head, in the order they came,
    /// duplicates kept, names lower-cased as the capture keeps them; `None`
    /// when the head is not complete or does not parse.
    pub fn headers(&self) -> Option<Headers> {
        let bytes = self.0.lock().ok()?;
        let mut fields = [httparse::EMPTY_HEADER; 128];
        let mut response = httparse::Response::new(&mut fields);
        match response.parse(&bytes) {
            Ok(httparse::Status::Complete(_)) => Some(
                response
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_ascii_lowercase(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect(),
            ),
            _ => None,
        }
    }

    /// Keeps `bytes` read after the ones before; true once the head is
    /// complete (or cannot be). Interim answers (`100 Continue`, `103`)
    /// are dropped: the head kept is the one that answers the request.
    fn keep(&self, bytes: &[u8]) -> bool {
        let Ok(mut head) = self.0.lock() else {
            return true;
        };
        let room = HEAD_MAX.saturating_sub(head.len());
        head.extend_from_slice(&bytes[..bytes.len().min(room)]);
        loop {
            let mut fields = [httparse::EMPTY_HEADER; 128];
            let mut response = httparse::Response::new(&mut fields);
            let parsed = response.parse(&head).map(|s| (s, response.code));
            match parsed {
                Ok((httparse::Status::Complete(end), Some(code)))
                    if (100..200).contains(&code) && code != 101 =>
                {
                    head.drain(..end);
                }
                Ok((httparse::Status::Complete(end), _)) => {
                    head.truncate(end);
                    return true;
                }
                Ok((httparse::Status::Partial, _)) => return head.len() >= HEAD_MAX,
                Err(_) => return true,
            }
        }
    }
}

/// Wraps a connection; reads pass through, their first bytes are kept.
pub struct HeadTap<T> {
    inner: T,
    head: Head,
    done: bool,
}

impl<T> HeadTap<T> {
    /// Taps `inner`; `head` fills as the response head is read.
    pub fn new(inner: T) -> (HeadTap<T>, Head) {
        let head = Head::default();
        let tap = HeadTap {
            inner,
            head: head.clone(),
            done: false,
        };
        (tap, head)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for HeadTap<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if !self.done && matches!(polled, Poll::Ready(Ok(()))) {
            // Stop looking once the head is complete: the rest is body or
            // WebSocket frames.
            self.done = self.head.keep(&buf.filled()[before..]);
        }
        polled
    }
}

super::write_through::write_through!(HeadTap);

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn the_head_is_kept_in_order_with_duplicates_however_it_is_read() {
        let response: &[u8] = b"HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\nHTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSet-Cookie: a=1\r\nConnection: Upgrade\r\nSet-Cookie: b=2\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n\x81\x02hi";
        let (mut tap, head) = HeadTap::new(response);
        let mut sink = [0u8; 7];
        while tap.read(&mut sink).await.unwrap() > 0 {}
        let names: Vec<String> = head
            .headers()
            .unwrap()
            .into_iter()
            .map(|(n, v)| format!("{n}: {v}"))
            .collect();
        assert_eq!(
            names,
            [
                "upgrade: websocket",
                "set-cookie: a=1",
                "connection: Upgrade",
                "set-cookie: b=2",
                "sec-websocket-extensions: permessage-deflate"
            ]
        );
        assert!(
            !head.0.lock().unwrap().ends_with(b"hi"),
            "the frames after the head are not kept"
        );
    }
}
