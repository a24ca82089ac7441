//! Actions: one user intent seen on one or both send paths.
//!
//! Attempts that carry the same content (normalized text) to the same
//! conversation within the action window are one action: "cc" to
//! conversation 3, tried over the WebSocket and over REST.

use std::collections::HashMap;

use serde::Serialize;

use super::attempt::{Attempt, SendPath};

/// One user intent and the attempts that carried it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Action {
    /// The content sent.
    pub content: String,
    /// The conversation it went to.
    pub conversation: Option<String>,
    /// Indexes into the attempt list, in time order.
    pub attempts: Vec<usize>,
}

impl Action {
    /// This action's attempts on `path`.
    pub fn on<'a>(
        &'a self,
        path: SendPath,
        all: &'a [Attempt],
    ) -> impl Iterator<Item = &'a Attempt> + 'a {
        self.attempts
            .iter()
            .map(|&i| &all[i])
            .filter(move |a| a.path == path)
    }

    /// True when both paths were tried.
    pub fn both_paths(&self, all: &[Attempt]) -> bool {
        self.on(SendPath::Rest, all).next().is_some() && self.on(SendPath::Ws, all).next().is_some()
    }
}

/// True unless both name a conversation and they differ: a Socket.IO
/// event may name no room while the REST path does.
fn same_conversation(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

/// Groups attempts (in time order) into actions: each attempt joins the
/// open action with its content and conversation, found through an index
/// by content, so grouping is linear in the attempts.
pub fn group(attempts: &[Attempt], window_us: u64) -> Vec<Action> {
    let mut actions: Vec<(Action, u64)> = Vec::new();
    let mut by_content: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, attempt) in attempts.iter().enumerate() {
        let Some(content) = &attempt.content else {
            continue;
        };
        let same = by_content.entry(content.as_str()).or_default();
        // An action whose last attempt is out of the window can never be
        // joined again: forgetting it keeps this linear.
        same.retain(|&a| attempt.t_us.saturating_sub(actions[a].1) <= window_us);
        let open = same.iter().copied().find(|&a| {
            let (action, last) = &actions[a];
            same_conversation(
                action.conversation.as_deref(),
                attempt.conversation.as_deref(),
            ) && attempt.t_us.saturating_sub(*last) <= window_us
        });
        match open {
            Some(a) => {
                let (action, last) = &mut actions[a];
                action.attempts.push(i);
                *last = attempt.t_us;
            }
            None => {
                same.push(actions.len());
                actions.push((
                    Action {
                        content: content.clone(),
                        conversation: attempt.conversation.clone(),
                        attempts: vec![i],
                    },
                    attempt.t_us,
                ));
            }
        }
    }
    actions.into_iter().map(|(a, _)| a).collect()
}
