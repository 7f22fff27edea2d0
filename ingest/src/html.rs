//! HTML to text with `scraper`: the page's main content without scripts, styles, navigation
//! and other page furniture; block elements become line breaks.

use scraper::{ElementRef, Html, Node, Selector};

pub struct Page {
    pub title: Option<String>,
    pub text: String,
}

const SKIP: &[&str] = &[
    "script", "style", "noscript", "nav", "header", "footer", "aside", "form", "svg", "template",
    "iframe", "button", "select", "head",
];
const BLOCK: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "br",
    "tr",
    "table",
    "blockquote",
    "pre",
    "dd",
    "dt",
    "figcaption",
    "hr",
];

/// Deepest element nesting accepted. Real pages stay far below it; the HTML tree builder's
/// work grows with the square of the depth, so hostile pages are refused before parsing.
pub const MAX_DEPTH: usize = 2_000;

/// Elements that close themselves or are closed implicitly, so sloppy but ordinary HTML does
/// not count as deep.
const NO_DEPTH: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr", "p", "li", "td", "th", "tr", "option", "dt", "dd",
];

/// An upper estimate of the element nesting depth, from the tags alone.
pub fn nesting_depth(source: &str) -> usize {
    let bytes = source.as_bytes();
    let (mut depth, mut max) = (0usize, 0usize);
    let mut i = 0;
    while let Some(off) = bytes[i..].iter().position(|b| *b == b'<') {
        i += off + 1;
        let closing = bytes.get(i) == Some(&b'/');
        let start = if closing { i + 1 } else { i };
        let end = bytes[start..]
            .iter()
            .position(|b| !b.is_ascii_alphanumeric())
            .map_or(bytes.len(), |n| start + n);
        if end == start {
            continue;
        }
        let name = source[start..end].to_ascii_lowercase();
        if NO_DEPTH.contains(&name.as_str()) {
            continue;
        }
        let self_closing = bytes[end..]
            .iter()
            .position(|b| *b == b'>')
            .is_some_and(|n| n > 0 && bytes[end + n - 1] == b'/');
        if closing {
            depth = depth.saturating_sub(1);
        } else if !self_closing {
            depth += 1;
            max = max.max(depth);
        }
    }
    max
}

pub fn extract(source: &str) -> Page {
    let doc = Html::parse_document(source);
    let title = select_text(&doc, "title").or_else(|| select_text(&doc, "h1"));
    let root = ["main", "article", "[role=main]", "body"]
        .iter()
        .filter_map(|s| Selector::parse(s).ok())
        .find_map(|s| doc.select(&s).next());
    let mut text = String::new();
    match root {
        Some(el) => walk(el, &mut text),
        None => walk(doc.root_element(), &mut text),
    }
    Page {
        title,
        text: tidy(&text),
    }
}

fn select_text(doc: &Html, selector: &str) -> Option<String> {
    let sel = Selector::parse(selector).ok()?;
    let el = doc.select(&sel).next()?;
    let text = el.text().collect::<Vec<_>>().join(" ");
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then_some(text)
}

/// Depth-first text collection with an explicit stack: hostile pages nest elements deeply
/// enough to overflow the thread's stack if this recursed.
fn walk(root: ElementRef<'_>, out: &mut String) {
    enum Step<'a> {
        Visit(ego_tree::NodeRef<'a, Node>),
        Newline,
    }
    let mut stack: Vec<Step<'_>> = root.children().rev().map(Step::Visit).collect();
    while let Some(step) = stack.pop() {
        let node = match step {
            Step::Newline => {
                out.push('\n');
                continue;
            }
            Step::Visit(node) => node,
        };
        match node.value() {
            Node::Text(t) => out.push_str(t),
            Node::Element(e) => {
                let name = e.name();
                if SKIP.contains(&name) {
                    continue;
                }
                let block = BLOCK.contains(&name);
                if block {
                    out.push('\n');
                    stack.push(Step::Newline);
                }
                stack.extend(node.children().rev().map(Step::Visit));
            }
            _ => {}
        }
    }
}

/// Collapses runs of spaces inside lines and of blank lines between paragraphs.
fn tidy(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut blank = 0;
    for line in raw.lines() {
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        out.push_str(&line);
        blank = 0;
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn nested_pages_are_walked_without_recursion() {
        let html = format!(
            "<html><body>{}deep text{}</body></html>",
            "<div>".repeat(1_500),
            "</div>".repeat(1_500)
        );
        assert!(super::nesting_depth(&html) <= super::MAX_DEPTH);
        assert_eq!(super::extract(&html).text, "deep text");
    }

    #[test]
    fn nesting_depth_ignores_void_and_implicitly_closed_tags() {
        assert_eq!(
            super::nesting_depth("<p>a<p>b<br><img src=x><li>c<div><span>d</span></div>"),
            2
        );
        assert_eq!(super::nesting_depth(&"<div>".repeat(50_000)), 50_000);
        assert_eq!(super::nesting_depth("<x/><y/>"), 0);
    }

    #[test]
    fn keeps_main_text_and_drops_page_furniture() {
        let page = super::extract(
            "<html><head><title>T</title><style>x{}</style></head><body><nav>menu</nav>\
             <main><h1>Head</h1><p>First   para.</p><script>alert(1)</script><p>Second</p></main>\
             <footer>foot</footer></body></html>",
        );
        assert_eq!(page.title.as_deref(), Some("T"));
        assert_eq!(page.text, "Head\n\nFirst para.\n\nSecond");
    }
}
