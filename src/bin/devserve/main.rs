//! The `devserve` binary: parse flags into a [`Config`], start logging, tune the process, run,
//! and map the outcome to an exit status (0 after Ctrl-C or SIGTERM, 1 for a start-up error).

mod tuning;

use std::process::ExitCode;

use devserve::{Config, StartError};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

fn main() -> ExitCode {
    let mut config = match Config::from_args(std::env::args_os()) {
        Ok(config) => config,
        Err(StartError::Usage(e)) => {
            let _ = e.print();
            // --help and --version are not errors; every mistake in the flags is a start-up error.
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
        Err(StartError::Print(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(e) => return fail(e.into()),
    };
    init_tracing(config.quiet, config.verbose, config.timestamps);
    // Shortcuts are read from a person at a terminal, never from a pipe or /dev/null.
    config.keys = std::io::IsTerminal::is_terminal(&std::io::stdin());
    match start(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn fail(e: anyhow::Error) -> ExitCode {
    eprintln!("devserve: {e:#}");
    ExitCode::from(1)
}

fn start(config: Config) -> anyhow::Result<()> {
    tuning::keep_large_allocations_mapped();
    // Listening before the runtime starts: a browser that connects meanwhile is answered, not refused.
    let listener = devserve::bind(&config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let immediate = CancellationToken::new();
    let stopped = runtime.block_on(async {
        let shutdown = CancellationToken::new();
        devserve::on_signals(shutdown.clone(), immediate.clone())?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        tokio::select! {
            served = devserve::run(config, listener, shutdown) => served.map_err(anyhow::Error::from),
            _ = immediate.cancelled() => Ok(()),
        }
    });
    if immediate.is_cancelled() {
        // A second Ctrl-C: leave the tasks still closing where they are.
        runtime.shutdown_background();
    }
    stopped
}

fn init_tracing(quiet: bool, verbose: u8, timestamps: bool) {
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
    let lines = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .with_writer(std::io::stderr);
    if timestamps {
        tracing_subscriber::registry().with(lines).with(filter).init();
    } else {
        tracing_subscriber::registry()
            .with(lines.without_time())
            .with(filter)
            .init();
    }
}
