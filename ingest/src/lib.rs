//! Cairn's ingest pipeline: extract text from files and records, chunk it by the embedding
//! model's own tokens, and embed it. Used by the server, the CLI, the evaluations and benches.

pub mod chunk;
pub mod embed;
pub mod extract;
mod html;
pub mod records;

pub use chunk::{Chunk, Chunker};
pub use embed::{EmbedError, Embedder};
pub use extract::{extract, ContentKind, ExtractError, Extracted};

/// SHA-256 of `bytes` as lowercase hex: the content hash used for dedup.
pub fn content_hash(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}
