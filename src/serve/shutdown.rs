//! Signals → shutdown: the first Ctrl-C or SIGTERM asks for a graceful stop, the second for an
//! immediate one.

use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

/// Cancels `graceful` on the first Ctrl-C or SIGTERM and `immediate` on the second. The handlers
/// are registered before this returns, so a signal that arrives as soon as the URL is printed is
/// still a graceful stop. Call it from within the runtime.
pub fn on_signals(graceful: CancellationToken, immediate: CancellationToken) -> std::io::Result<()> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    // The terminal closed: stop, and stop the backend command with devserve.
    let mut hangup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
            _ = hangup.recv() => {}
        }
        tracing::info!("shutting down (Ctrl-C again to stop at once)");
        graceful.cancel();
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        immediate.cancel();
    });
    Ok(())
}
