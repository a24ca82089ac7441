//! The flow index: which events belong together.
//!
//! A capture is a flat list of events; readers need them grouped the way
//! mitmproxy groups flows: one HTTP exchange (its request, its response or
//! failure, its WebSocket handshake) and one WebSocket (its upgrade, its
//! messages, its closes). [`Flows::of`] builds that grouping once, in one
//! pass, as positions into the events; every consumer (the diagnosis, the
//! exports, replay, the selection of `export`) reads it instead of keeping
//! maps of its own.

use std::collections::HashMap;

use super::{Event, EventKind, HttpError, HttpRequest, HttpResponse, WsHandshake};

/// One HTTP exchange, as positions into the events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExchangeFlow {
    /// The exchange number of its events.
    pub id: u64,
    /// `http_request`, when the capture holds it.
    pub request: Option<usize>,
    /// `http_response`, once it came.
    pub response: Option<usize>,
    /// `http_error`, when it failed.
    pub error: Option<usize>,
    /// `ws_handshake`, when the request asked for a WebSocket.
    pub handshake: Option<usize>,
}

/// One WebSocket connection, as positions into the events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocketFlow {
    /// Its client connection number.
    pub conn: u64,
    /// The `ws_handshake` that opened it (accepted).
    pub handshake: usize,
    /// Its `ws_message`s, in order, long-polling ones excluded.
    pub messages: Vec<usize>,
    /// Its `ws_close`s (one per side that sent or got a close).
    pub closes: Vec<usize>,
}

/// The flows of a slice of events; positions index that slice.
#[derive(Debug)]
pub struct Flows<'a> {
    events: &'a [Event],
    exchanges: Vec<ExchangeFlow>,
    by_exchange: HashMap<u64, usize>,
    sockets: Vec<SocketFlow>,
    /// The socket currently open on each connection.
    socket_of_conn: HashMap<u64, usize>,
    /// Each connection's requests, in order (for the request that carried
    /// a long-polling message).
    requests_of_conn: HashMap<u64, Vec<usize>>,
}

impl<'a> Flows<'a> {
    /// Indexes `events` (a capture's, in order) in one pass.
    pub fn of(events: &'a [Event]) -> Flows<'a> {
        let mut flows = Flows {
            events,
            exchanges: Vec::new(),
            by_exchange: HashMap::new(),
            sockets: Vec::new(),
            socket_of_conn: HashMap::new(),
            requests_of_conn: HashMap::new(),
        };
        for (i, event) in events.iter().enumerate() {
            flows.push(i, event);
        }
        flows
    }

    fn exchange_mut(&mut self, id: u64) -> &mut ExchangeFlow {
        let next = self.exchanges.len();
        let at = *self.by_exchange.entry(id).or_insert(next);
        if at == next {
            self.exchanges.push(ExchangeFlow {
                id,
                ..ExchangeFlow::default()
            });
        }
        &mut self.exchanges[at]
    }

    fn push(&mut self, i: usize, event: &Event) {
        match &event.kind {
            EventKind::HttpRequest(r) => {
                self.exchange_mut(r.exchange).request = Some(i);
                if let Some(conn) = event.conn {
                    self.requests_of_conn.entry(conn).or_default().push(i);
                }
            }
            EventKind::HttpResponse(r) => self.exchange_mut(r.exchange).response = Some(i),
            EventKind::HttpError(e) => self.exchange_mut(e.exchange).error = Some(i),
            EventKind::WsHandshake(h) => {
                self.exchange_mut(h.exchange).handshake = Some(i);
                if let (true, Some(conn)) = (h.accepted, event.conn) {
                    self.socket_of_conn.insert(conn, self.sockets.len());
                    self.sockets.push(SocketFlow {
                        conn,
                        handshake: i,
                        ..SocketFlow::default()
                    });
                }
            }
            EventKind::WsMessage(m) if m.polling.is_none() => {
                if let Some(socket) = self.socket_mut(event.conn) {
                    socket.messages.push(i);
                }
            }
            EventKind::WsClose(_) => {
                if let Some(socket) = self.socket_mut(event.conn) {
                    socket.closes.push(i);
                }
            }
            _ => {}
        }
    }

    fn socket_mut(&mut self, conn: Option<u64>) -> Option<&mut SocketFlow> {
        let at = *self.socket_of_conn.get(&conn?)?;
        self.sockets.get_mut(at)
    }

    /// The events this index points into.
    pub fn events(&self) -> &'a [Event] {
        self.events
    }

    /// The event numbered `seq` (events are in `seq` order).
    pub fn at_seq(&self, seq: u64) -> Option<&'a Event> {
        let at = self.events.binary_search_by_key(&seq, |e| e.seq).ok()?;
        Some(&self.events[at])
    }

    /// Every exchange, in the order its first event came.
    pub fn exchanges(&self) -> &[ExchangeFlow] {
        &self.exchanges
    }

    /// Every accepted WebSocket, in the order it opened.
    pub fn sockets(&self) -> &[SocketFlow] {
        &self.sockets
    }

    /// Exchange `id`.
    pub fn exchange(&self, id: u64) -> Option<&ExchangeFlow> {
        self.exchanges.get(*self.by_exchange.get(&id)?)
    }

    /// The request of exchange `id`, with its event.
    pub fn request(&self, id: u64) -> Option<(&'a Event, &'a HttpRequest)> {
        let event = &self.events[self.exchange(id)?.request?];
        match &event.kind {
            EventKind::HttpRequest(r) => Some((event, r)),
            _ => None,
        }
    }

    /// The response of exchange `id`, with its event.
    pub fn response(&self, id: u64) -> Option<(&'a Event, &'a HttpResponse)> {
        let event = &self.events[self.exchange(id)?.response?];
        match &event.kind {
            EventKind::HttpResponse(r) => Some((event, r)),
            _ => None,
        }
    }

    /// The failure of exchange `id`, with its event.
    pub fn error(&self, id: u64) -> Option<(&'a Event, &'a HttpError)> {
        let event = &self.events[self.exchange(id)?.error?];
        match &event.kind {
            EventKind::HttpError(e) => Some((event, e)),
            _ => None,
        }
    }

    /// The last WebSocket accepted on connection `conn`.
    pub fn socket(&self, conn: u64) -> Option<&SocketFlow> {
        self.sockets.get(*self.socket_of_conn.get(&conn)?)
    }

    /// The accepted handshake of connection `conn` and the upgrade request
    /// that asked for it.
    pub fn upgrade(&self, conn: u64) -> Option<(&'a WsHandshake, &'a HttpRequest)> {
        let handshake = match &self.events[self.socket(conn)?.handshake].kind {
            EventKind::WsHandshake(h) => h,
            _ => return None,
        };
        Some((handshake, self.request(handshake.exchange)?.1))
    }

    /// The last request on connection `conn` before position `before`: the
    /// one that carried a long-polling message recorded there.
    pub fn request_before(&self, conn: u64, before: usize) -> Option<&'a HttpRequest> {
        let requests = self.requests_of_conn.get(&conn)?;
        let at = requests.partition_point(|&i| i < before).checked_sub(1)?;
        match &self.events[requests[at]].kind {
            EventKind::HttpRequest(r) => Some(r),
            _ => None,
        }
    }

    /// The URI an event is about: its exchange's request URI for HTTP
    /// events, its WebSocket's upgrade URI for WebSocket events.
    pub fn uri_of(&self, event: &Event) -> Option<&'a str> {
        let exchange = match &event.kind {
            EventKind::HttpRequest(r) => r.exchange,
            EventKind::HttpResponse(r) => r.exchange,
            EventKind::HttpError(e) => e.exchange,
            EventKind::WsHandshake(h) => h.exchange,
            _ => {
                let (handshake, _) = self.upgrade(event.conn?)?;
                return Some(handshake.uri.as_str());
            }
        };
        self.request(exchange).map(|(_, r)| r.uri.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> Vec<Event> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/demo.jsonl");
        let text = std::fs::read_to_string(path).unwrap();
        text.lines()
            .skip(1)
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    #[test]
    fn exchanges_and_sockets_group_their_events() {
        let events = demo();
        let flows = Flows::of(&events);
        let socket = flows.socket(1).unwrap();
        assert_eq!(events[socket.handshake].seq, 3);
        assert!(socket.messages.iter().all(
            |&i| events[i].conn == Some(1) && matches!(events[i].kind, EventKind::WsMessage(_))
        ));
        let (handshake, request) = flows.upgrade(1).unwrap();
        assert_eq!(handshake.uri, "/ws/chat/3/");
        assert_eq!(request.method, "GET");
        let post = flows
            .exchanges()
            .iter()
            .find(|x| flows.request(x.id).unwrap().1.method == "POST")
            .unwrap();
        assert_eq!(flows.response(post.id).unwrap().1.status, 500);
        let message = &events[socket.messages[0]];
        assert_eq!(flows.uri_of(message), Some("/ws/chat/3/"));
    }
}
