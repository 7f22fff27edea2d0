//! Storage traits and their implementations. Areas depend on the traits; `app.rs` picks the
//! implementation (SQLite today; the traits keep a Postgres implementation possible).

pub mod accounts;
pub mod error;
pub mod gateway;
pub mod guard;
pub mod harness;
pub mod memory;
pub mod private;
pub mod sources;
pub mod sqlite;
pub mod text_index;
mod text_stats;
pub mod time;
pub mod vectors;

pub use accounts::*;
pub use error::{StoreError, StoreResult};
