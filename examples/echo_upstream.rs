//! A WebSocket echo upstream on loopback, for the Autobahn|Testsuite
//! comparison (tests/autobahn/ci.sh) and for trying wsdiag by hand:
//!
//! ```sh
//! cargo run --release --example echo_upstream -- [--port-file FILE]
//! ```
//!
//! It listens on 127.0.0.1 on a free port, prints `listening on ADDR` and,
//! with `--port-file`, writes the port to FILE once it accepts connections.

#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used)] // a tool that reports on stdout

#[path = "../benches/support/echo.rs"]
mod echo;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port_file = match args.as_slice() {
        [] => None,
        [flag, file] if flag == "--port-file" => Some(file.clone()),
        _ => {
            eprintln!("usage: echo_upstream [--port-file FILE]");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        println!("listening on {addr}");
        if let Some(file) = port_file {
            std::fs::write(file, addr.port().to_string()).unwrap();
        }
        echo::serve(listener).await;
    });
}
