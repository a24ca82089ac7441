//! The sample chat's state: users, conversations, saved messages, and who
//! is connected to which conversation.
//!
//! It mirrors the Django Channels app wsdiag was born from: a message sent
//! over the WebSocket is saved with the connection's user as `expediteur`
//! and broadcast to the conversation; the REST create path never sets the
//! sender, which is the bug the demo shows.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::Utc;
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// A user of the sample chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct User {
    /// Primary key.
    pub id: u64,
    /// Login name.
    pub username: &'static str,
    /// The value of the `sessionid` cookie that logs this user in.
    pub session: &'static str,
    /// The value of `?token=` (or `Authorization: Token ...`).
    pub token: &'static str,
}

/// The demo's users; both are members of [`CONVERSATION`].
pub const USERS: [User; 2] = [
    User {
        id: 1,
        username: "alice",
        session: "alice-session-7f3a",
        token: "alice-token-51c2",
    },
    User {
        id: 2,
        username: "bob",
        session: "bob-session-c09e",
        token: "bob-token-88d4",
    },
];

/// The one conversation the demo seeds.
pub const CONVERSATION: u64 = 3;

/// A connected WebSocket client: its user and its outgoing queue.
struct Member {
    user: User,
    tx: mpsc::UnboundedSender<Value>,
}

/// Deliberate changes to the sample backend's answers, so tests can check
/// that `wsdiag replay` notices a backend that changed.
#[derive(Debug, Clone, Default)]
pub struct Quirks {
    /// Rename this field of saved messages to that one.
    pub rename_field: Option<(&'static str, &'static str)>,
    /// Answer the REST create path with this status instead of the bug's 500.
    pub rest_status: Option<u16>,
    /// Do not send `notification_personal`.
    pub skip_personal_notification: bool,
}

/// Everything the sample backend keeps.
#[derive(Default)]
pub struct Chat {
    inner: Mutex<Inner>,
    /// How this backend deviates from the recorded one (tests only).
    pub quirks: Quirks,
}

#[derive(Default)]
struct Inner {
    messages: Vec<Value>,
    next_member: u64,
    members: HashMap<u64, (u64, Member)>,
}

impl Chat {
    /// A chat whose answers deviate by `quirks`.
    pub fn with_quirks(quirks: Quirks) -> Chat {
        Chat {
            quirks,
            ..Chat::default()
        }
    }

    /// The user a session cookie or token belongs to.
    pub fn authenticate(&self, session: Option<&str>, token: Option<&str>) -> Option<User> {
        USERS.into_iter().find(|u| {
            session.is_some_and(|s| s == u.session) || token.is_some_and(|t| t == u.token)
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        match self.inner.lock() {
            Ok(mut inner) => f(&mut inner),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Saved messages of `conversation`, as the REST list returns them.
    pub fn list(&self, conversation: u64) -> Vec<Value> {
        self.with(|inner| {
            inner
                .messages
                .iter()
                .filter(|m| m["conversation"] == conversation)
                .cloned()
                .collect()
        })
    }

    /// Saves a message sent by `user` and returns it as the API shows it.
    pub fn save(&self, conversation: u64, user: User, text: &str) -> Value {
        self.with(|inner| {
            let message = json!({
                "id": 120 + inner.messages.len() as u64 + 1,
                "conversation": conversation,
                "message": text,
                "expediteur": {"id": user.id, "username": user.username, "avatar": null},
                "date_envoi": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                "lu": false,
            });
            let mut message = message;
            if let (Some((from, to)), Some(map)) =
                (self.quirks.rename_field, message.as_object_mut())
            {
                if let Some(value) = map.remove(from) {
                    map.insert(to.to_owned(), value);
                }
            }
            inner.messages.push(message.clone());
            message
        })
    }

    /// Adds a connected client; returns its id and its queue of messages.
    pub fn join(&self, conversation: u64, user: User) -> (u64, mpsc::UnboundedReceiver<Value>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let id = self.with(|inner| {
            inner.next_member += 1;
            let id = inner.next_member;
            inner
                .members
                .insert(id, (conversation, Member { user, tx }));
            id
        });
        (id, rx)
    }

    /// Removes a connected client.
    pub fn leave(&self, member: u64) {
        self.with(|inner| inner.members.remove(&member));
    }

    /// Usernames connected to `conversation`, without duplicates.
    pub fn online(&self, conversation: u64) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.with(|inner| {
            inner
                .members
                .values()
                .filter(|(c, _)| *c == conversation)
                .map(|(_, m)| m.user.username)
                .collect()
        });
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Sends `message` to every client of `conversation` that `to` accepts.
    pub fn send_to(&self, conversation: u64, message: &Value, to: impl Fn(User) -> bool) {
        self.with(|inner| {
            for (c, member) in inner.members.values() {
                if *c == conversation && to(member.user) {
                    let _ = member.tx.send(message.clone());
                }
            }
        });
    }
}
