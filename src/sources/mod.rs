//! Sources: ingest (files, URLs, text, records) into SQL, LanceDB and tantivy as one unit,
//! background jobs, deletion, reindexing and search with citations.

pub mod fetch;
pub mod intake;
pub mod isolate;
pub mod model;
mod pipeline;
mod search;
mod service;
pub mod worker;
pub mod workflows;

pub use pipeline::Pending;
pub use service::{Ingested, Sources, SourcesSettings, CHUNK_ITEM};
