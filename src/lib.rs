//! Cairn: a self-hosted knowledge base, agent memory and model gateway.

pub mod accounts;
pub mod app;
pub mod cli;
pub mod cli_ingest;
pub mod config;
pub mod context;
pub mod embed;
pub mod error;
pub mod events;
pub mod gateway;
pub mod guard;
pub mod harness;
pub mod http;
pub mod memory;
pub mod outbound;
pub mod retrieval;
pub mod sources;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod validate;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
