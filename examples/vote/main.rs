//! A live vote board to develop a front end against with devserve: candidates with counts, and a
//! vote from one tab moves the bars in every tab, through `/ws`.
//!
//! ```text
//! devserve examples/vote/site --proxy-ws localhost:3001 \
//!     --run 'cargo run --example vote' --run-watch examples/vote
//! ```

mod server;

use clap::Parser;

/// Vote backend: `/ws` sends the counts and takes votes.
#[derive(Parser)]
struct Args {
    /// Port to listen on (127.0.0.1).
    #[arg(long, default_value_t = 3001)]
    port: u16,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on 127.0.0.1:{}: {e} (try --port)", args.port))?;
    eprintln!("vote backend on ws://127.0.0.1:{}/ws", args.port);
    axum::serve(listener, server::app()).await?;
    Ok(())
}
