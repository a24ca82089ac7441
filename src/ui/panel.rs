//! The diagnosis panel's answer (`/api/diagnosis`): what the page shows of
//! a whole diagnosis, picked here rather than in the browser.
//!
//! A whole diagnosis lists every send attempt: 26.6 MB of JSON for a
//! capture of 100,000 events, fetched again each time the capture grows.
//! The panel lists [`LISTED`] findings and actions and, side by side,
//! [`SHOWN_PER_PATH`] attempts of a path per action, so that is what the
//! answer holds, with the counts of the rest. Shape (JSON):
//!
//! ```text
//! { "covers": SEQ, "findings": [Finding...], "findings_total": N,
//!   "attempts": {"total": N, "rest": N, "ws": N},
//!   "actions_total": N,
//!   "actions": { "INDEX": { "content": "cc", "conversation": "3" | null,
//!                 "tally": [{"path": "rest", "result": "failed", "count": 2}...],
//!                 "shown": [Attempt...], "more": {"rest": N, "ws": N} } },
//!   "introspection": {...} | null }
//! ```
//!
//! `covers` is the `seq` of the last event the diagnosis saw. `actions` is
//! keyed by the action's index in the whole diagnosis (a finding's
//! `action`): the first [`LISTED`], and any a listed finding names. The
//! whole diagnosis is `wsdiag diagnose --format json`, and the exports.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use crate::diagnose::{Action, Attempt, Diagnosis, Finding, Introspection, Outcome, SendPath};

/// Findings and actions the panel lists (`MAX_LISTED` in app.js).
pub const LISTED: usize = 50;
/// Attempts of each path shown side by side for an action.
pub const SHOWN_PER_PATH: usize = 3;

/// The answer; see the module's documentation for its JSON.
#[derive(Debug, Serialize)]
pub struct Panel<'a> {
    covers: u64,
    findings: &'a [Finding],
    findings_total: usize,
    attempts: PathCounts,
    actions_total: usize,
    actions: BTreeMap<usize, PanelAction<'a>>,
    introspection: Option<&'a Introspection>,
}

/// How many attempts, in all and by path.
#[derive(Debug, Default, PartialEq, Serialize)]
struct PathCounts {
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<usize>,
    rest: usize,
    ws: usize,
}

impl PathCounts {
    fn add(&mut self, path: SendPath) {
        match path {
            SendPath::Rest => self.rest += 1,
            SendPath::Ws => self.ws += 1,
        }
    }
}

/// An action as the panel lists it.
#[derive(Debug, Serialize)]
struct PanelAction<'a> {
    content: &'a str,
    conversation: Option<&'a str>,
    /// Attempts by path and outcome, in the order first seen.
    tally: Vec<Tally>,
    /// The attempts side by side: per path, those a finding cites, then
    /// failed ones, then the earliest; at most [`SHOWN_PER_PATH`].
    shown: Vec<&'a Attempt>,
    /// The attempts not shown, by path.
    more: PathCounts,
}

/// How many attempts of one path had one outcome.
#[derive(Debug, PartialEq, Serialize)]
struct Tally {
    path: SendPath,
    result: Verdict,
    count: usize,
}

/// An outcome's kind, named as the whole diagnosis's JSON names it (its
/// `result`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Verdict {
    Succeeded,
    Failed,
    Unconfirmed,
}

impl Verdict {
    fn of(outcome: &Outcome) -> Verdict {
        match outcome {
            Outcome::Succeeded { .. } => Verdict::Succeeded,
            Outcome::Failed { .. } => Verdict::Failed,
            Outcome::Unconfirmed => Verdict::Unconfirmed,
        }
    }
}

impl<'a> Panel<'a> {
    /// The panel's part of `diagnosis`, made from events up to `covers`.
    pub fn of(diagnosis: &'a Diagnosis, covers: u64) -> Panel<'a> {
        let mut attempts = PathCounts {
            total: Some(diagnosis.attempts.len()),
            ..PathCounts::default()
        };
        for attempt in &diagnosis.attempts {
            attempts.add(attempt.path);
        }
        let findings = &diagnosis.findings[..diagnosis.findings.len().min(LISTED)];
        let named = findings.iter().filter_map(|f| f.action);
        let listed: std::collections::BTreeSet<usize> = (0..diagnosis.actions.len().min(LISTED))
            .chain(named)
            .filter(|&i| i < diagnosis.actions.len())
            .collect();
        let actions = listed
            .into_iter()
            .map(|i| {
                let cited: HashSet<u64> = findings
                    .iter()
                    .filter(|f| f.action == Some(i))
                    .flat_map(|f| f.evidence.iter().copied())
                    .collect();
                let action = &diagnosis.actions[i];
                (i, PanelAction::of(action, &diagnosis.attempts, &cited))
            })
            .collect();
        Panel {
            covers,
            findings,
            findings_total: diagnosis.findings.len(),
            attempts,
            actions_total: diagnosis.actions.len(),
            actions,
            introspection: diagnosis.introspection.as_ref(),
        }
    }
}

impl<'a> PanelAction<'a> {
    fn of(action: &'a Action, all: &'a [Attempt], cited: &HashSet<u64>) -> PanelAction<'a> {
        let mut tally: Vec<Tally> = Vec::new();
        for attempt in action.attempts.iter().map(|&i| &all[i]) {
            let result = Verdict::of(&attempt.outcome);
            match tally
                .iter_mut()
                .find(|t| t.path == attempt.path && t.result == result)
            {
                Some(t) => t.count += 1,
                None => tally.push(Tally {
                    path: attempt.path,
                    result,
                    count: 1,
                }),
            }
        }
        let rank = |a: &Attempt| match () {
            () if cited.contains(&a.seq) => 0,
            () if a.outcome.failed() => 1,
            () => 2,
        };
        let mut shown = Vec::new();
        let mut more = PathCounts::default();
        for path in [SendPath::Rest, SendPath::Ws] {
            let mut mine: Vec<&Attempt> = action.on(path, all).collect();
            mine.sort_by_key(|a| (rank(a), a.seq));
            for _ in mine.iter().skip(SHOWN_PER_PATH) {
                more.add(path);
            }
            mine.truncate(SHOWN_PER_PATH);
            shown.extend(mine);
        }
        PanelAction {
            content: &action.content,
            conversation: action.conversation.as_deref(),
            tally,
            shown,
            more,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::live::LiveFinding;
    use crate::diagnose::Code;

    fn attempt(path: SendPath, seq: u64, failed: bool) -> Attempt {
        Attempt {
            path,
            seq,
            t_us: seq,
            conn: 1,
            method: None,
            endpoint: "/chat".to_owned(),
            conversation: Some("3".to_owned()),
            fields: Default::default(),
            msg_type: None,
            content: Some("cc".to_owned()),
            outcome: if failed {
                Outcome::Failed {
                    evidence: vec![seq + 1],
                    status: Some(500),
                    error: None,
                    reason: "500".to_owned(),
                }
            } else {
                Outcome::Unconfirmed
            },
            context: Default::default(),
        }
    }

    /// One action of 8 REST attempts (seq 10, 20, ..., the 5th and 7th
    /// failed) and 2 WebSocket ones, then 60 actions of one attempt each;
    /// one finding, on the first action, citing seq 80.
    fn diagnosis() -> Diagnosis {
        let mut attempts: Vec<Attempt> = (1..=8)
            .map(|k| attempt(SendPath::Rest, k * 10, k == 5 || k == 7))
            .collect();
        attempts.push(attempt(SendPath::Ws, 5, false));
        attempts.push(attempt(SendPath::Ws, 6, false));
        let mut actions = vec![Action {
            content: "cc".to_owned(),
            conversation: Some("3".to_owned()),
            attempts: (0..10).collect(),
        }];
        for k in 0..60 {
            actions.push(Action {
                content: format!("m{k}"),
                conversation: None,
                attempts: vec![attempts.len()],
            });
            attempts.push(attempt(SendPath::Ws, 1_000 + k, false));
        }
        let mut finding = LiveFinding::bare(80, Code::RestServerError, Vec::new()).finding;
        finding.action = Some(0);
        finding.evidence = vec![80, 81];
        Diagnosis {
            attempts,
            actions,
            findings: vec![finding],
            introspection: None,
            errors: Default::default(),
        }
    }

    #[test]
    fn an_action_shows_the_cited_attempts_then_the_failed_then_the_earliest_and_counts_the_rest() {
        let d = diagnosis();
        let panel = Panel::of(&d, 2_000);
        let first = &panel.actions[&0];
        let seqs: Vec<u64> = first.shown.iter().map(|a| a.seq).collect();
        assert_eq!(seqs, [80, 50, 70, 5, 6]);
        assert_eq!(
            first.more,
            PathCounts {
                total: None,
                rest: 5,
                ws: 0
            }
        );
        assert_eq!(
            first.tally,
            [
                Tally {
                    path: SendPath::Rest,
                    result: Verdict::Unconfirmed,
                    count: 6
                },
                Tally {
                    path: SendPath::Rest,
                    result: Verdict::Failed,
                    count: 2
                },
                Tally {
                    path: SendPath::Ws,
                    result: Verdict::Unconfirmed,
                    count: 2
                },
            ]
        );
    }

    #[test]
    fn the_answer_lists_fifty_actions_with_the_counts_of_all() {
        let d = diagnosis();
        let panel = Panel::of(&d, 2_000);
        assert_eq!(panel.actions.len(), LISTED);
        assert_eq!(panel.actions_total, 61);
        assert_eq!(
            panel.attempts,
            PathCounts {
                total: Some(70),
                rest: 8,
                ws: 62
            }
        );
        let json = serde_json::to_value(&panel).unwrap();
        assert_eq!(json["covers"], 2_000);
        assert_eq!(json["actions"]["49"]["content"], "m48");
        assert!(json["actions"].get("50").is_none());
        assert!(
            json.to_string().len() < 60_000,
            "{}",
            json.to_string().len()
        );
    }

    #[test]
    fn an_action_a_finding_names_is_listed_beyond_the_first_fifty() {
        let mut d = diagnosis();
        d.findings[0].action = Some(55);
        d.findings[0].evidence = vec![1_054];
        let panel = Panel::of(&d, 2_000);
        assert_eq!(panel.actions.len(), LISTED + 1);
        assert_eq!(panel.actions[&55].shown[0].seq, 1_054);
    }
}
