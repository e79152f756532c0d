//! Graceful shutdown. On SIGTERM or SIGINT the server stops accepting connections at once,
//! lets the streams that run finish for the grace period, then interrupts the rest through
//! the runs' own path (partial answers kept, each client told it may send again, each stream
//! ended cleanly), and only then lets the HTTP server close what is left.

use std::time::Duration;

use super::Application;

/// What the HTTP server waits for its connections after it was told to stop: the grace, the
/// time interrupted runs take to save and end their streams, and some slack.
pub(super) fn server_timeout(grace: Duration) -> u64 {
    grace.as_secs() + 15
}

impl Application {
    /// Serves until SIGTERM or SIGINT, then shuts down gracefully (see the module doc).
    pub async fn run_until_signalled(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let (runs, grace) = (self.runs.clone(), self.shutdown_grace);
        tokio::spawn(async move {
            let signal = signal().await;
            log::info!(
                "{signal}: no longer accepting connections; streams may finish for {} s",
                grace.as_secs()
            );
            // The stop command goes out now; the returned future only waits for the end.
            let stopped = handle.stop(true);
            runs.drain(grace).await;
            stopped.await;
        });
        self.run_until_stopped().await
    }
}

/// Waits for SIGTERM or SIGINT; names the one that came.
async fn signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => tokio::select! {
                _ = terminate.recv() => "SIGTERM",
                _ = tokio::signal::ctrl_c() => "SIGINT",
            },
            Err(e) => {
                log::error!("cannot listen for SIGTERM: {e}");
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}
