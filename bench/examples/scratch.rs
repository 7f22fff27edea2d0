use std::time::Instant;
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = std::path::PathBuf::from(std::env::var("HOME")? + "/.cache/cairn/bench-memory");
    let (engine, ws) = cairn_bench::engine_at(&dir).await?;
    let keys: Vec<String> = sqlx::query_scalar("SELECT index_key FROM memory_notes LIMIT 100")
        .fetch_all(&engine.stores.pool)
        .await?;
    for round in 0..3 {
        let t = Instant::now();
        for _ in 0..20 {
            engine
                .memory
                .store
                .notes_by_index_keys(&ws.id, &keys)
                .await?;
        }
        println!(
            "round {round}: notes_by_index_keys(100) {:.2} ms",
            t.elapsed().as_secs_f64() * 1000.0 / 20.0
        );
        let t = Instant::now();
        for _ in 0..20 {
            let _: Vec<String> = sqlx::query_scalar("SELECT id FROM memory_notes LIMIT 100")
                .fetch_all(&engine.stores.pool)
                .await?;
        }
        println!(
            "  plain 100 ids {:.2} ms",
            t.elapsed().as_secs_f64() * 1000.0 / 20.0
        );
        let t = Instant::now();
        for _ in 0..20 {
            engine.memory.store.feedback_totals(&ws.id, &keys).await?;
        }
        println!(
            "  feedback_totals {:.2} ms",
            t.elapsed().as_secs_f64() * 1000.0 / 20.0
        );
        let counter = cairn::context::budget::TokenCounter::new("cl100k_base")?;
        let rows = engine
            .memory
            .store
            .notes_by_index_keys(&ws.id, &keys)
            .await?;
        let t = Instant::now();
        let mut n = 0;
        for r in &rows {
            n += counter.count(&r.content);
        }
        println!(
            "  tiktoken 100 notes ({n} tokens) {:.2} ms",
            t.elapsed().as_secs_f64() * 1000.0
        );
    }
    Ok(())
}
