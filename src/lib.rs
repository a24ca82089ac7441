//! wsdiag: a diagnostic WebSocket debugging proxy.
//!
//! It sits between a web frontend and its backend, forwards every HTTP
//! request and WebSocket message unchanged, records all of it, and explains
//! failures.
//!
//! # Layout
//!
//! - [`event`]: the event, the one vocabulary every module shares.
//! - [`proxy`]: sockets only: accept loop, HTTP forwarding, WebSocket
//!   upgrade bridging, the frame relay, shutdown.
//! - [`dialects`]: the message protocols spoken on WebSockets (Socket.IO,
//!   STOMP, GraphQL over WebSocket, …) and the classifier that reads each
//!   message once.
//! - [`stacks`]: what each backend framework's error pages say (FastAPI,
//!   Express, generic formats, database errors) and its words of advice.
//! - [`sink`]: consumers of the live event stream (hub, console); all
//!   terminal output.
//! - [`capture`]: the capture file format: writer and reader.
//! - [`diagnose`]: events in, findings out; error-page parsers.
//! - [`export`]: HAR, Markdown and JSON Lines for bug reports; redaction.
//! - [`probe`]: the client that sends one message both ways.
//! - [`replay`]: CI replay of captures, capture diffs, the mock upstream.
//! - [`demo`]: the embedded sample chat backend and scripted client.
//! - [`cli`] and [`commands`]: the command line and the commands it runs.

pub mod capture;
pub mod cli;
pub mod commands;
pub mod demo;
pub mod diagnose;
pub mod dialects;
pub mod event;
pub mod export;
pub mod http_server;
pub mod probe;
pub mod proxy;
pub mod replay;
pub mod sink;
pub mod stacks;
pub mod ui;

pub use commands::{run, Outcome};
