//! wsdiag's integration tests: one binary, real sockets on 127.0.0.1 port 0,
//! the real proxy in front of the real sample backend.

// A test that meets the unexpected should stop right there, loudly.
#![allow(clippy::unwrap_used)]

mod support;

mod browser;
mod captures;
mod cli;
mod diagnose;
mod dialects;
mod django;
mod export;
mod fastapi;
mod first_contact;
mod fuzz_regressions;
mod ladder;
mod lifecycle;
mod nothing_lost;
mod protocols;
mod proxy;
mod redaction;
mod relay;
mod replay;
mod security;
mod socketio;
mod stacks;
mod ui;
