//! Client ↔ proxy ↔ upstream, checking what the client got and what the
//! capture says.

mod bad_input;
mod framing;
mod http;
mod tls;
mod upstream_faults;
mod websocket;
mod websocket_close;
mod websocket_faults;
