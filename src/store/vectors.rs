//! Vectors in LanceDB: one table for all workspaces, and every query carries a mandatory
//! workspace filter. Rows are chunks and notes alike (`item_type`), grouped by the document or
//! note they belong to so a group is replaced or deleted as one.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use arrow_array::types::Float32Type;
use arrow_array::{Array, FixedSizeListArray, Float32Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use cairn_flat::FlatIndex;
use futures::TryStreamExt;
use lancedb::index::scalar::{BTreeIndexBuilder, BitmapIndexBuilder};
use lancedb::index::vector::IvfHnswSqIndexBuilder;
use lancedb::index::Index;
use lancedb::query::{ExecutableQuery, QueryBase, Select};
use lancedb::{Connection, DistanceType, Table};
use tokio::sync::RwLock;

const TABLE: &str = "vectors";

#[derive(Debug, Clone)]
pub struct VectorEntry {
    pub id: String,
    pub workspace_id: String,
    pub item_type: String,
    pub source_id: String,
    pub group_id: String,
    pub vector: Vec<f32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VectorHit {
    pub id: String,
    /// Cosine similarity, in [-1, 1].
    pub similarity: f32,
}

pub struct VectorStore {
    db: Connection,
    table: RwLock<Option<Table>>,
    schema: SchemaRef,
    dimension: usize,
    /// Row count from which an ANN index is built; below it search is exact.
    index_threshold: usize,
    /// Set by writes, cleared by `maintain`.
    dirty: AtomicBool,
    /// Item types also held in memory for exact search (see `keep_resident`).
    resident: std::sync::RwLock<Resident>,
}

#[derive(Default)]
struct Resident {
    /// Resident item types and the most rows each may keep in memory.
    types: HashMap<String, usize>,
    /// (workspace_id, item_type) -> rows
    blocks: HashMap<(String, String), FlatIndex>,
}

/// The ids and similarities of one LanceDB result batch.
fn hits_of(batch: &RecordBatch, hits: &mut Vec<VectorHit>) -> anyhow::Result<()> {
    let ids = batch
        .column_by_name("id")
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .context("vector search result without id")?;
    let distances = batch
        .column_by_name("_distance")
        .and_then(|c| c.as_any().downcast_ref::<Float32Array>())
        .context("vector search result without _distance")?;
    for i in 0..batch.num_rows() {
        if !ids.is_null(i) {
            hits.push(VectorHit {
                id: ids.value(i).to_string(),
                similarity: 1.0 - distances.value(i),
            });
        }
    }
    Ok(())
}

/// The `limit` rows of `table` matching `filter` nearest to `vector`, by cosine similarity.
async fn nearest_in(
    table: &Table,
    vector: &[f32],
    filter: String,
    limit: usize,
) -> anyhow::Result<Vec<VectorHit>> {
    let batches: Vec<RecordBatch> = table
        .query()
        .nearest_to(vector)?
        .distance_type(DistanceType::Cosine)
        .select(Select::Columns(vec!["id".to_string()]))
        .only_if(filter)
        .limit(limit)
        .execute()
        .await?
        .try_collect()
        .await?;
    let mut hits = Vec::new();
    for batch in &batches {
        hits_of(batch, &mut hits)?;
    }
    Ok(hits)
}

fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

fn in_list(column: &str, values: &[String]) -> String {
    let list: Vec<String> = values.iter().map(|v| quote(v)).collect();
    format!("{column} IN ({})", list.join(", "))
}

impl VectorStore {
    pub async fn open(
        dir: &Path,
        dimension: usize,
        index_threshold: usize,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let uri = dir.to_str().context("LanceDB path is not UTF-8")?;
        let db = lancedb::connect(uri)
            .execute()
            .await
            .context("opening LanceDB")?;
        let dim = i32::try_from(dimension).context("dimension too large")?;
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("workspace_id", DataType::Utf8, false),
            Field::new("item_type", DataType::Utf8, false),
            Field::new("source_id", DataType::Utf8, false),
            Field::new("group_id", DataType::Utf8, false),
            Field::new(
                "vector",
                DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Float32, true)), dim),
                false,
            ),
        ]));
        let names = db.table_names().execute().await?;
        let table = if names.iter().any(|n| n == TABLE) {
            let table = db.open_table(TABLE).execute().await?;
            let existing = table.schema().await?;
            if let Ok(field) = existing.field_with_name("vector") {
                if let DataType::FixedSizeList(_, d) = field.data_type() {
                    anyhow::ensure!(
                        *d == dim,
                        "the vector table holds {d}-dimensional vectors but the embedding model gives {dimension}; \
                         run `cairn reindex` to re-embed everything with the configured model"
                    );
                }
            }
            Some(table)
        } else {
            None
        };
        Ok(Self {
            db,
            table: RwLock::new(table),
            schema,
            dimension,
            index_threshold,
            dirty: AtomicBool::new(true),
            resident: Default::default(),
        })
    }

    fn batch(&self, entries: &[VectorEntry]) -> anyhow::Result<RecordBatch> {
        let col = |f: fn(&VectorEntry) -> &str| {
            Arc::new(StringArray::from_iter_values(entries.iter().map(f)))
        };
        for e in entries {
            anyhow::ensure!(
                e.vector.len() == self.dimension,
                "vector of dimension {} for {}",
                e.vector.len(),
                e.id
            );
        }
        let vectors = FixedSizeListArray::from_iter_primitive::<Float32Type, _, _>(
            entries
                .iter()
                .map(|e| Some(e.vector.iter().copied().map(Some).collect::<Vec<_>>())),
            i32::try_from(self.dimension)?,
        );
        Ok(RecordBatch::try_new(
            self.schema.clone(),
            vec![
                col(|e| &e.id),
                col(|e| &e.workspace_id),
                col(|e| &e.item_type),
                col(|e| &e.source_id),
                col(|e| &e.group_id),
                Arc::new(vectors),
            ],
        )?)
    }

    fn resident_write(&self) -> std::sync::RwLockWriteGuard<'_, Resident> {
        self.resident.write().unwrap_or_else(|p| p.into_inner())
    }

    fn resident_read(&self) -> std::sync::RwLockReadGuard<'_, Resident> {
        self.resident.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps every vector of `item_type` in memory as well, loaded now from the table and
    /// updated by every write, and answers its searches by exact scan instead of LanceDB,
    /// while the type has at most `max_rows` vectors; past that its searches go back to
    /// LanceDB's index. A filtered Lance query costs 15-25 ms whatever its size; an exact scan
    /// of 100k vectors a few.
    pub async fn keep_resident(&self, item_type: &str, max_rows: usize) -> anyhow::Result<()> {
        let mut rows: Vec<VectorEntry> = Vec::new();
        if let Some(table) = self.table.read().await.as_ref() {
            let filter = format!("item_type = {}", quote(item_type));
            let count = table.count_rows(Some(filter)).await?;
            if count > max_rows {
                tracing::info!(
                    item_type,
                    count,
                    max_rows,
                    "too many vectors to hold in memory; searching them in LanceDB"
                );
                return Ok(());
            }
            let batches: Vec<RecordBatch> = table
                .query()
                .only_if(format!("item_type = {}", quote(item_type)))
                .execute()
                .await?
                .try_collect()
                .await?;
            for batch in batches {
                let text = |name: &str| -> anyhow::Result<StringArray> {
                    batch
                        .column_by_name(name)
                        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
                        .cloned()
                        .with_context(|| format!("vector table without {name}"))
                };
                let (ids, workspaces, sources, groups) = (
                    text("id")?,
                    text("workspace_id")?,
                    text("source_id")?,
                    text("group_id")?,
                );
                let vectors = batch
                    .column_by_name("vector")
                    .and_then(|c| c.as_any().downcast_ref::<FixedSizeListArray>())
                    .context("vector table without vector")?;
                for i in 0..batch.num_rows() {
                    let values = vectors.value(i);
                    let floats = values
                        .as_any()
                        .downcast_ref::<Float32Array>()
                        .context("vectors are not float32")?;
                    rows.push(VectorEntry {
                        id: ids.value(i).to_string(),
                        workspace_id: workspaces.value(i).to_string(),
                        item_type: item_type.to_string(),
                        source_id: sources.value(i).to_string(),
                        group_id: groups.value(i).to_string(),
                        vector: floats.values().to_vec(),
                    });
                }
            }
        }
        tracing::info!(item_type, rows = rows.len(), "vectors held in memory");
        let mut resident = self.resident_write();
        resident.types.insert(item_type.to_string(), max_rows);
        drop(resident);
        self.remember(&rows);
        Ok(())
    }

    fn remember(&self, entries: &[VectorEntry]) {
        let mut resident = self.resident_write();
        let mut touched: Vec<String> = Vec::new();
        for e in entries {
            if !resident.types.contains_key(&e.item_type) {
                continue;
            }
            let dim = self.dimension;
            resident
                .blocks
                .entry((e.workspace_id.clone(), e.item_type.clone()))
                .or_insert_with(|| FlatIndex::new(dim))
                .insert(&e.id, &e.source_id, &e.group_id, &e.vector);
            if !touched.contains(&e.item_type) {
                touched.push(e.item_type.clone());
            }
        }
        for item_type in touched {
            let rows: usize = resident
                .blocks
                .iter()
                .filter(|((_, t), _)| *t == item_type)
                .map(|(_, b)| b.len())
                .sum();
            let max = resident.types.get(&item_type).copied().unwrap_or(0);
            if rows > max {
                tracing::info!(
                    item_type,
                    rows,
                    max,
                    "too many vectors to hold in memory; searching them in LanceDB from now on"
                );
                resident.types.remove(&item_type);
                resident.blocks.retain(|(_, t), _| *t != item_type);
            }
        }
    }

    /// Appends entries in one Lance commit.
    pub async fn add(&self, entries: &[VectorEntry]) -> anyhow::Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        self.add_to_table(entries).await?;
        self.remember(entries);
        Ok(())
    }

    async fn add_to_table(&self, entries: &[VectorEntry]) -> anyhow::Result<()> {
        let batch = self.batch(entries)?;
        self.dirty.store(true, Ordering::SeqCst);
        // Appends share the read lock (a Lance table takes concurrent writers); only creating
        // the table needs it exclusively.
        if let Some(table) = self.table.read().await.as_ref() {
            table.add(batch).execute().await.context("adding vectors")?;
            return Ok(());
        }
        let mut guard = self.table.write().await;
        match guard.as_ref() {
            Some(table) => {
                table.add(batch).execute().await.context("adding vectors")?;
            }
            None => {
                let table = self
                    .db
                    .create_table(TABLE, batch)
                    .execute()
                    .await
                    .context("creating vector table")?;
                *guard = Some(table);
            }
        }
        Ok(())
    }

    pub async fn delete_groups(&self, groups: &[String]) -> anyhow::Result<()> {
        self.delete_where("group_id", groups).await
    }

    pub async fn delete_ids(&self, ids: &[String]) -> anyhow::Result<()> {
        self.delete_where("id", ids).await
    }

    async fn delete_where(&self, column: &str, values: &[String]) -> anyhow::Result<()> {
        if values.is_empty() {
            return Ok(());
        }
        self.dirty.store(true, Ordering::SeqCst);
        if let Some(table) = self.table.read().await.as_ref() {
            for part in values.chunks(500) {
                table
                    .delete(in_list(column, part).as_str())
                    .await
                    .context("deleting vectors")?;
            }
        }
        let mut resident = self.resident_write();
        for block in resident.blocks.values_mut() {
            if column == "id" {
                block.remove_ids(values);
            } else {
                block.remove_groups(values);
            }
        }
        Ok(())
    }

    /// Nearest neighbours by cosine similarity within one workspace and item type: an exact
    /// scan where the type is resident in memory, LanceDB otherwise.
    pub async fn search(
        &self,
        workspace_id: &str,
        item_type: &str,
        source_ids: Option<&[String]>,
        vector: &[f32],
        limit: usize,
    ) -> anyhow::Result<Vec<VectorHit>> {
        let scan = |block: &FlatIndex| block.search(vector, source_ids, limit);
        if let Some(hits) = self.search_resident(workspace_id, item_type, scan) {
            return Ok(hits);
        }
        let guard = self.table.read().await;
        let Some(table) = guard.as_ref() else {
            return Ok(vec![]);
        };
        if limit == 0 || source_ids.is_some_and(<[String]>::is_empty) {
            return Ok(vec![]);
        }
        let mut filter = format!(
            "workspace_id = {} AND item_type = {}",
            quote(workspace_id),
            quote(item_type)
        );
        if let Some(ids) = source_ids {
            filter.push_str(" AND ");
            filter.push_str(&in_list("source_id", ids));
        }
        nearest_in(table, vector, filter, limit).await
    }

    /// The cosine similarity of `vector` to each of the entries `ids` of one workspace and
    /// item type (those that exist): read from memory where the type is resident, else one
    /// LanceDB query restricted to them.
    pub async fn similarities(
        &self,
        workspace_id: &str,
        item_type: &str,
        vector: &[f32],
        ids: &[String],
    ) -> anyhow::Result<Vec<VectorHit>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let scan = |block: &FlatIndex| block.similarities(vector, ids);
        if let Some(hits) = self.search_resident(workspace_id, item_type, scan) {
            return Ok(hits);
        }
        let guard = self.table.read().await;
        let Some(table) = guard.as_ref() else {
            return Ok(vec![]);
        };
        let filter = format!(
            "workspace_id = {} AND item_type = {} AND {}",
            quote(workspace_id),
            quote(item_type),
            in_list("id", ids)
        );
        nearest_in(table, vector, filter, ids.len()).await
    }

    /// The exact scan, or `None` when the item type is not held in memory.
    fn search_resident(
        &self,
        workspace_id: &str,
        item_type: &str,
        scan: impl FnOnce(&FlatIndex) -> Vec<cairn_flat::Hit>,
    ) -> Option<Vec<VectorHit>> {
        let resident = self.resident_read();
        if !resident.types.contains_key(item_type) {
            return None;
        }
        let key = (workspace_id.to_string(), item_type.to_string());
        let hits = resident.blocks.get(&key).map(scan).unwrap_or_default();
        Some(
            hits.into_iter()
                .map(|h| VectorHit {
                    id: h.id,
                    similarity: h.similarity,
                })
                .collect(),
        )
    }

    pub async fn count(&self) -> anyhow::Result<usize> {
        match self.table.read().await.as_ref() {
            Some(t) => Ok(t.count_rows(None).await?),
            None => Ok(0),
        }
    }

    /// Builds the ANN index once the table is large enough, and folds new rows into an
    /// existing one. Search stays exact for rows not yet indexed.
    pub async fn maintain(&self) -> anyhow::Result<()> {
        if !self.dirty.swap(false, Ordering::SeqCst) {
            return Ok(());
        }
        let guard = self.table.read().await;
        let Some(table) = guard.as_ref() else {
            return Ok(());
        };
        let rows = table.count_rows(None).await?;
        let indexed = table
            .list_indices()
            .await?
            .iter()
            .any(|i| i.columns.iter().any(|c| c == "vector"));
        if !indexed && rows >= self.index_threshold {
            tracing::info!(rows, "building the ANN vector index");
            // Cosine, as queries use: an index built for another metric would be skipped.
            let partitions = u32::try_from(rows / 200_000 + 1).unwrap_or(1);
            let hnsw = IvfHnswSqIndexBuilder::default()
                .distance_type(DistanceType::Cosine)
                .num_partitions(partitions);
            table
                .create_index(&["vector"], Index::IvfHnswSq(hnsw))
                .execute()
                .await?;
            table
                .create_index(
                    &["workspace_id"],
                    Index::BTree(BTreeIndexBuilder::default()),
                )
                .execute()
                .await?;
            table
                .create_index(&["item_type"], Index::Bitmap(BitmapIndexBuilder::default()))
                .execute()
                .await?;
        } else {
            // Compacts the small fragments each ingest leaves and folds new rows into the index.
            table.optimize(lancedb::table::OptimizeAction::All).await?;
        }
        Ok(())
    }

    /// Checks the table can be read, for `/healthz`.
    pub async fn ping(&self) -> anyhow::Result<()> {
        self.count().await.map(|_| ())
    }
}
