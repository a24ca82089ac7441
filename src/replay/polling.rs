//! Engine.IO long-polling in a replay.
//!
//! A polling `GET` with a session id is a long poll: the server holds it
//! until it has packets for the client, often until the client's next
//! `POST`. Replayed one after the other, such a `GET` would wait for a
//! `POST` that comes after it in the script. So long polls run beside the
//! script, and what they bring back is compared per session, as a whole and
//! in any order, like a WebSocket's messages: which packets share a
//! response depends on timing, not on the application.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::task::JoinSet;

use crate::dialects::socketio::{polling_packets, polling_request};
use crate::event::{HttpRequest, Opcode, Payload};

/// The packets each session's long polls brought back, by recorded `sid`.
pub type Received = Arc<Mutex<BTreeMap<String, Vec<(Opcode, Payload)>>>>;

/// The long polls of a replay.
#[derive(Default)]
pub struct Polls {
    tasks: JoinSet<()>,
    received: Received,
    /// Per session, the end of its last poll: each poll waits for the one
    /// before it, as a client's do (an Engine.IO server closes a session
    /// that has two polls open at once).
    turns: BTreeMap<String, tokio::sync::oneshot::Receiver<()>>,
    /// Sessions whose WebSocket upgrade the replay has completed (`5`):
    /// their later polls are not sent.
    upgraded: Arc<Mutex<std::collections::BTreeSet<String>>>,
    /// Bumped whenever a poll brings packets.
    arrived: Arc<tokio::sync::watch::Sender<usize>>,
    /// Polls that failed, by session: what they got instead.
    failures: Arc<Mutex<BTreeMap<String, Vec<String>>>>,
    /// Sessions the client closed (a close packet `1` posted) or began to
    /// upgrade (`2probe`): a poll refused after that is the close or the
    /// upgrade at work, not a failure.
    closed: Arc<Mutex<std::collections::BTreeSet<String>>>,
}

/// What a replay's long polls brought back, and which of them failed.
#[derive(Debug, Default)]
pub struct Polled {
    /// Packets by recorded session id.
    pub received: BTreeMap<String, Vec<(Opcode, Payload)>>,
    /// Failed polls by recorded session id: the status and body, or the
    /// error.
    pub failures: BTreeMap<String, Vec<String>>,
}

/// The recorded session id of a long-poll request (`GET` with a `sid`).
pub fn long_poll(request: &HttpRequest) -> Option<String> {
    if request.method != "GET" {
        return None;
    }
    polling_request(&request.uri)?
}

/// True for any Engine.IO long-polling request.
pub fn is_polling(request: &HttpRequest) -> bool {
    polling_request(&request.uri).is_some()
}

/// The packets of a polling body, as messages, heartbeats aside.
pub fn packets(uri: &str, body: &Payload) -> Vec<(Opcode, Payload)> {
    let eio3 = crate::dialects::socketio::is_eio3(uri);
    polling_packets(body.text().unwrap_or(""), eio3)
        .into_iter()
        .map(|(binary, bytes)| {
            let opcode = if binary { Opcode::Binary } else { Opcode::Text };
            (opcode, Payload::capture(&bytes, usize::MAX))
        })
        .filter(|(opcode, payload)| !is_heartbeat(*opcode, payload))
        .collect()
}

fn is_heartbeat(opcode: Opcode, payload: &Payload) -> bool {
    let dir = crate::event::Direction::UpstreamToClient;
    let socketio = Some(crate::dialects::DialectId::Socketio);
    crate::dialects::heartbeat(socketio, crate::dialects::Frame::of(dir, opcode, payload)).is_some()
}

impl Polls {
    /// Runs a long poll of session `sid` beside the script; `uri` says how
    /// to read its body.
    pub fn spawn<F>(&mut self, sid: String, uri: String, poll: F)
    where
        F: std::future::Future<Output = Result<(u16, Payload), String>> + Send + 'static,
    {
        let received = self.received.clone();
        let upgraded = self.upgraded.clone();
        let arrived = self.arrived.clone();
        let failures = self.failures.clone();
        let closed = self.closed.clone();
        let (done, next) = tokio::sync::oneshot::channel::<()>();
        let previous = self.turns.insert(sid.clone(), next);
        self.tasks.spawn(async move {
            if let Some(previous) = previous {
                // Ended or dropped: either way it is this poll's turn.
                let _ = previous.await;
            }
            let _done = done;
            if upgraded.lock().is_ok_and(|u| u.contains(&sid)) {
                return;
            }
            // An error answer (400 "Session ID unknown") carries no packets;
            // it is kept, to be reported with the session.
            let failed = |why: String| {
                if closed.lock().is_ok_and(|c| !c.contains(&sid)) {
                    let _ = failures
                        .lock()
                        .map(|mut f| f.entry(sid.clone()).or_default().push(why));
                }
                Vec::new()
            };
            let got = match poll.await {
                Ok((200, body)) => packets(&uri, &body),
                Ok((status, body)) => failed(format!(
                    "HTTP {status} {}",
                    body.text().unwrap_or("").trim()
                )),
                Err(e) => failed(e),
            };
            if let Ok(mut all) = received.lock() {
                all.entry(sid).or_default().extend(got);
            }
            arrived.send_modify(|n| *n += 1);
        });
    }

    /// How many packets session `sid`'s polls have brought so far.
    pub fn count(&self, sid: &str) -> usize {
        self.received
            .lock()
            .map_or(0, |r| r.get(sid).map_or(0, Vec::len))
    }

    /// A receiver that changes whenever a poll brings packets.
    pub fn arrivals(&self) -> tokio::sync::watch::Receiver<usize> {
        self.arrived.subscribe()
    }

    /// Notes, before it is sent, a polling `POST` that closes its session
    /// (it carries the close packet `1`).
    pub fn posting(&mut self, request: &HttpRequest) {
        let Some(Some(sid)) = polling_request(&request.uri) else {
            return;
        };
        let closes = packets(&request.uri, &request.body)
            .iter()
            .any(|(opcode, p)| *opcode == Opcode::Text && p.text() == Some("1"));
        if let (true, Ok(mut closed)) = (closes, self.closed.lock()) {
            closed.insert(sid);
        }
    }

    /// Notes that the replay started session `sid`'s upgrade (it sent
    /// `2probe`): a poll refused from then on is not a failure.
    pub fn upgrading(&mut self, sid: String) {
        if let Ok(mut closed) = self.closed.lock() {
            closed.insert(sid);
        }
    }

    /// Notes that the replay sent session `sid`'s upgrade packet (`5`):
    /// no poll is sent after it.
    pub fn upgrade(&mut self, sid: String) {
        if let Ok(mut upgraded) = self.upgraded.lock() {
            upgraded.insert(sid);
        }
    }

    /// Adds what the opening `GET` of a session brought (its open packet):
    /// `recorded` is that `GET`'s recorded body, which names the session.
    pub fn opened(&mut self, uri: &str, recorded: &Payload, live: &Payload) {
        let eio3 = crate::dialects::socketio::is_eio3(uri);
        let sid = recorded
            .text()
            .and_then(|b| crate::dialects::socketio::open_sid_in_body(b, eio3));
        if let (Some(sid), Ok(mut all)) = (sid, self.received.lock()) {
            all.entry(sid).or_default().extend(packets(uri, live));
        }
        self.arrived.send_modify(|n| *n += 1);
    }

    /// Waits at most `patience` for the polls still open, then returns
    /// what every session received.
    pub async fn finish(mut self, patience: std::time::Duration) -> Polled {
        let _ = tokio::time::timeout(patience, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        self.tasks.abort_all();
        Polled {
            received: self.received.lock().map(|r| r.clone()).unwrap_or_default(),
            failures: self.failures.lock().map(|f| f.clone()).unwrap_or_default(),
        }
    }
}
