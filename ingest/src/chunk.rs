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
        })
    }

    /// The longest prefix of `text` within `max_tokens` tokens.
    pub fn truncate<'a>(&self, text: &'a str, max_tokens: usize) -> &'a str {
        let Ok(encoding) = self.tokenizer.encode(text, false) else {
            return text;
        };
        let offsets = encoding.get_offsets();
        if offsets.len() <= max_tokens {
            return text;
        }
        let end = match max_tokens.checked_sub(1).and_then(|i| offsets.get(i)) {
            Some(&(_, end)) => end,
            None => 0,
        };
        let mut end = end.min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        &text[..end]
    }

    pub fn count_tokens(&self, text: &str) -> usize {
        self.tokenizer
            .encode_fast(text, false)
            .map(|e| e.get_ids().len())
            .unwrap_or_else(|_| text.split_whitespace().count())
    }

    /// Splits a document into chunks. PDF pages are chunked one by one, so every chunk cites
    /// exactly one page.
    pub fn chunk(&self, doc: &Extracted) -> Vec<Chunk> {
        let mut out = Vec::new();
        if doc.pages.is_empty() {
            self.chunk_span(doc.kind, &doc.text, 0, None, &mut out);
            return out;
        }
        let byte_at: Vec<usize> = doc
            .text
            .char_indices()
            .map(|(b, _)| b)
            .chain([doc.text.len()])
            .collect();
        for span in &doc.pages {
            let (Some(&start), Some(&end)) = (byte_at.get(span.start), byte_at.get(span.end))
            else {
                continue;
            };
            self.chunk_span(
                doc.kind,
                &doc.text[start..end],
                span.start,
                Some(span.page),
                &mut out,
            );
        }
        out
    }

    fn chunk_span(
        &self,
        kind: ContentKind,
        text: &str,
        char_base: usize,
        page: Option<u32>,
        out: &mut Vec<Chunk>,
    ) {
        let pieces: Vec<_> = match kind {
            ContentKind::Markdown => self.markdown.chunk_char_indices(text).collect(),
            _ => self.text.chunk_char_indices(text).collect(),
        };
        for piece in pieces {
            let len = piece.chunk.chars().count();
            out.push(Chunk {
                index: u32::try_from(out.len()).unwrap_or(u32::MAX),
                text: piece.chunk.to_string(),
                char_start: char_base + piece.char_offset,
                char_end: char_base + piece.char_offset + len,
                page,
                tokens: self.count_tokens(piece.chunk),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use proptest::prelude::*;

    use super::*;
    use crate::extract::PageSpan;

    /// The tokenizer fetched by scripts/fetch_model.py (`make setup`).
    fn tokenizer_path() -> PathBuf {
        let home = std::env::var("CAIRN_MODEL_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|_| {
                PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/cairn/models")
            });
        home.join("all-MiniLM-L6-v2/tokenizer.json")
    }

    fn chunker(max: usize, overlap: usize) -> Chunker {
        Chunker::from_tokenizer_file(&tokenizer_path(), max, overlap)
            .expect("tokenizer (run make setup)")
    }

    fn doc(kind: ContentKind, text: &str) -> Extracted {
        Extracted {
            kind,
            title: None,
            text: text.to_string(),
            pages: vec![],
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn chunks_fit_the_window_and_point_at_their_text(words in prop::collection::vec("[a-zA-Z]{1,12}|[0-9]{1,4}|[.,;!?]|\n\n|é|日本", 0..600)) {
            let chunker = chunker(40, 8);
            let text = words.join(" ");
            let chars: Vec<char> = text.chars().collect();
            for kind in [ContentKind::Text, ContentKind::Markdown] {
                let chunks = chunker.chunk(&doc(kind, &text));
                for (i, c) in chunks.iter().enumerate() {
                    prop_assert_eq!(c.index as usize, i);
                    prop_assert!(c.tokens <= 40, "chunk of {} tokens", c.tokens);
                    let cited: String = chars[c.char_start..c.char_end].iter().collect();
                    prop_assert_eq!(&cited, &c.text);
                }
                if !text.trim().is_empty() {
                    prop_assert!(!chunks.is_empty());
                }
            }
        }
    }

    #[test]
    fn truncation_keeps_whole_tokens_within_the_limit() {
        let chunker = chunker(50, 10);
        let text = "The quick brown fox jumps over the lazy dog near the riverbank";
        let cut = chunker.truncate(text, 5);
        assert_eq!(cut, "The quick brown fox jumps");
        assert!(chunker.count_tokens(cut) <= 5);
        assert_eq!(chunker.truncate("short", 5), "short");
    }

    #[test]
    fn long_text_splits_into_overlapping_chunks() {
        let chunker = chunker(50, 10);
        let text = (0..400)
            .map(|i| format!("word{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let chunks = chunker.chunk(&doc(ContentKind::Text, &text));
        assert!(chunks.len() > 5);
        assert!(
            chunks.windows(2).all(|w| w[1].char_start < w[0].char_end),
            "consecutive chunks overlap"
        );
    }

    #[test]
    fn pdf_pages_are_chunked_separately_and_cited() {
        let chunker = chunker(50, 10);
        let text = "page one text\n\npage two text".to_string();
        let d = Extracted {
            kind: ContentKind::Pdf,
            title: None,
            text,
            pages: vec![
                PageSpan {
                    page: 1,
                    start: 0,
                    end: 13,
                },
                PageSpan {
                    page: 2,
                    start: 15,
                    end: 28,
                },
            ],
        };
        let chunks = chunker.chunk(&d);
        assert_eq!(chunks.len(), 2);
        assert_eq!(
            (chunks[0].page, chunks[0].text.as_str()),
            (Some(1), "page one text")
        );
        assert_eq!((chunks[1].page, chunks[1].char_start), (Some(2), 15));
    }
}
