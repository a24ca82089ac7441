//! permessage-deflate as a reader sees it (RFC 7692): what the handshake
//! negotiated, and an inflater per direction that turns compressed
//! messages back into what the application sent, for the record only.

use flate2::{Decompress, FlushDecompress, Status};

/// The four octets a sender removes from the end of each compressed
/// message and a receiver appends before inflating (RFC 7692 section
/// 7.2.2).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Inflated bytes are produced this many at a time.
const SCRATCH: usize = 16 * 1024;

/// permessage-deflate's parameters as the upstream's 101 accepted them
/// (RFC 7692 section 7.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deflate {
    /// The client starts each message with an empty window
    /// (`client_no_context_takeover`).
    pub client_no_context_takeover: bool,
    /// The server does (`server_no_context_takeover`).
    pub server_no_context_takeover: bool,
    /// The client's LZ77 window, 8 to 15 bits (`client_max_window_bits`).
    pub client_max_window_bits: Option<u8>,
    /// The server's (`server_max_window_bits`).
    pub server_max_window_bits: Option<u8>,
}

/// The extensions a 101 response accepted, read from its
/// `Sec-WebSocket-Extensions` values (RFC 6455 section 9.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extensions {
    /// permessage-deflate, when it was negotiated.
    pub deflate: Option<Deflate>,
    /// The names of any other extension: their use of the reserved bits
    /// is theirs, so the reader does not call those bits a violation.
    pub others: Vec<String>,
}

impl Extensions {
    /// Reads the accepted extensions from the values of the response's
    /// `Sec-WebSocket-Extensions` headers, e.g. `permessage-deflate;
    /// server_no_context_takeover; client_max_window_bits=15`. Parameters
    /// it does not know are ignored; quoted values are unquoted.
    pub fn negotiated(values: &[String]) -> Extensions {
        let mut out = Extensions::default();
        for extension in values.iter().flat_map(|v| v.split(',')) {
            let mut parts = extension.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            if name.is_empty() {
                continue;
            }
            if !name.eq_ignore_ascii_case("permessage-deflate") || out.deflate.is_some() {
                out.others.push(name.to_owned());
                continue;
            }
            let mut deflate = Deflate::default();
            for param in parts {
                let (key, value) = match param.split_once('=') {
                    Some((k, v)) => (k.trim(), Some(v.trim().trim_matches('"'))),
                    None => (param, None),
                };
                let bits = value.and_then(|v| v.parse::<u8>().ok());
                match key.to_ascii_lowercase().as_str() {
                    "client_no_context_takeover" => deflate.client_no_context_takeover = true,
                    "server_no_context_takeover" => deflate.server_no_context_takeover = true,
                    "client_max_window_bits" => deflate.client_max_window_bits = bits,
                    "server_max_window_bits" => deflate.server_max_window_bits = bits,
                    _ => {}
                }
            }
            out.deflate = Some(deflate);
        }
        out
    }
}

/// The most a sender's LZ77 window reaches back (2^15 bytes, RFC 7692
/// section 7.1.2).
const WINDOW: usize = 32 * 1024;

/// One direction's inflater. It always inflates with a 32 KiB window,
/// which reads any window the sender chose (8 to 15 bits); it starts each
/// message afresh when the sender does not take its context over.
///
/// The zlib state (about 50 KiB, the window included) exists only while a
/// message is being inflated. Between messages a sender that takes its
/// context over leaves only its window's worth of history: the last
/// 32 KiB it sent inflated (less while it has sent less), which becomes
/// the next message's preset dictionary (`inflateSetDictionary` on a raw
/// stream). A WebSocket that negotiated permessage-deflate and sits idle
/// holds at most that history per direction, and none without context
/// takeover.
pub struct Inflater {
    z: Option<Box<Decompress>>,
    no_context_takeover: bool,
    /// The current message's stream ended with a final block (BFINAL):
    /// the tail must not be fed, and the next message starts afresh.
    ended: bool,
    /// With context takeover: the inflated bytes the sender's window may
    /// still refer to (the last [`WINDOW`], up to twice that while a
    /// message is inflated).
    history: Vec<u8>,
}

impl Inflater {
    /// An inflater for a sender with or without context takeover.
    pub fn new(no_context_takeover: bool) -> Inflater {
        Inflater {
            z: None,
            no_context_takeover,
            ended: false,
            history: Vec::new(),
        }
    }

    /// True while the zlib state exists: only while a message is inflated.
    #[cfg(test)]
    fn holds_state(&self) -> bool {
        self.z.is_some()
    }

    /// Inflates the next compressed payload bytes of a message, handing
    /// what they inflate to `out` in pieces.
    ///
    /// # Errors
    /// The deflate stream is broken (the words say how); the window is then
    /// lost: [`Inflater::reset`] before reading another message.
    pub fn feed(&mut self, input: &[u8], out: &mut impl FnMut(&[u8])) -> Result<(), String> {
        self.inflate(input, out)
    }

    /// Ends a message: inflates the removed tail and, without context
    /// takeover, forgets the window.
    ///
    /// # Errors
    /// As [`Inflater::feed`].
    pub fn finish(&mut self, out: &mut impl FnMut(&[u8])) -> Result<(), String> {
        let result = if self.ended {
            Ok(())
        } else {
            self.inflate(&TAIL, out)
        };
        if self.no_context_takeover || self.ended || result.is_err() {
            self.reset();
        } else {
            // The state is rebuilt from the history at the next message.
            self.z = None;
            self.keep_window();
        }
        result
    }

    /// True when the sender starts each message with an empty window (no
    /// context takeover): a message that failed to inflate does not spoil
    /// the next.
    pub fn starts_each_message_afresh(&self) -> bool {
        self.no_context_takeover
    }

    /// Forgets the window and any message in progress, and the memory
    /// that held them.
    pub fn reset(&mut self) {
        self.z = None;
        self.ended = false;
        self.history = Vec::new();
    }

    /// Keeps only the window's worth of history, in a buffer of just that
    /// size: one copy, made only when there is something to drop or spare
    /// room to give back.
    fn keep_window(&mut self) {
        let old = self.history.len().saturating_sub(WINDOW);
        if old > 0 || self.history.capacity() > self.history.len() {
            self.history = self.history[old..].to_vec();
        }
    }

    fn inflate(&mut self, mut input: &[u8], out: &mut impl FnMut(&[u8])) -> Result<(), String> {
        if self.z.is_none() {
            let mut z = Box::new(Decompress::new(false));
            if !self.history.is_empty() {
                z.set_dictionary(&self.history)
                    .map_err(|e| format!("the window of earlier messages was refused: {e}"))?;
            }
            self.z = Some(z);
        }
        let takeover = !self.no_context_takeover;
        let history = &mut self.history;
        let mut out = |bytes: &[u8]| {
            if takeover {
                history.extend_from_slice(bytes);
                if history.len() > 2 * WINDOW {
                    let old = history.len() - WINDOW;
                    history.drain(..old);
                }
            }
            out(bytes);
        };
        let Some(z) = self.z.as_mut() else {
            return Ok(());
        };
        // On the stack: a buffer kept per direction would cost every
        // WebSocket that ever compressed a message 16 KiB for its life.
        let mut scratch = [0u8; SCRATCH];
        while !input.is_empty() && !self.ended {
            let (before_in, before_out) = (z.total_in(), z.total_out());
            let status = z
                .decompress(input, &mut scratch, FlushDecompress::Sync)
                .map_err(|e| format!("the compressed message does not inflate: {e}"))?;
            let used = (z.total_in() - before_in) as usize;
            let made = (z.total_out() - before_out) as usize;
            out(&scratch[..made]);
            input = &input[used..];
            match status {
                Status::StreamEnd => self.ended = true,
                _ if used == 0 && made == 0 => {
                    return Err("the compressed message does not inflate: no progress".into());
                }
                _ => {}
            }
        }
        // What is still buffered inside the inflater.
        loop {
            let before_out = z.total_out();
            z.decompress(&[], &mut scratch, FlushDecompress::Sync)
                .map_err(|e| format!("the compressed message does not inflate: {e}"))?;
            let made = (z.total_out() - before_out) as usize;
            if made == 0 {
                break;
            }
            out(&scratch[..made]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compress, Compression, FlushCompress};

    /// Compresses `messages` as a permessage-deflate sender would: one
    /// stream (context takeover) or one per message, each flushed and
    /// stripped of its tail.
    fn compress(messages: &[&str], takeover: bool, window_bits: u8) -> Vec<Vec<u8>> {
        let mut z = Compress::new_with_window_bits(Compression::default(), false, window_bits);
        messages
            .iter()
            .map(|m| {
                if !takeover {
                    z = Compress::new_with_window_bits(Compression::default(), false, window_bits);
                }
                let mut out = Vec::with_capacity(m.len() + 64);
                z.compress_vec(m.as_bytes(), &mut out, FlushCompress::Sync)
                    .unwrap();
                if out.is_empty() {
                    // Nothing new to flush: an empty message is sent as a
                    // single empty block (RFC 7692 section 7.2.3.6).
                    return vec![0x00];
                }
                assert!(out.ends_with(&TAIL), "{m:?} {out:?}");
                out.truncate(out.len() - 4);
                out
            })
            .collect()
    }

    fn inflate_all(inflater: &mut Inflater, wire: &[Vec<u8>], split: usize) -> Vec<String> {
        wire.iter()
            .map(|m| {
                let mut text = Vec::new();
                for piece in m.chunks(split) {
                    inflater
                        .feed(piece, &mut |b| text.extend_from_slice(b))
                        .unwrap();
                }
                inflater.finish(&mut |b| text.extend_from_slice(b)).unwrap();
                String::from_utf8(text).unwrap()
            })
            .collect()
    }

    #[test]
    fn messages_inflate_with_and_without_context_takeover_in_any_pieces() {
        let messages = [
            "hello hello hello",
            "hello again, hello",
            "",
            "{\"type\":\"chat\"}",
        ];
        for (takeover, bits, split) in [
            (true, 15, 1),
            (false, 15, 3),
            (true, 9, 1000),
            (false, 10, 2),
        ] {
            let wire = compress(&messages, takeover, bits);
            let mut inflater = Inflater::new(!takeover);
            assert_eq!(
                inflate_all(&mut inflater, &wire, split),
                messages,
                "takeover {takeover}, {bits} bits"
            );
        }
    }

    #[test]
    fn the_parameters_are_read_from_the_accepted_extensions() {
        let accepted = Extensions::negotiated(&[
            "permessage-deflate; server_no_context_takeover; client_max_window_bits=\"10\", x-custom".to_owned(),
        ]);
        let deflate = accepted.deflate.unwrap();
        assert!(deflate.server_no_context_takeover && !deflate.client_no_context_takeover);
        assert_eq!(deflate.client_max_window_bits, Some(10));
        assert_eq!(accepted.others, ["x-custom"]);
        assert_eq!(Extensions::negotiated(&[]), Extensions::default());
    }

    /// An idle WebSocket that negotiated compression holds no zlib state;
    /// between messages a sender that starts each message afresh leaves
    /// nothing behind, and one with context takeover leaves only what it
    /// sent, at most a window's worth; its next message, which refers to
    /// it, still inflates.
    #[test]
    fn between_messages_only_the_window_s_history_is_held() {
        let messages = ["hello hello hello", "hello again, hello hello hello"];
        for takeover in [false, true] {
            let wire = compress(&messages, takeover, 15);
            let mut inflater = Inflater::new(!takeover);
            assert!(!inflater.holds_state());
            assert_eq!(inflate_all(&mut inflater, &wire[..1], 5), messages[..1]);
            assert!(!inflater.holds_state());
            let expected = if takeover {
                messages[0].as_bytes()
            } else {
                b""
            };
            assert_eq!(inflater.history, expected, "takeover {takeover}");
            assert_eq!(inflate_all(&mut inflater, &wire[1..], 5), messages[1..]);
        }
    }

    /// Messages that refer back across more than a window, in a stream of
    /// 200 KiB: each inflates, and the history stays one window long.
    #[test]
    fn references_across_many_messages_inflate_from_the_kept_window() {
        // Words repeated at irregular distances, some further back than
        // one message, none beyond the sender's 32 KiB window.
        let words: Vec<String> = (0..400u32)
            .map(|i| {
                format!(
                    "w{:x}{}",
                    i.wrapping_mul(2_654_435_761) % 9973,
                    "ab".repeat((i % 7) as usize)
                )
            })
            .collect();
        let messages: Vec<String> = (0..200usize)
            .map(|m| {
                (0..120)
                    .map(|k| words[(m * 37 + k * k) % words.len()].as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        let refs: Vec<&str> = messages.iter().map(String::as_str).collect();
        let wire = compress(&refs, true, 15);
        assert!(messages.iter().map(String::len).sum::<usize>() > 6 * WINDOW);
        let mut inflater = Inflater::new(false);
        assert_eq!(inflate_all(&mut inflater, &wire, 700), refs);
        assert_eq!(inflater.history.len(), WINDOW);
        assert!(inflater.history.capacity() < 2 * WINDOW);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut inflater = Inflater::new(false);
        let result = inflater.feed(&[0xff; 64], &mut |_| {});
        assert!(result.is_err(), "{result:?}");
    }
}
