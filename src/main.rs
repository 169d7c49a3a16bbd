//! The `devserve` binary: parse flags, resolve the configuration, start logging, run, and map the
//! outcome to an exit status (0 after Ctrl-C or SIGTERM, 1 for a start-up error).

use std::process::ExitCode;

use clap::Parser;
use devserve::cli::Cli;
use devserve::Config;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // --help and --version are not errors; every mistake in the flags is a start-up error.
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_tracing(cli.quiet, cli.verbose);
    match start(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("devserve: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn start(cli: Cli) -> anyhow::Result<()> {
    let config = Config::from_cli(cli)?;
    keep_large_allocations_mapped();
    // Listening before the runtime starts: a browser that connects meanwhile is answered, not refused.
    let listener = devserve::bind(&config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let shutdown = CancellationToken::new();
        cancel_on_signal(shutdown.clone())?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        devserve::run(config, listener, shutdown).await?;
        Ok(())
    })
}

/// Cancels `shutdown` on Ctrl-C or SIGTERM. The handlers are registered before this returns, so a
/// signal that arrives as soon as the URL is printed is still a graceful stop.
fn cancel_on_signal(shutdown: CancellationToken) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        tokio::spawn(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            tracing::info!("shutting down (Ctrl-C again to stop at once)");
            shutdown.cancel();
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            std::process::exit(0);
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
        shutdown.cancel();
    });
    Ok(())
}

/// `pow` is the one function of the C maths library devserve would use — tokio's multi-threaded
/// scheduler calls `f64::powf` for a moving average of poll times. Defined here from the `libm`
/// crate (musl's implementation, in Rust), it leaves libm.so out of the process altogether:
/// 0.6 MiB less resident memory for a program that stays open all day.
#[no_mangle]
pub extern "C" fn pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}

/// glibc serves allocations above its mmap threshold (128 KiB) with mmap and gives them back on
/// free — but the first such free raises the threshold to that block's size, so from then on
/// file-sized reads come from the heap and stay resident. A load tool fetching a 1 MiB file over
/// 32 connections left devserve at 21–34 MiB resident for the rest of the day; with the threshold
/// fixed at 256 KiB, at 7–7.6 MiB.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_large_allocations_mapped() {
    // SAFETY: mallopt only sets an allocator parameter; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_large_allocations_mapped() {}

fn init_tracing(quiet: bool, verbose: u8) {
    use tracing::Level;
    let default = match (quiet, verbose) {
        (true, _) => Targets::new().with_target("devserve", Level::WARN),
        (false, 0) => Targets::new().with_target("devserve", Level::INFO),
        (false, 1) => Targets::new().with_target("devserve", Level::DEBUG),
        (false, _) => Targets::new().with_default(Level::DEBUG),
    };
    // `target=level` directives, as RUST_LOG usually holds. tracing-subscriber's EnvFilter would
    // also take span and field filters, but it compiles regexes at start-up to parse them.
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or(default);
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .without_time()
                .with_target(false)
                .with_writer(std::io::stderr),
        )
        .with(filter)
        .init();
}
