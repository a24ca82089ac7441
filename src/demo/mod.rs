//! The embedded sample chat: a backend with the REST-500 bug, and the
//! scripted client that shows it through the proxy.
//!
//! `wsdiag demo` runs both with the proxy between them; `wsdiag demo
//! --backend-only` serves just the backend for trying the proxy by hand; the
//! test suite uses the backend as its in-process upstream.

mod auth;
pub mod backend;
pub mod chat;
pub mod client;
mod pages;
mod response;
mod socket;

pub use backend::{serve, serve_with};
pub use chat::Quirks;
