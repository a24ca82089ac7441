//! The command line: one doc comment per flag, which is what `--help` shows.
//!
//! The command names are a contract (DESIGN.md): tests and docs use them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::event::{DialectId, Direction, Role};
use crate::export::ExportFormat;
use crate::sink::filter::{Filter, StatusFilter};

/// A diagnostic WebSocket debugging proxy: forwards HTTP and WebSocket
/// traffic unchanged, records all of it, and explains failures.
#[derive(Debug, Parser)]
#[command(name = "wsdiag", version, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the recording proxy in front of a backend.
    Proxy(ProxyArgs),
    /// Run the embedded sample chat backend (with its REST-500 bug), the
    /// proxy in front of it, and a scripted client: the whole job in one go.
    Demo(DemoArgs),
    /// Print a capture the way the live console does.
    Show(ShowArgs),
    /// Explain why a send path fails: REST against WebSocket, from a
    /// capture. Exit code 1 when a path fails.
    Diagnose(DiagnoseArgs),
    /// Send the same message over the WebSocket and over REST through a
    /// recording proxy, then diagnose the difference. Exit code 1 when a
    /// path fails.
    Probe(ProbeArgs),
    /// Turn a capture into a bug report: HAR (opens in DevTools), Markdown
    /// (for an issue) or JSON Lines; secrets redacted unless --no-redact.
    Export(ExportArgs),
    /// Replay the client side of a capture against a target and compare
    /// the answers with the recording: exit 1 on any mismatch (for CI).
    Replay(ReplayArgs),
    /// Compare two captures message by message, with the replay's rules.
    Diff(DiffArgs),
    /// Serve the upstream side of a capture, so a frontend can be tested
    /// without its backend.
    Mock(MockArgs),
}

/// `wsdiag proxy`.
#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// The backend to forward to: http://, https://, ws:// or wss://, e.g.
    /// http://127.0.0.1:8000.
    #[arg(long, value_name = "URL")]
    pub upstream: String,
    /// Address to listen on. Loopback by default: say 0.0.0.0:9000 to let
    /// other machines in.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9000", value_parser = parse_listen)]
    pub listen: SocketAddr,
    /// Send the upstream's host:port as `Host` instead of the client's (for
    /// virtual-hosted upstreams). Off by default: Django's CSRF check
    /// compares Origin with Host.
    #[arg(long)]
    pub rewrite_host: bool,
    /// Do not verify the upstream's TLS certificate (self-signed staging
    /// servers). Prints a warning.
    #[arg(long)]
    pub insecure: bool,
    /// Give up connecting to the upstream after this long (e.g. 10s, 500ms).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_positive_duration)]
    pub connect_timeout: Duration,
    /// Give up on an upstream that accepted a WebSocket upgrade request but
    /// has not answered it after this long (the client gets a 504).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_positive_duration)]
    pub handshake_timeout: Duration,
    /// Give up on an upstream that has not started answering a plain
    /// request after this long (the client gets a 504).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_positive_duration)]
    pub response_timeout: Duration,
    /// Close a client connection whose request headers have not all
    /// arrived after this long.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_positive_duration)]
    pub header_read_timeout: Duration,
    /// Ping a WebSocket side that has been silent this long, and end the
    /// WebSocket when it has not answered as long again, or has not read a
    /// message for twice this long (a half-open connection). Checked every
    /// half of it. Off (0) by default: wsdiag sends no traffic of its own,
    /// so an idle timeout in front of the backend shows as it would
    /// without wsdiag. When set, it is in the capture's header and its
    /// pings and pongs are recorded with `origin: "proxy"`.
    #[arg(long, value_name = "DURATION", default_value = "0", value_parser = parse_duration)]
    pub idle_timeout: Duration,
    /// On Ctrl-C or SIGTERM, wsdiag sends each WebSocket's two sides a
    /// close 1001 and keeps relaying this long for both close handshakes
    /// to complete (and for HTTP exchanges to finish) before it drops the
    /// connections.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,
    /// Where to record.
    #[command(flatten)]
    pub recording: RecordingArgs,
    /// What the console shows.
    #[command(flatten)]
    pub console: ConsoleArgs,
    /// The web viewer.
    #[command(flatten)]
    pub ui: UiArgs,
}

/// The web viewer (`--ui`).
#[derive(Debug, Args)]
pub struct UiArgs {
    /// Serve the web viewer: one timeline of REST and WebSocket traffic with
    /// the diagnosis beside it. wsdiag prints its URL, which carries an
    /// access token.
    #[arg(long)]
    pub ui: bool,
    /// Where the web viewer listens.
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:9001",
        requires = "ui",
        value_parser = parse_listen
    )]
    pub ui_listen: SocketAddr,
}

/// Where and how much to record.
#[derive(Debug, Args)]
pub struct RecordingArgs {
    /// The capture file (JSON Lines, mode 0600). Default: a new
    /// wsdiag-YYYYMMDD-HHMMSS.jsonl in the current directory.
    #[arg(long, value_name = "FILE")]
    pub capture: Option<PathBuf>,
    /// Record nothing to a file (the console still shows the traffic).
    #[arg(long, conflicts_with = "capture")]
    pub no_capture: bool,
    /// Replace the --capture file if it exists (without this, an existing
    /// file is refused and left as it is).
    #[arg(long, requires = "capture")]
    pub overwrite: bool,
    /// Bytes of each body or message the capture keeps (the rest is
    /// forwarded, counted, and marked truncated), e.g. 256KiB.
    #[arg(long, value_name = "BYTES", default_value = "256KiB", value_parser = parse_size)]
    pub body_limit: usize,
    /// How to read WebSocket messages.
    #[command(flatten)]
    pub dialect: DialectArgs,
}

/// The message protocol WebSockets are read with.
#[derive(Debug, Args, Default, Clone, Copy)]
pub struct DialectArgs {
    /// Read every WebSocket as this message protocol instead of guessing
    /// it from the handshake and the first messages: json, socketio,
    /// sockjs, stomp, actioncable, phoenix, signalr, graphql_ws, jsonrpc,
    /// wamp, mqtt, msgpack, cbor.
    #[arg(long, value_name = "NAME", value_parser = parse_dialect)]
    pub dialect: Option<DialectId>,
}

fn parse_dialect(s: &str) -> Result<DialectId, String> {
    DialectId::parse(s).ok_or_else(|| {
        let names: Vec<&str> = DialectId::ALL.iter().map(|d| d.as_str()).collect();
        format!("unknown dialect {s:?}: use one of {}", names.join(", "))
    })
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| {
        format!("unknown role {s:?}: use send, push, reply, error, heartbeat or control")
    })
}

/// What the console shows.
#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// Print no event lines (the start banner and the summary remain).
    #[arg(long, short)]
    pub quiet: bool,
    /// Which events to show.
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// Event filters, shared by the live console and `wsdiag show`. They
/// combine; a filter given twice matches either value.
#[derive(Debug, Args, Default)]
pub struct FilterArgs {
    /// Only WebSocket messages of this name (`msg_type`): a JSON `type`
    /// such as chat_message, a Socket.IO event, a STOMP command, a
    /// GraphQL operation.
    #[arg(long = "type", value_name = "MSG_TYPE")]
    pub msg_type: Vec<String>,
    /// Only WebSocket messages of this role: send, push, reply, error,
    /// heartbeat, control.
    #[arg(long, value_name = "ROLE", value_parser = parse_role)]
    pub role: Vec<Role>,
    /// Only WebSocket messages about this topic: a room, channel, STOMP
    /// destination, Socket.IO namespace, MQTT topic.
    #[arg(long, value_name = "TOPIC")]
    pub topic: Vec<String>,
    /// Also show the protocol's heartbeats (Engine.IO ping and pong, STOMP
    /// heart-beats, Phoenix heartbeats), which are hidden by default.
    #[arg(long)]
    pub heartbeats: bool,
    /// Only events of this connection number.
    #[arg(long, value_name = "N")]
    pub conn: Vec<u64>,
    /// Only WebSocket messages sent (client → upstream) or received.
    #[arg(long, value_enum)]
    pub dir: Option<DirArg>,
    /// Only events whose request or WebSocket path contains this text.
    #[arg(long, value_name = "TEXT")]
    pub path: Option<String>,
    /// Only exchanges that ended with this status: 500, or a class like 5xx.
    #[arg(long, value_name = "STATUS")]
    pub status: Option<StatusFilter>,
    /// Only events whose payload, body or path contains this text.
    #[arg(long, value_name = "TEXT")]
    pub grep: Option<String>,
}

impl FilterArgs {
    /// The filter these flags describe.
    pub fn filter(&self) -> Filter {
        Filter {
            msg_types: self.msg_type.clone(),
            roles: self.role.clone(),
            topics: self.topic.clone(),
            heartbeats: self.heartbeats,
            conns: self.conn.clone(),
            dir: self.dir.map(Direction::from),
            path: self.path.clone(),
            status: self.status,
            grep: self.grep.clone(),
        }
    }
}

/// A direction as the command line names it.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DirArg {
    /// Client → upstream.
    #[value(alias = "client_to_upstream")]
    Sent,
    /// Upstream → client.
    #[value(alias = "upstream_to_client")]
    Received,
}

impl From<DirArg> for Direction {
    fn from(d: DirArg) -> Direction {
        match d {
            DirArg::Sent => Direction::ClientToUpstream,
            DirArg::Received => Direction::UpstreamToClient,
        }
    }
}

/// `wsdiag demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Leave the sample backend and the proxy running after the scenario and
    /// print their addresses (Ctrl-C stops them).
    #[arg(long, conflicts_with = "backend_only")]
    pub keep_running: bool,
    /// Serve only the sample backend, to try `wsdiag proxy` by hand.
    #[arg(long)]
    pub backend_only: bool,
    /// Where to listen: the proxy's address, or with --backend-only the
    /// backend's. Default: a free loopback port (127.0.0.1:8000 with
    /// --backend-only).
    #[arg(long, value_name = "ADDR", value_parser = parse_listen)]
    pub listen: Option<SocketAddr>,
    /// Where to record.
    #[command(flatten)]
    pub recording: RecordingArgs,
    /// Print no event lines.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `wsdiag show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The capture file to print.
    #[arg(value_name = "CAPTURE")]
    pub capture: PathBuf,
    /// How to read WebSocket messages.
    #[command(flatten)]
    pub dialect: DialectArgs,
    /// Which events to show.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// The web viewer, instead of printing.
    #[command(flatten)]
    pub ui: UiArgs,
}

/// `wsdiag diagnose`.
#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    /// The capture file to diagnose.
    #[arg(value_name = "CAPTURE")]
    pub capture: PathBuf,
    /// How to read WebSocket messages.
    #[command(flatten)]
    pub dialect: DialectArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: crate::diagnose::report::Format,
    /// Ask the upstream (the capture's, or --upstream) which fields its
    /// serializer requires: DRF answers OPTIONS on the failing endpoint.
    #[arg(long)]
    pub introspect: bool,
    /// With --introspect: the upstream to ask, if not the capture's.
    #[arg(long, value_name = "URL", requires = "introspect")]
    pub upstream: Option<String>,
    /// Keep secrets in the Markdown and JSON reports (made for sharing,
    /// they are redacted as `wsdiag export` redacts; the terminal's text
    /// report never is). The report says it is not redacted.
    #[arg(long)]
    pub no_redact: bool,
    /// How long after a WebSocket message an answer carrying the same
    /// content counts as its delivery.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub window: Duration,
}

/// `wsdiag probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The backend, e.g. http://127.0.0.1:8000.
    #[arg(long, value_name = "URL")]
    pub upstream: String,
    /// The WebSocket path (and query, e.g. ?token=...).
    #[arg(long, value_name = "PATH")]
    pub ws_path: String,
    /// The REST path the frontend POSTs to.
    #[arg(long, value_name = "PATH")]
    pub rest_path: String,
    /// The message text to send both ways.
    #[arg(long, default_value = "cc")]
    pub message: String,
    /// A cookie for both paths, e.g. "sessionid=...; csrftoken=..." (a
    /// csrftoken cookie is also sent as X-CSRFToken). Repeatable.
    #[arg(long, value_name = "COOKIES")]
    pub cookie: Vec<String>,
    /// A header for both paths, "Name: value" (e.g. "Authorization: Token
    /// ..."). Repeatable.
    #[arg(long, value_name = "HEADER")]
    pub header: Vec<String>,
    /// The WebSocket payload; {message} is replaced by the message.
    #[arg(long, value_name = "JSON", default_value = crate::probe::WS_TEMPLATE)]
    pub ws_template: String,
    /// The REST body; {message} is replaced by the message.
    #[arg(long, value_name = "JSON", default_value = crate::probe::REST_TEMPLATE)]
    pub rest_template: String,
    /// How long to wait for the WebSocket's answer.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub window: Duration,
    /// Output format of the diagnosis.
    #[arg(long, value_enum, default_value = "text")]
    pub format: crate::diagnose::report::Format,
    /// Where to record (default wsdiag-probe-YYYYMMDD-HHMMSS.jsonl).
    #[command(flatten)]
    pub recording: RecordingArgs,
    /// Do not print the traffic as it happens, only the diagnosis.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `wsdiag export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The capture file to export.
    #[arg(value_name = "CAPTURE")]
    pub capture: PathBuf,
    /// How to read WebSocket messages.
    #[command(flatten)]
    pub dialect: DialectArgs,
    /// What to write.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Where to write it (default: standard output).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Only events of this connection number. Repeatable.
    #[arg(long, value_name = "N")]
    pub conn: Vec<u64>,
    /// Only WebSocket messages of this JSON `type`. Repeatable.
    #[arg(long = "type", value_name = "MSG_TYPE")]
    pub msg_type: Vec<String>,
    /// Only exchanges and WebSockets whose path contains this.
    #[arg(long, value_name = "TEXT")]
    pub path: Option<String>,
    /// From this event: a seq (120), an RFC 3339 time, or HH:MM:SS.
    #[arg(long, value_name = "SEQ|TIME")]
    pub since: Option<String>,
    /// Up to this event: a seq, an RFC 3339 time, or HH:MM:SS.
    #[arg(long, value_name = "SEQ|TIME")]
    pub until: Option<String>,
    /// Also redact this JSON key or query parameter. Repeatable.
    #[arg(long, value_name = "NAME")]
    pub redact_key: Vec<String>,
    /// Also redact this header. Repeatable.
    #[arg(long, value_name = "NAME")]
    pub redact_header: Vec<String>,
    /// Keep secrets (cookies, tokens, passwords) as they were; the output
    /// says so.
    #[arg(long)]
    pub no_redact: bool,
}

/// Rules that say which values to ignore when comparing answers.
#[derive(Debug, Args)]
pub struct IgnoreArgs {
    /// Also ignore this JSON key (e.g. date_envoi) or JSON pointer (e.g.
    /// /data/id). Repeatable. Ids, timestamps, UUIDs and tokens are ignored
    /// by default.
    #[arg(long, value_name = "KEY|POINTER")]
    pub ignore: Vec<String>,
    /// A file of ignore rules, one per line (# comments).
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
}

/// `wsdiag replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The capture to replay.
    #[arg(value_name = "CAPTURE")]
    pub capture: PathBuf,
    /// How to read WebSocket messages.
    #[command(flatten)]
    pub dialect: DialectArgs,
    /// The backend to replay against, e.g. http://127.0.0.1:8000.
    #[arg(long, value_name = "URL")]
    pub target: String,
    /// A cookie that replaces the recorded one of the same name, NAME=VALUE.
    /// Repeatable.
    #[arg(long, value_name = "NAME=VALUE")]
    pub cookie: Vec<String>,
    /// A header that replaces the recorded one, "Name: value". Repeatable.
    #[arg(long, value_name = "HEADER")]
    pub header: Vec<String>,
    /// A token for ?token= and Authorization: Token/Bearer.
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// As fast as the answers come, or with the recorded gaps.
    #[arg(long, value_enum, default_value = "fast")]
    pub pace: crate::replay::run::Pace,
    /// How long to wait for an expected answer.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// What to ignore.
    #[command(flatten)]
    pub ignore: IgnoreArgs,
    /// Write JUnit XML here, for CI systems.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
    /// Record the replay itself to this capture (for `wsdiag diff`).
    #[arg(long = "capture", value_name = "FILE")]
    pub capture_to: Option<PathBuf>,
}

/// `wsdiag diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The capture with the expected answers.
    #[arg(value_name = "OLD")]
    pub old: PathBuf,
    /// The capture to check.
    #[arg(value_name = "NEW")]
    pub new: PathBuf,
    /// What to ignore.
    #[command(flatten)]
    pub ignore: IgnoreArgs,
    /// Write JUnit XML here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `wsdiag mock`.
#[derive(Debug, Args)]
pub struct MockArgs {
    /// The capture whose upstream side to serve.
    #[arg(value_name = "CAPTURE")]
    pub capture: PathBuf,
    /// How to read WebSocket messages.
    #[command(flatten)]
    pub dialect: DialectArgs,
    /// Where to listen (where the frontend expects its backend).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8000", value_parser = parse_listen)]
    pub listen: SocketAddr,
    /// What to ignore when matching requests and messages.
    #[command(flatten)]
    pub ignore: IgnoreArgs,
}

/// A listening address: `HOST:PORT` with an IP or a host name
/// (`localhost:9000`, resolved, IPv4 first), or a bare port for loopback
/// (`9000` is `127.0.0.1:9000`).
fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs as _;
    let hint =
        "give HOST:PORT (127.0.0.1:9000, or 0.0.0.0:9000 for other machines) or a bare port (9000)";
    if let Ok(port) = s.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if s.contains("://") {
        return Err(format!("{s:?} is a URL: {hint}"));
    }
    let Some((_, port)) = s.rsplit_once(':') else {
        return Err(format!("{s:?} has no port: {hint}"));
    };
    if port.parse::<u16>().is_err() {
        return Err(format!("{port:?} is not a TCP port (0-65535): {hint}"));
    }
    let addrs: Vec<SocketAddr> = s
        .to_socket_addrs()
        .map_err(|e| format!("{s:?} does not resolve ({e}): {hint}"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("{s:?} resolves to no address: {hint}"))
}

/// Parses `10s`, `500ms`, `2m` or a plain number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let (number, unit) = split_number(s);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a duration: try 10s or 500ms"))?;
    match unit.to_ascii_lowercase().as_str() {
        "ms" => Ok(Duration::from_millis(n)),
        "" | "s" => Ok(Duration::from_secs(n)),
        "m" => n
            .checked_mul(60)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("{s:?} is too long")),
        _ => Err(format!("{s:?}: unknown unit {unit:?}, use ms, s or m")),
    }
}

/// Like [`parse_duration`], refusing 0 (a limit of nothing would fail
/// every request).
fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        d if d.is_zero() => Err(format!("{s:?}: must be more than 0")),
        d => Ok(d),
    }
}

/// Parses `256KiB`, `64MiB`, `1000`, `4k`, `1m`: binary units.
fn parse_size(s: &str) -> Result<usize, String> {
    let (number, unit) = split_number(s);
    let n: usize = number
        .parse()
        .map_err(|_| format!("{s:?} is not a size: try 256KiB or 64MiB"))?;
    let factor = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(format!("{s:?}: unknown unit {unit:?}, use KiB, MiB or GiB")),
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("{s:?} is too large"))
}

fn split_number(s: &str) -> (&str, &str) {
    let s = s.trim();
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    (&s[..end], s[end..].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_read_like_people_write_them() {
        assert_eq!(parse_size("256KiB"), Ok(256 * 1024));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("lots").is_err());
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert!(parse_duration("10h").is_err());
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
