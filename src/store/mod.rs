//! Storage traits and their implementations. Areas depend on the traits; `app.rs` picks the
//! implementation (SQLite today; the traits keep a Postgres implementation possible).

pub mod accounts;
pub mod error;
pub mod gateway;
pub mod guard;
pub mod harness;
pub mod memory;
pub mod private;
pub mod provider_keys;
pub mod sources;
pub mod sqlite;
pub mod text_index;
mod text_stats;
pub mod time;
pub mod vectors;

pub use accounts::*;
pub use error::{StoreError, StoreResult};

/// A list filter paged by a (timestamp, id) keyset: rows before its `before`, at most `limit`.
pub trait Keyset {
    fn limit(&self) -> i64;
    fn with_limit(self, limit: i64) -> Self;
}

macro_rules! keyset {
    ($($filter:ty),+) => {
        $(impl Keyset for $filter {
            fn limit(&self) -> i64 {
                self.limit
            }

            fn with_limit(self, limit: i64) -> Self {
                Self { limit, ..self }
            }
        })+
    };
}

keyset!(
    guard::AuditFilter,
    harness::TraceFilter,
    memory::NoteFilter,
    memory::EventFilter,
    sources::SourceFilter
);
