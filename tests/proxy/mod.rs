//! Client ↔ proxy ↔ upstream, checking what the client got and what the
//! capture says.

mod http;
mod tls;
mod websocket;
mod websocket_close;
