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

fn walk(el: ElementRef<'_>, out: &mut String) {
    for child in el.children() {
        match child.value() {
            Node::Text(t) => out.push_str(t),
            Node::Element(e) => {
                let name = e.name();
                if SKIP.contains(&name) {
                    continue;
                }
                let block = BLOCK.contains(&name);
                if block {
                    out.push('\n');
                }
                if let Some(child_el) = ElementRef::wrap(child) {
                    walk(child_el, out);
                }
                if block {
                    out.push('\n');
                }
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
