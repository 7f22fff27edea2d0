//! Times LanceDB vector queries on the bench store in a few variants (filter placement),
//! to see where vector search latency goes.

use std::time::Instant;

use anyhow::Context;
use futures::TryStreamExt;
use lancedb::query::{ExecutableQuery, QueryBase};
use rand::{Rng, SeedableRng};

fn report(name: &str, mut lat: Vec<f64>) {
    lat.sort_by(f64::total_cmp);
    println!(
        "{name:<28} p50 {:.2} ms  p99 {:.2} ms",
        lat[lat.len() / 2],
        lat[lat.len() * 99 / 100]
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or("/root/.cache/cairn/bench-search/lance".into());
    let db = lancedb::connect(&dir).execute().await?;
    let table = db.open_table("vectors").execute().await?;
    println!(
        "indices: {:?}",
        table
            .list_indices()
            .await?
            .iter()
            .map(|i| (i.name.clone(), i.index_type.to_string()))
            .collect::<Vec<_>>()
    );
    let ws: String = {
        let batches: Vec<arrow_array::RecordBatch> = table
            .query()
            .limit(1)
            .execute()
            .await?
            .try_collect()
            .await?;
        let col = batches
            .first()
            .and_then(|batch| batch.column_by_name("workspace_id"))
            .context("the table has no rows with a workspace_id column")?;
        col.as_any()
            .downcast_ref::<arrow_array::StringArray>()
            .context("workspace_id is not a string column")?
            .value(0)
            .to_string()
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    for (name, flat) in [("flat no filter", true), ("hnsw no filter ef64", false)] {
        let mut lat = Vec::new();
        for _ in 0..40 {
            let v: Vec<f32> = (0..384).map(|_| rng.gen::<f32>() - 0.5).collect();
            let mut q = table
                .query()
                .nearest_to(v.as_slice())?
                .distance_type(lancedb::DistanceType::Cosine)
                .limit(50);
            q = if flat {
                q.bypass_vector_index()
            } else {
                q.ef(64)
            };
            let t = Instant::now();
            let _: Vec<arrow_array::RecordBatch> = q.execute().await?.try_collect().await?;
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        report(name, lat);
    }
    let variants: [(&str, Option<String>, bool); 4] = [
        ("no filter", None, false),
        (
            "workspace prefilter",
            Some(format!("workspace_id = '{ws}'")),
            false,
        ),
        (
            "workspace+type prefilter",
            Some(format!("workspace_id = '{ws}' AND item_type = 'chunk'")),
            false,
        ),
        (
            "workspace+type postfilter",
            Some(format!("workspace_id = '{ws}' AND item_type = 'chunk'")),
            true,
        ),
    ];
    for (name, filter, post) in variants {
        let mut lat = Vec::new();
        for _ in 0..60 {
            let mut v: Vec<f32> = (0..384).map(|_| rng.gen::<f32>() - 0.5).collect();
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter_mut().for_each(|x| *x /= n);
            let mut q = table
                .query()
                .nearest_to(v.as_slice())?
                .distance_type(lancedb::DistanceType::Cosine)
                .limit(50);
            if let Some(f) = &filter {
                q = q.only_if(f.clone());
            }
            if post {
                q = q.postfilter();
            }
            let t = Instant::now();
            let _: Vec<arrow_array::RecordBatch> = q.execute().await?.try_collect().await?;
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        report(name, lat);
    }
    Ok(())
}
