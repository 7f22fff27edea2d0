//! The background ingest worker: runs queued sources one at a time, in rounds that take the
//! oldest job of each workspace with work, so workspaces are served in turn and one with a
//! thousand queued files cannot hold back another's single upload.

use std::sync::Arc;
use std::time::Duration;

use crate::sources::Sources;

pub fn spawn(sources: Arc<Sources>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            drain(&sources).await;
            if let Err(e) = sources.retriever.vectors.maintain().await {
                tracing::warn!(error = %e, "vector index maintenance failed");
            }
            tokio::select! {
                () = sources.wake.notified() => {}
                () = tokio::time::sleep(Duration::from_secs(30)) => {}
            }
        }
    })
}

/// Runs rounds until the queue is empty. A job whose outcome cannot be recorded ends the
/// draining, so a store failure is retried at the next wake rather than in a hot loop.
async fn drain(sources: &Sources) {
    loop {
        let round = match sources.store.next_jobs().await {
            Ok(round) if round.is_empty() => return,
            Ok(round) => round,
            Err(e) => {
                tracing::error!(error = %e, "reading the ingest queue failed");
                return;
            }
        };
        for source in round {
            if let Err(e) = sources.run_job(source).await {
                tracing::error!(error = %e, "ingest job failed to record its outcome");
                return;
            }
        }
    }
}
