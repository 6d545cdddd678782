//! An article page's main text, for `[[feed]] full_text`: the page (already decoded to text)
//! → the article's sanitised HTML and its plain text, or why there is none. Pure; the only
//! caller of dom_smoothie (a port of Mozilla's readability.js; the comparison with the other
//! readability crates is in BENCHMARKS.md).

use url::Url;

use crate::normalise::{collapse_whitespace, html_to_text, sanitise_html};
use crate::parse::{limit_nesting, truncate_on_char_boundary};

/// Fewer characters of text than this is no article (a paywall stub, a cookie wall, an index
/// page): the feed's own text is kept.
pub const MIN_ARTICLE_CHARS: usize = 200;
/// The largest page read (before the readability pass; `[poll] max_body_bytes` applies too).
pub const MAX_PAGE_BYTES: u64 = 5 << 20;
/// Elements beyond this make the page too complex to read (the pass is linear, but a page of
/// millions of elements is not an article).
const MAX_ELEMENTS: usize = 100_000;
/// Deeper nesting is flattened before parsing (html5ever's tree walks recurse).
const MAX_PAGE_DEPTH: usize = 128;
/// Nesting kept in the article's HTML, as for feed summaries.
const MAX_HTML_DEPTH: usize = 64;
/// The article's HTML and text are stored up to these sizes (cut on a character boundary).
const MAX_HTML_BYTES: usize = 256 << 10;
const MAX_TEXT_BYTES: usize = 64 << 10;

/// An article: HTML safe to republish (relative URLs made absolute) and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Article {
    pub html: String,
    pub text: String,
}

/// Why a page gave no article.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoArticle {
    #[error("no article found in the page ({0})")]
    NotFound(String),
    #[error("the page's article has only {0} characters of text")]
    TooShort(usize),
}

/// The main text of `page` (an HTML document as text), found at `url`.
pub fn extract(page: &str, url: &Url) -> Result<Article, NoArticle> {
    let page = limit_nesting(page, MAX_PAGE_DEPTH);
    let config = dom_smoothie::Config {
        max_elements_to_parse: MAX_ELEMENTS,
        ..Default::default()
    };
    let mut reader =
        dom_smoothie::Readability::new(page.as_ref(), Some(url.as_str()), Some(config))
            .map_err(|e| NoArticle::NotFound(e.to_string()))?;
    let found = reader
        .parse()
        .map_err(|e| NoArticle::NotFound(e.to_string()))?;
    let content = truncate_on_char_boundary(&found.content, MAX_HTML_BYTES);
    let html = sanitise_html(&limit_nesting(content, MAX_HTML_DEPTH), Some(url));
    let text = collapse_whitespace(&html_to_text(&html));
    let text = truncate_on_char_boundary(&text, MAX_TEXT_BYTES).to_owned();
    let chars = text.chars().count();
    if chars < MIN_ARTICLE_CHARS {
        return Err(NoArticle::TooShort(chars));
    }
    Ok(Article { html, text })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/tests/fixtures/articles/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(path).expect("fixture")
    }

    fn url() -> Url {
        Url::parse("https://news.example/a/1").expect("url")
    }

    #[test]
    fn the_story_is_kept_and_the_page_around_it_is_not() {
        for page in ["standard", "div-soup", "long-comments", "table-layout"] {
            let article = extract(&fixture(&format!("{page}.html")), &url()).expect(page);
            for line in fixture(&format!("{page}.expected.txt")).lines() {
                // Each expected paragraph's first words are in the text.
                let head: String = line
                    .split_whitespace()
                    .take(8)
                    .collect::<Vec<_>>()
                    .join(" ");
                assert!(
                    article.text.contains(&head),
                    "{page}: missing {head:?} in {}",
                    article.text
                );
            }
            for chrome in [
                "Most read",
                "Subscribe",
                "All rights reserved",
                "Reply",
                "Accept",
            ] {
                assert!(!article.text.contains(chrome), "{page}: kept {chrome:?}");
            }
            assert!(!article.html.contains("<script"), "{page}");
        }
    }

    #[test]
    fn a_paywall_stub_or_an_empty_page_is_no_article() {
        assert!(matches!(
            extract(&fixture("paywall.html"), &url()),
            Err(NoArticle::TooShort(_))
        ));
        assert!(extract("", &url()).is_err());
        assert!(
            extract(
                "<html><body><nav><a href=/>Home</a></nav></body></html>",
                &url()
            )
            .is_err()
        );
    }

    #[test]
    fn relative_links_are_made_absolute_and_scripts_dropped() {
        let body: String = (0..6)
            .map(|i| format!("<p>Paragraph {i} of a story long enough to be an article, with a <a href=\"/more/{i}\">link</a> and more words to read here.</p>"))
            .collect();
        let page =
            format!("<html><body><article>{body}<script>alert(1)</script></article></body></html>");
        let a = extract(&page, &url()).expect("article");
        assert!(
            a.html.contains("href=\"https://news.example/more/1\""),
            "{}",
            a.html
        );
        assert!(!a.html.contains("alert"));
    }

    #[test]
    fn deep_nesting_is_flattened_not_recursed() {
        let depth = 100_000;
        let body = format!(
            "{}{}{}",
            "<div>".repeat(depth),
            "<p>Deep text of a page that nests without end, long enough to count as an article if it were found at all. </p>".repeat(4),
            "</div>".repeat(depth)
        );
        // Read (the nesting past the bound flattened) instead of overflowing the stack.
        let a = extract(&format!("<html><body>{body}</body></html>"), &url()).expect("article");
        assert!(a.text.contains("Deep text of a page"), "{}", a.text);
    }
}
