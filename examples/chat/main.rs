//! A small chat backend to develop a front end against with devserve:
//!
//! ```text
//! cargo run --example chat                               # terminal 1: backend on 127.0.0.1:3000
//! devserve examples/chat/site --proxy-ws localhost:3000  # terminal 2: front end + /ws forwarded
//! ```
//!
//! Open the URL devserve prints in two tabs, pick names, and chat; edit `examples/chat/site/*` and
//! the tabs update while the chat keeps working.

mod server;

use clap::Parser;

/// Chat backend: rooms by path (/ws/<room>, /ws = "lobby"), names, join/leave notes.
#[derive(Parser)]
struct Args {
    /// Port to listen on (127.0.0.1).
    #[arg(long, default_value_t = 3000)]
    port: u16,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on 127.0.0.1:{}: {e} (try --port)", args.port))?;
    eprintln!(
        "chat backend on ws://127.0.0.1:{}/ws (rooms: /ws/<room>)",
        args.port
    );
    axum::serve(listener, server::app()).await?;
    Ok(())
}
