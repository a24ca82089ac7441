//! The `wsdiag` binary: arguments in, exit code out.
//!
//! Exit codes: 0 ok; 1 the command worked and found a problem; 2 usage or
//! runtime error (clap uses 2 for usage errors too).

use std::process::ExitCode;

use clap::Parser;
use wsdiag::{cli::Cli, Outcome};

/// mimalloc instead of glibc's allocator: events are made on the runtime's
/// threads and freed on the hub's, and glibc's arena locks made that cost
/// about a quarter of the proxy's CPU on REST traffic (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// No transparent huge pages for this process. mimalloc asks for them on
/// its 1 GiB arena (`madvise(MADV_HUGEPAGE)`), so with the kernel's usual
/// `madvise` setting its first touches fault in 2 MiB at a time: about
/// 8 MB more resident for the first thousands of WebSockets, 14.1 against
/// 11.5 KiB per idle WebSocket at 2,000 held, and no measurable gain in
/// throughput (docs/performance.md). Pages are small from here on; the few
/// faulted before `main` stay as they are. Failing (an old kernel) changes
/// nothing else.
fn small_pages_only() {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
}

fn main() -> ExitCode {
    small_pages_only();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        // Colours only on a terminal: a log written to a file or a pipe
        // holds no escape sequences.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match wsdiag::run(cli) {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::Problem) => ExitCode::from(1),
        Err(e) => {
            #[allow(clippy::print_stderr)] // the binary's edge reports errors
            {
                eprintln!("wsdiag: {e:#}");
            }
            ExitCode::from(2)
        }
    }
}
