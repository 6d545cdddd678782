//! Feed bytes → [`Entry`] values. The only module that talks to feed-rs.
//!
//! feed-rs invents a random id for an entry with no guid and no link; we register an id
//! generator that returns the empty string instead and derive our own stable key: the guid/id,
//! else the link, else a hash of title and date.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use url::Url;

use crate::normalise::{canonical_url, clamp_date, html_to_text, sanitise_html};

/// How much plain text of an entry is kept for matching.
const MAX_TEXT_CHARS: usize = 4000;

/// One entry as wiredesk keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Our stable key within the feed: guid, else link, else `sha256:` of title and date.
    pub key: String,
    pub guid: Option<String>,
    /// The link as given, made absolute.
    pub link: Option<String>,
    pub canonical_url: Option<String>,
    /// Plain text.
    pub title: String,
    /// Sanitised HTML, for republishing.
    pub summary_html: String,
    /// Plain text of the summary (or content), for matching.
    pub text: String,
    /// The date the feed gave (published, else updated), if any and sane.
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    /// Changes when the title or summary changes: a new revision.
    pub content_hash: String,
}

/// A parsed feed.
#[derive(Clone, Debug)]
pub struct ParsedFeed {
    pub title: Option<String>,
    pub entries: Vec<Entry>,
}

/// Why a body could not be read as a feed.
#[derive(Debug, thiserror::Error)]
#[error("not a readable feed: {0}")]
pub struct ParseError(pub String);

/// Parses raw feed bytes. `base` resolves relative links; `now` clamps far-future dates.
pub fn parse_feed(
    bytes: &[u8],
    base: Option<&Url>,
    now: DateTime<Utc>,
) -> Result<ParsedFeed, ParseError> {
    let parser = feed_rs::parser::Builder::new()
        .base_uri(base.map(Url::as_str))
        .id_generator(|_, _, _| String::new())
        .build();
    let feed = parser.parse(bytes).map_err(|e| ParseError(e.to_string()))?;
    let mut seen = std::collections::HashSet::new();
    let mut entries = Vec::with_capacity(feed.entries.len());
    for e in feed.entries {
        let entry = convert(e, base, now);
        if entry.title.is_empty() && entry.text.is_empty() && entry.link.is_none() {
            continue;
        }
        if seen.insert(entry.key.clone()) {
            entries.push(entry);
        }
    }
    Ok(ParsedFeed {
        title: feed.title.map(|t| html_to_text(&t.content)),
        entries,
    })
}

fn convert(e: feed_rs::model::Entry, base: Option<&Url>, now: DateTime<Utc>) -> Entry {
    let link = e
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .or_else(|| e.links.first())
        // A literal `&amp;` left in a URL after XML decoding was escaped twice by the feed.
        .map(|l| l.href.trim().replace("&amp;", "&"))
        .filter(|h| !h.is_empty())
        .map(|h| match base.and_then(|b| b.join(&h).ok()) {
            Some(abs) => abs.to_string(),
            None => h,
        });
    let canonical = link.as_deref().and_then(|l| canonical_url(l, base));
    let title = e
        .title
        .as_ref()
        .map(|t| html_to_text(&t.content))
        .unwrap_or_default();
    let summary_src = e
        .summary
        .as_ref()
        .map(|s| s.content.clone())
        .filter(|s| !s.trim().is_empty())
        .or_else(|| e.content.as_ref().and_then(|c| c.body.clone()))
        .unwrap_or_default();
    let mut text = html_to_text(&summary_src);
    if let Some((cut, _)) = text.char_indices().nth(MAX_TEXT_CHARS) {
        text.truncate(cut);
    }
    let summary_html = sanitise_html(&summary_src, base);
    let published = e.published.or(e.updated).map(|d| clamp_date(Some(d), now));
    let updated = e.updated.map(|d| clamp_date(Some(d), now));
    let guid = Some(e.id.trim().to_owned()).filter(|g| !g.is_empty());
    let key = match (&guid, &link) {
        (Some(g), _) => g.clone(),
        (None, Some(l)) => l.clone(),
        (None, None) => {
            let date = published.map(|d| d.to_rfc3339()).unwrap_or_default();
            format!("sha256:{}", hex_digest(&[&title, &date]))
        }
    };
    let content_hash = hex_digest(&[&title, &summary_html]);
    Entry {
        key,
        guid,
        link,
        canonical_url: canonical,
        title,
        summary_html,
        text,
        published,
        updated,
        content_hash,
    }
}

/// Hex SHA-256 of the parts, each followed by a NUL separator (so ("ab","c") ≠ ("a","bc")).
pub fn hex_digest(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    let d = h.finalize();
    d.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn rss_entries_get_our_keys() {
        let xml = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>T &amp; Co</title>
<item><title>With guid</title><guid>g-1</guid><link>/a?utm_source=x</link><description>&lt;p&gt;Body&lt;/p&gt;</description><pubDate>Sun, 01 Nov 2026 10:00:00 GMT</pubDate></item>
<item><title>Link only</title><link>https://e.com/b</link></item>
<item><title>Neither</title><description>text</description></item>
</channel></rss>"#;
        let base = Url::parse("https://e.com/feed.xml").unwrap();
        let f = parse_feed(xml.as_bytes(), Some(&base), now()).unwrap();
        assert_eq!(f.title.as_deref(), Some("T & Co"));
        assert_eq!(f.entries.len(), 3);
        assert_eq!(f.entries[0].key, "g-1");
        assert_eq!(
            f.entries[0].link.as_deref(),
            Some("https://e.com/a?utm_source=x")
        );
        assert_eq!(
            f.entries[0].canonical_url.as_deref(),
            Some("https://e.com/a")
        );
        assert_eq!(f.entries[0].text, "Body");
        assert_eq!(
            f.entries[0].published,
            Some(Utc.with_ymd_and_hms(2026, 11, 1, 10, 0, 0).unwrap())
        );
        assert_eq!(f.entries[1].key, "https://e.com/b");
        assert!(f.entries[2].key.starts_with("sha256:"));
        // Keys of id-less entries are stable from one parse to the next.
        let again = parse_feed(xml.as_bytes(), Some(&base), now()).unwrap();
        assert_eq!(again.entries[2].key, f.entries[2].key);
    }

    #[test]
    fn double_escaped_ampersands_in_links_are_decoded() {
        let xml = r#"<rss version="2.0"><channel><title>x</title><item><title>a</title><link>https://e.com/a?c=1&amp;amp;id=2</link></item></channel></rss>"#;
        let f = parse_feed(xml.as_bytes(), None, now()).unwrap();
        assert_eq!(
            f.entries[0].link.as_deref(),
            Some("https://e.com/a?c=1&id=2")
        );
        assert_eq!(f.entries[0].key, "https://e.com/a?c=1&id=2");
    }

    #[test]
    fn far_future_dates_are_clamped() {
        let xml = r#"<rss version="2.0"><channel><title>x</title><item><title>a</title><guid>1</guid><pubDate>Fri, 01 Jan 2100 00:00:00 GMT</pubDate></item></channel></rss>"#;
        let f = parse_feed(xml.as_bytes(), None, now()).unwrap();
        assert_eq!(f.entries[0].published, Some(now()));
    }

    #[test]
    fn atom_is_read() {
        let xml = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:a</id><updated>2026-11-01T00:00:00Z</updated>
<entry><id>urn:e1</id><title type="html">&lt;b&gt;Bold&lt;/b&gt; news</title><link href="https://e.com/1"/><updated>2026-11-01T01:00:00Z</updated><summary>S</summary></entry></feed>"#;
        let f = parse_feed(xml.as_bytes(), None, now()).unwrap();
        assert_eq!(f.entries[0].key, "urn:e1");
        assert_eq!(f.entries[0].title, "Bold news");
        assert_eq!(f.entries[0].text, "S");
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse_feed(b"<html><body>hi</body></html>", None, now()).is_err());
        assert!(parse_feed(b"", None, now()).is_err());
    }

    #[test]
    fn a_new_title_is_a_new_revision() {
        let a = r#"<rss version="2.0"><channel><title>x</title><item><title>a</title><guid>1</guid></item></channel></rss>"#;
        let b = a.replace("<title>a</title>", "<title>b</title>");
        let fa = parse_feed(a.as_bytes(), None, now()).unwrap();
        let fb = parse_feed(b.as_bytes(), None, now()).unwrap();
        assert_eq!(fa.entries[0].key, fb.entries[0].key);
        assert_ne!(fa.entries[0].content_hash, fb.entries[0].content_hash);
    }
}
