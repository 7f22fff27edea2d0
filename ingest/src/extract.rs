//! Text extraction: plain text, Markdown, HTML and PDF. Unknown formats and undecodable
//! content are errors, never empty documents.

use crate::html;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentKind {
    Text,
    Markdown,
    Html,
    Pdf,
}

impl ContentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Markdown => "markdown",
            Self::Html => "html",
            Self::Pdf => "pdf",
        }
    }

    /// Decides the format from the file name's extension, then the declared media type, then
    /// the bytes themselves.
    pub fn detect(
        filename: Option<&str>,
        media_type: Option<&str>,
        bytes: &[u8],
    ) -> Result<Self, ExtractError> {
        let ext = filename
            .and_then(|n| n.rsplit_once('.'))
            .map(|(_, e)| e.to_ascii_lowercase());
        if let Some(ext) = ext.as_deref() {
            match ext {
                "txt" | "text" | "log" | "csv" | "tsv" | "rst" => return Ok(Self::Text),
                "md" | "markdown" | "mdx" => return Ok(Self::Markdown),
                "html" | "htm" | "xhtml" => return Ok(Self::Html),
                "pdf" => return Ok(Self::Pdf),
                _ => {}
            }
        }
        let media = media_type
            .map(|m| {
                m.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        match media.as_str() {
            "text/plain" => return Ok(Self::Text),
            "text/markdown" | "text/x-markdown" => return Ok(Self::Markdown),
            "text/html" | "application/xhtml+xml" => return Ok(Self::Html),
            "application/pdf" => return Ok(Self::Pdf),
            _ => {}
        }
        if bytes.starts_with(b"%PDF-") {
            return Ok(Self::Pdf);
        }
        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_ascii_lowercase();
        let head = head.trim_start();
        if head.starts_with("<!doctype html") || head.starts_with("<html") {
            return Ok(Self::Html);
        }
        let generic = matches!(media.as_str(), "" | "application/octet-stream");
        if generic && ext.is_none() && std::str::from_utf8(bytes).is_ok() && !bytes.contains(&0) {
            return Ok(Self::Text);
        }
        let what = match (ext, media.as_str()) {
            (Some(e), _) => format!("files with extension .{e}"),
            (None, m) if !m.is_empty() => format!("media type {m}"),
            _ => "this content".to_string(),
        };
        Err(ExtractError::Unsupported(format!(
            "{what} cannot be ingested; supported: .txt, .md, .html, .pdf (or JSON records)"
        )))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// A format Cairn does not read (HTTP 415).
    #[error("{0}")]
    Unsupported(String),
    /// A supported format whose content could not be read (HTTP 422).
    #[error("{0}")]
    Undecodable(String),
}

/// One page's character range within [`Extracted::text`] (PDF only).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PageSpan {
    pub page: u32,
    pub start: usize,
    pub end: usize,
}

/// Serializable: the server runs some parsers in a child process that answers in JSON.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Extracted {
    pub kind: ContentKind,
    pub title: Option<String>,
    pub text: String,
    pub pages: Vec<PageSpan>,
}

impl Extracted {
    /// The 1-based page holding character `offset`, for PDFs.
    pub fn page_at(&self, offset: usize) -> Option<u32> {
        self.pages
            .iter()
            .find(|p| offset >= p.start && offset < p.end.max(p.start + 1))
            .map(|p| p.page)
    }
}

pub fn extract(kind: ContentKind, bytes: &[u8]) -> Result<Extracted, ExtractError> {
    let extracted = match kind {
        ContentKind::Text => Extracted {
            kind,
            title: None,
            text: decode_utf8(bytes)?,
            pages: vec![],
        },
        ContentKind::Markdown => {
            let text = decode_utf8(bytes)?;
            let title = markdown_title(&text);
            Extracted {
                kind,
                title,
                text,
                pages: vec![],
            }
        }
        ContentKind::Html => {
            let source = decode_utf8(bytes)?;
            if html::nesting_depth(&source) > html::MAX_DEPTH {
                return Err(ExtractError::Undecodable(format!(
                    "the HTML nests elements more than {} deep",
                    html::MAX_DEPTH
                )));
            }
            let page = html::extract(&source);
            Extracted {
                kind,
                title: page.title,
                text: page.text,
                pages: vec![],
            }
        }
        ContentKind::Pdf => extract_pdf(bytes)?,
    };
    if extracted.text.trim().is_empty() {
        return Err(ExtractError::Undecodable(format!(
            "no text could be extracted from this {} content",
            kind.as_str()
        )));
    }
    Ok(extracted)
}

fn decode_utf8(bytes: &[u8]) -> Result<String, ExtractError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes)
        .map_err(|e| ExtractError::Undecodable(format!("content is not valid UTF-8 text ({e})")))?;
    if text.contains('\0') {
        return Err(ExtractError::Undecodable(
            "content is binary, not text".into(),
        ));
    }
    Ok(text.replace("\r\n", "\n"))
}

fn markdown_title(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .find(|l| l.starts_with("# "))
        .map(|l| l.trim_start_matches('#').trim().to_string())
        .filter(|t| !t.is_empty())
}

fn extract_pdf(bytes: &[u8]) -> Result<Extracted, ExtractError> {
    // pdf-extract can panic on malformed files; a bad upload must be a 422, not a crash.
    let pages = std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem_by_pages(bytes))
        .map_err(|_| ExtractError::Undecodable("the PDF could not be parsed".into()))?
        .map_err(|e| ExtractError::Undecodable(format!("the PDF could not be read: {e}")))?;
    let mut text = String::new();
    let mut spans = Vec::with_capacity(pages.len());
    let mut chars = 0usize;
    for (i, page) in pages.iter().enumerate() {
        if i > 0 {
            text.push_str("\n\n");
            chars += 2;
        }
        let page_text = page.trim_end();
        let len = page_text.chars().count();
        text.push_str(page_text);
        spans.push(PageSpan {
            page: u32::try_from(i + 1).unwrap_or(u32::MAX),
            start: chars,
            end: chars + len,
        });
        chars += len;
    }
    Ok(Extracted {
        kind: ContentKind::Pdf,
        title: None,
        text,
        pages: spans,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_extension_media_type_and_magic() {
        assert_eq!(
            ContentKind::detect(Some("a.MD"), None, b"x").unwrap(),
            ContentKind::Markdown
        );
        assert_eq!(
            ContentKind::detect(None, Some("text/html; charset=utf-8"), b"x").unwrap(),
            ContentKind::Html
        );
        assert_eq!(
            ContentKind::detect(None, None, b"%PDF-1.4 ...").unwrap(),
            ContentKind::Pdf
        );
        assert_eq!(
            ContentKind::detect(None, None, b"<!DOCTYPE html><p>x").unwrap(),
            ContentKind::Html
        );
        assert_eq!(
            ContentKind::detect(None, None, b"plain words").unwrap(),
            ContentKind::Text
        );
        assert!(matches!(
            ContentKind::detect(Some("a.docx"), None, b"PK"),
            Err(ExtractError::Unsupported(_))
        ));
        assert!(matches!(
            ContentKind::detect(None, Some("image/png"), b"\x89PNG"),
            Err(ExtractError::Unsupported(_))
        ));
    }

    #[test]
    fn invalid_utf8_and_empty_text_are_undecodable() {
        assert!(matches!(
            extract(ContentKind::Text, b"\xff\xfe\x00bad"),
            Err(ExtractError::Undecodable(_))
        ));
        assert!(matches!(
            extract(ContentKind::Text, b"   \n "),
            Err(ExtractError::Undecodable(_))
        ));
        assert!(matches!(
            extract(ContentKind::Pdf, b"%PDF-1.4 garbage"),
            Err(ExtractError::Undecodable(_))
        ));
    }

    #[test]
    fn hostile_nesting_is_refused_before_parsing() {
        let deep = format!("<html><body>{}x</body></html>", "<div>".repeat(100_000));
        let started = std::time::Instant::now();
        assert!(
            matches!(extract(ContentKind::Html, deep.as_bytes()), Err(ExtractError::Undecodable(m)) if m.contains("deep"))
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn markdown_title_is_the_first_heading() {
        let e = extract(ContentKind::Markdown, b"intro\n# The Title\n\nbody").unwrap();
        assert_eq!(e.title.as_deref(), Some("The Title"));
    }
}
