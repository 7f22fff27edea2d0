//! Chunking with `text-splitter`, sized in tokens of the embedding model's own tokenizer so no
//! chunk is ever cut off by the model's window. Markdown is split along its structure.

use std::path::Path;

use text_splitter::{ChunkConfig, ChunkConfigError, MarkdownSplitter, TextSplitter};
use tokenizers::Tokenizer;

use crate::extract::{ContentKind, Extracted};

#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// Position of the chunk within its document, from 0.
    pub index: u32,
    pub text: String,
    /// Character offsets of the chunk within the document's extracted text.
    pub char_start: usize,
    pub char_end: usize,
    /// 1-based page for PDFs.
    pub page: Option<u32>,
    pub tokens: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ChunkerError {
    #[error("cannot load tokenizer {path}: {message}")]
    Tokenizer { path: String, message: String },
    #[error("invalid chunk settings: {0}")]
    Config(#[from] ChunkConfigError),
}

pub struct Chunker {
    text: TextSplitter<Tokenizer>,
    markdown: MarkdownSplitter<Tokenizer>,
    tokenizer: Tokenizer,
    max_tokens: usize,
}

impl Chunker {
    /// `max_tokens` must leave room for the model's special tokens ([CLS], [SEP]).
    pub fn from_tokenizer_file(
        path: &Path,
        max_tokens: usize,
        overlap: usize,
    ) -> Result<Self, ChunkerError> {
        let tokenizer = Tokenizer::from_file(path).map_err(|e| ChunkerError::Tokenizer {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::new(tokenizer, max_tokens, overlap)
    }

    pub fn new(
        mut tokenizer: Tokenizer,
        max_tokens: usize,
        overlap: usize,
    ) -> Result<Self, ChunkerError> {
        // The shipped tokenizer.json pads and truncates to 128; sizing needs the true count.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(None)
            .map_err(|e| ChunkerError::Tokenizer {
                path: "<memory>".into(),
                message: e.to_string(),
            })?;
        let config = || {
            ChunkConfig::new(max_tokens)
                .with_overlap(overlap)
                .map(|c| c.with_sizer(tokenizer.clone()))
        };
        Ok(Self {
            text: TextSplitter::new(config()?),
            markdown: MarkdownSplitter::new(config()?),
            tokenizer,
            max_tokens,
        })
    }

    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    pub fn count_tokens(&self, text: &str) -> usize {
        self.tokenizer
            .encode_fast(text, false)
            .map(|e| e.get_ids().len())
            .unwrap_or_else(|_| text.split_whitespace().count())
    }

    pub fn chunk(&self, doc: &Extracted) -> Vec<Chunk> {
        let pieces: Vec<_> = match doc.kind {
            ContentKind::Markdown => self.markdown.chunk_char_indices(&doc.text).collect(),
            _ => self.text.chunk_char_indices(&doc.text).collect(),
        };
        pieces
            .into_iter()
            .enumerate()
            .map(|(i, piece)| {
                let len = piece.chunk.chars().count();
                Chunk {
                    index: u32::try_from(i).unwrap_or(u32::MAX),
                    text: piece.chunk.to_string(),
                    char_start: piece.char_offset,
                    char_end: piece.char_offset + len,
                    page: doc.page_at(piece.char_offset),
                    tokens: self.count_tokens(piece.chunk),
                }
            })
            .collect()
    }
}
