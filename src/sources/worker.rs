//! The background ingest worker: runs queued sources one at a time, oldest first.

use std::sync::Arc;
use std::time::Duration;

use crate::sources::Sources;

pub fn spawn(sources: Arc<Sources>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match sources.store.queued_sources().await {
                Ok(queued) => {
                    for source in queued {
                        if let Err(e) = sources.run_job(source).await {
                            tracing::error!(error = %e, "ingest job failed to record its outcome");
                        }
                    }
                }
                Err(e) => tracing::error!(error = %e, "reading the ingest queue failed"),
            }
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
