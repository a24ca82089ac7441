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

/// One direction's inflater. It always inflates with a 32 KiB window,
/// which reads any window the sender chose (8 to 15 bits); it starts each
/// message afresh when the sender does not take its context over.
///
/// The zlib state (about 50 KiB, the window included) is made at the first
/// compressed bytes, not when the handshake negotiates compression, and is
/// dropped at the end of each message when the sender starts the next one
/// afresh: a WebSocket that negotiated permessage-deflate and sits idle
/// holds none of it. With context takeover the state stays once used, as
/// the sender's next message may refer to the window.
pub struct Inflater {
    z: Option<Box<Decompress>>,
    no_context_takeover: bool,
    /// The current message's stream ended with a final block (BFINAL):
    /// the tail must not be fed, and the next message starts afresh.
    ended: bool,
}

impl Inflater {
    /// An inflater for a sender with or without context takeover.
    pub fn new(no_context_takeover: bool) -> Inflater {
        Inflater {
            z: None,
            no_context_takeover,
            ended: false,
        }
    }

    /// True while the zlib state exists (between the first compressed
    /// bytes and the end of a message without context takeover).
    pub fn holds_state(&self) -> bool {
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
        if self.no_context_takeover || self.ended {
            self.reset();
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
    }

    fn inflate(&mut self, mut input: &[u8], out: &mut impl FnMut(&[u8])) -> Result<(), String> {
        let z = self
            .z
            .get_or_insert_with(|| Box::new(Decompress::new(false)));
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
    /// a sender that starts each message afresh leaves none behind; one
    /// with context takeover keeps it, and its next message, which refers
    /// to the window, still inflates.
    #[test]
    fn the_zlib_state_exists_only_while_a_message_may_need_it() {
        let messages = ["hello hello hello", "hello again, hello hello hello"];
        for takeover in [false, true] {
            let wire = compress(&messages, takeover, 15);
            let mut inflater = Inflater::new(!takeover);
            assert!(!inflater.holds_state());
            assert_eq!(inflate_all(&mut inflater, &wire[..1], 5), messages[..1]);
            assert_eq!(inflater.holds_state(), takeover, "takeover {takeover}");
            assert_eq!(inflate_all(&mut inflater, &wire[1..], 5), messages[1..]);
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut inflater = Inflater::new(false);
        let result = inflater.feed(&[0xff; 64], &mut |_| {});
        assert!(result.is_err(), "{result:?}");
    }
}
