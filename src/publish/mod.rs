//! Stories → feed documents. Pure rendering, no I/O: the daemon renders when stories change
//! and the HTTP layer serves the bytes from memory.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

use crate::normalise::redact_url_str;
use crate::store::Story;

mod json;
mod opml;
mod page;
mod rss;

pub use json::render_json;
pub use opml::render_opml;
pub use page::{PAGE_SIZE, PageContext, content_security_policy, relative_time, render_page};
pub use rss::render_rss;

/// What a merged feed says about itself.
#[derive(Clone, Debug)]
pub struct FeedMeta {
    pub title: String,
    /// The URL this document is served at (Atom `rel="self"`).
    pub self_url: String,
    /// The site's home page.
    pub home_url: String,
    /// WebSub hubs the document names (`rel="hub"`).
    pub hubs: Vec<String>,
}

/// A rendered document with its HTTP validators.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    pub body: bytes::Bytes,
    pub content_type: &'static str,
    /// A strong ETag: a hash of the body, so it changes exactly when the bytes do.
    pub etag: String,
    /// The last change to any story in the document (not the render time).
    pub last_modified: DateTime<Utc>,
    /// The body gzip-compressed once at render time, for clients that accept it.
    pub gzip: Option<bytes::Bytes>,
    /// The body brotli-compressed once at render time (smaller than gzip for feeds).
    pub brotli: Option<bytes::Bytes>,
}

impl Rendered {
    /// A document served many times (the render loop's): compressed once both ways, brotli at
    /// quality 9.
    pub fn new(body: String, content_type: &'static str, last_modified: DateTime<Utc>) -> Rendered {
        Rendered::uncompressed(body, content_type, last_modified).compressed(true, Some(9))
    }

    /// A document without compressed bodies: one made for a single request (the page), which
    /// the server compresses only the way that client accepts ([`Rendered::compressed`]).
    pub fn uncompressed(
        body: String,
        content_type: &'static str,
        last_modified: DateTime<Utc>,
    ) -> Rendered {
        let digest = Sha256::digest(body.as_bytes());
        let etag: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
        Rendered {
            body: bytes::Bytes::from(body),
            content_type,
            etag: format!("\"{etag}\""),
            last_modified,
            gzip: None,
            brotli: None,
        }
    }

    /// Adds a gzip body (when `gzip`) and a brotli body at `brotli_quality` (0–11, when given).
    pub fn compressed(mut self, gzip_it: bool, brotli_quality: Option<u32>) -> Rendered {
        if gzip_it {
            self.gzip = gzip(&self.body);
        }
        if let Some(q) = brotli_quality {
            self.brotli = brotli(&self.body, q);
        }
        self
    }
}

fn gzip(body: &[u8]) -> Option<bytes::Bytes> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(body).ok()?;
    enc.finish().ok().map(bytes::Bytes::from)
}

fn brotli(body: &[u8], quality: u32) -> Option<bytes::Bytes> {
    let mut out = Vec::with_capacity(body.len() / 4);
    let params = brotli::enc::BrotliEncoderParams {
        quality: quality.min(11) as i32,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &body[..], &mut out, &params).ok()?;
    Some(bytes::Bytes::from(out))
}

/// The stable Atom id of a story.
pub fn story_urn(story: &Story) -> String {
    format!("urn:wiredesk:story:{}", story.id)
}

pub(crate) fn rfc3339(d: DateTime<Utc>) -> String {
    d.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The newest change among `stories` (the Unix epoch for none), for `updated` and
/// Last-Modified.
pub fn last_change(stories: &[Story]) -> DateTime<Utc> {
    stories
        .iter()
        .map(|s| s.updated)
        .max()
        .unwrap_or(DateTime::UNIX_EPOCH)
}

/// Renders an Atom 1.0 document (RFC 4287): one entry per story, newest first as given.
pub fn render_atom(stories: &[Story], meta: &FeedMeta) -> Rendered {
    let updated = last_change(stories);
    let mut out = String::with_capacity(1024 + stories.len() * 1024);
    write_atom_head(&mut out, meta, updated);
    for story in stories {
        write_atom_entry(&mut out, story);
    }
    out.push_str("</feed>\n");
    Rendered::new(out, "application/atom+xml; charset=utf-8", updated)
}

/// The feed's own elements: id, title, updated, self and home links, generator.
fn write_atom_head(out: &mut String, meta: &FeedMeta, updated: DateTime<Utc>) {
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    out.push_str(
        "<feed xmlns=\"http://www.w3.org/2005/Atom\" xmlns:media=\"http://search.yahoo.com/mrss/\">\n",
    );
    let _ = writeln!(out, "  <id>{}</id>", xml_escape(&meta.self_url));
    let _ = writeln!(out, "  <title>{}</title>", xml_escape(&meta.title));
    let _ = writeln!(out, "  <updated>{}</updated>", rfc3339(updated));
    let _ = writeln!(
        out,
        "  <link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>",
        xml_escape(&meta.self_url)
    );
    let _ = writeln!(
        out,
        "  <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>",
        xml_escape(&meta.home_url)
    );
    for hub in &meta.hubs {
        let _ = writeln!(out, "  <link rel=\"hub\" href=\"{}\"/>", xml_escape(hub));
    }
    let _ = writeln!(
        out,
        "  <generator version=\"{}\">wiredesk</generator>",
        env!("CARGO_PKG_VERSION")
    );
}

/// One story as an entry: the representative's title and link, the outlets as authors (each
/// name once) and as categories (each feed once), and the summary with "Also reported by".
fn write_atom_entry(out: &mut String, story: &Story) {
    let rep = story.representative();
    out.push_str("  <entry>\n");
    let _ = writeln!(out, "    <id>{}</id>", story_urn(story));
    let _ = writeln!(
        out,
        "    <title type=\"text\">{}</title>",
        xml_escape(&rep.title)
    );
    if let Some(link) = &rep.link {
        let _ = writeln!(
            out,
            "    <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>",
            xml_escape(&redact_url_str(link))
        );
    }
    let _ = writeln!(
        out,
        "    <published>{}</published>",
        rfc3339(story.published)
    );
    let _ = writeln!(out, "    <updated>{}</updated>", rfc3339(story.updated));
    let feeds = outlets(story);
    let mut names: Vec<&str> = Vec::new();
    for (_, name) in &feeds {
        if !names.contains(name) {
            names.push(name);
        }
    }
    for name in names {
        let _ = writeln!(
            out,
            "    <author><name>{}</name></author>",
            xml_escape(name)
        );
    }
    for (id, name) in feeds {
        let _ = writeln!(
            out,
            "    <category term=\"{}\" label=\"{}\"/>",
            xml_escape(id),
            xml_escape(name)
        );
    }
    let media = story_media(story);
    for c in &media.categories {
        let _ = writeln!(out, "    <category term=\"{}\"/>", xml_escape(c));
    }
    if let Some(e) = media.enclosure {
        let _ = write!(
            out,
            "    <link rel=\"enclosure\" href=\"{}\"",
            xml_escape(&redact_url_str(&e.url))
        );
        if let Some(t) = &e.media_type {
            let _ = write!(out, " type=\"{}\"", xml_escape(t));
        }
        if let Some(n) = e.length {
            let _ = write!(out, " length=\"{n}\"");
        }
        out.push_str("/>\n");
    }
    if let Some(img) = media.image {
        let _ = writeln!(
            out,
            "    <media:thumbnail url=\"{}\"/>",
            xml_escape(&redact_url_str(img))
        );
    }
    let _ = writeln!(
        out,
        "    <summary type=\"html\">{}</summary>",
        xml_escape(&summary_html(story))
    );
    out.push_str("  </entry>\n");
}

/// What a story republishes besides its text: the representative's enclosure and image (else
/// those of the first member that has one), and its members' own categories (each once,
/// whatever its case, in member order, at most [`crate::parse::MAX_CATEGORIES`]).
pub struct StoryMedia<'a> {
    pub enclosure: Option<&'a crate::parse::Enclosure>,
    pub image: Option<&'a str>,
    pub categories: Vec<&'a str>,
}

pub fn story_media(story: &Story) -> StoryMedia<'_> {
    let enclosure = story
        .members
        .iter()
        .find_map(|m| m.media.enclosure.as_ref());
    let image = story.members.iter().find_map(|m| m.media.image.as_deref());
    let mut categories: Vec<&str> = Vec::new();
    for c in story.members.iter().flat_map(|m| &m.media.categories) {
        if categories.len() < crate::parse::MAX_CATEGORIES
            && !categories
                .iter()
                .any(|k| k.to_lowercase() == c.to_lowercase())
        {
            categories.push(c);
        }
    }
    StoryMedia {
        enclosure,
        image,
        categories,
    }
}

/// The entry's HTML: the representative's sanitised summary (or, when it has none, the summary
/// of the member with the most text), then "Also reported by" with every other outlet once,
/// each linked to its own copy.
pub fn summary_html(story: &Story) -> String {
    let rep = story.representative();
    let mut html = if rep.summary_html.trim().is_empty() {
        story
            .members
            .iter()
            .max_by_key(|m| m.text.chars().count())
            .map(|m| m.summary_html.clone())
            .unwrap_or_default()
    } else {
        rep.summary_html.clone()
    };
    let others = &outlet_members(story)[1..];
    if !others.is_empty() {
        html.push_str("<p>Also reported by: ");
        for (i, m) in others.iter().enumerate() {
            if i > 0 {
                html.push_str(", ");
            }
            match &m.link {
                Some(link) => {
                    let _ = write!(
                        html,
                        "<a href=\"{}\">{}</a>",
                        html_escape::encode_double_quoted_attribute(&redact_url_str(link)),
                        html_escape::encode_text(&m.feed_name)
                    );
                }
                None => html.push_str(&html_escape::encode_text(&m.feed_name)),
            }
        }
        html.push_str("</p>");
    }
    html
}

/// Each outlet's first member, in member order (the representative first): an outlet that
/// lists one article under several URLs appears once.
pub fn outlet_members(story: &Story) -> Vec<&crate::store::Member> {
    let mut out: Vec<&crate::store::Member> = Vec::new();
    for m in &story.members {
        if !out.iter().any(|o| o.feed == m.feed) {
            out.push(m);
        }
    }
    out
}

/// Each outlet once, in member order (representative first): (feed id, feed name).
pub fn outlets(story: &Story) -> Vec<(&str, &str)> {
    outlet_members(story)
        .into_iter()
        .map(|m| (m.feed.as_str(), m.feed_name.as_str()))
        .collect()
}

/// Escapes text for XML 1.0 content and attributes, dropping characters XML cannot carry
/// (C0 controls other than tab, newline and carriage return; U+FFFE and U+FFFF).
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Member, StoryId};
    use chrono::TimeZone;

    fn member(feed: &str, title: &str, link: &str) -> Member {
        let t = Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap();
        Member {
            item_id: 1,
            feed: feed.into(),
            feed_name: format!("{feed} news"),
            priority: 0,
            key: link.into(),
            guid: None,
            link: Some(link.into()),
            title: title.into(),
            summary_html: "<p>Body &amp; more</p>".into(),
            text: "Body & more".into(),
            published: t,
            first_seen: t,
            updated: t,
            joined_by: "first".into(),
            score: None,
            matched_item: None,
            media: Default::default(),
        }
    }

    fn story() -> Story {
        let t = Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap();
        Story {
            id: StoryId("s0011223344556677".into()),
            published: t,
            first_seen: t,
            updated: t + chrono::Duration::minutes(5),
            members: vec![
                member("a", "Title <with> & \u{1} control", "https://a.example/1"),
                member("b", "Other", "https://user:pw@b.example/2?token=x"),
            ],
        }
    }

    fn meta() -> FeedMeta {
        FeedMeta {
            hubs: Vec::new(),
            title: "Desk".into(),
            self_url: "http://127.0.0.1:8080/feed.atom".into(),
            home_url: "http://127.0.0.1:8080/".into(),
        }
    }

    #[test]
    fn an_outlet_appears_once_and_also_reported_by_names_only_the_others() {
        let mut s = story();
        // Outlet "a" lists the article twice (a section URL and a tracking variant), and "b"
        // once; the representative's summary is empty, b's text is the longest.
        let mut again = member("a", "Title again", "https://a.example/section/1");
        again.summary_html = String::new();
        s.members.insert(1, again);
        s.members[0].summary_html = String::new();
        s.members[0].text = String::new();
        s.members[2].summary_html = "<p>The longest text</p>".into();
        s.members[2].text = "The longest text of all the members".into();
        let html = summary_html(&s);
        assert!(html.starts_with("<p>The longest text</p>"), "{html}");
        let also = html.split("Also reported by: ").nth(1).unwrap();
        assert_eq!(also.matches("<a ").count(), 1, "{also}");
        assert!(also.contains("b news"), "{also}");
        assert!(!also.contains("a news"), "{also}");
        let atom = String::from_utf8(render_atom(&[s.clone()], &meta()).body.to_vec()).unwrap();
        assert_eq!(
            atom.matches("<author><name>a news</name></author>").count(),
            1
        );
        assert!(
            atom.find("<name>a news</name>") < atom.find("<name>b news</name>"),
            "the representative's outlet is the first author"
        );
        let rss = String::from_utf8(render_rss(&[s.clone()], &meta()).body.to_vec()).unwrap();
        assert!(
            rss.contains("<dc:creator>a news, b news</dc:creator>"),
            "{rss}"
        );
        let ctx = PageContext {
            now: s.published,
            page: 1,
            more: false,
            tag: None,
            query: None,
            outputs: Vec::new(),
            tags: Default::default(),
        };
        let page = render_page("Desk", &[s], &[], &ctx);
        let page = String::from_utf8(page.body.to_vec()).unwrap();
        assert_eq!(page.matches(">a news</a>").count(), 1, "{page}");
    }

    #[test]
    fn atom_entry_carries_the_story() {
        let r = render_atom(&[story()], &meta());
        let body = std::str::from_utf8(&r.body).unwrap();
        assert!(body.contains("<id>urn:wiredesk:story:s0011223344556677</id>"));
        assert!(body.contains("<title type=\"text\">Title &lt;with&gt; &amp;  control</title>"));
        assert!(body.contains("<updated>2026-11-01T08:05:00Z</updated>"));
        assert!(body.contains("<author><name>b news</name></author>"));
        assert!(body.contains("Also reported by"));
        assert!(!body.contains("pw@"), "credentials leaked: {body}");
        assert!(!body.contains("token=x"), "secret leaked");
        assert_eq!(r.last_modified, story().updated);
        // The output is a feed that a reader can parse back.
        let parsed = feed_rs::parser::parse(&r.body[..]).unwrap();
        assert_eq!(parsed.entries.len(), 1);
        assert_eq!(parsed.entries[0].authors.len(), 2);
    }

    #[test]
    fn etag_follows_the_bytes() {
        let a = render_atom(&[story()], &meta());
        let b = render_atom(&[story()], &meta());
        assert_eq!(a.etag, b.etag);
        let mut s = story();
        s.members[0].title = "Changed".into();
        let c = render_atom(&[s], &meta());
        assert_ne!(a.etag, c.etag);
    }

    #[test]
    fn rss_and_json_carry_the_same_story() {
        let rss = render_rss(&[story()], &meta());
        let parsed = feed_rs::parser::parse(&rss.body[..]).unwrap();
        assert_eq!(parsed.entries.len(), 1);
        assert_eq!(parsed.entries[0].id, "urn:wiredesk:story:s0011223344556677");
        assert!(!std::str::from_utf8(&rss.body).unwrap().contains("pw@"));
        let json = render_json(&[story()], &meta());
        let v: serde_json::Value = serde_json::from_slice(&json.body).unwrap();
        assert_eq!(v["version"], "https://jsonfeed.org/version/1.1");
        let item = &v["items"][0];
        assert_eq!(item["id"], "urn:wiredesk:story:s0011223344556677");
        assert_eq!(item["_wiredesk"]["members"].as_array().unwrap().len(), 2);
        assert_eq!(
            item["_wiredesk"]["members"][1]["link"],
            "https://b.example/2?token=REDACTED"
        );
        assert_eq!(item["authors"][1]["name"], "b news");
        let parsed = feed_rs::parser::parse(&json.body[..]).unwrap();
        assert_eq!(
            parsed.entries[0].title.as_ref().unwrap().content,
            "Title <with> &  control"
        );
    }

    #[test]
    fn brotli_round_trips() {
        let r = render_atom(&[story()], &meta());
        let mut out = Vec::new();
        brotli::BrotliDecompress(&mut &r.brotli.as_ref().unwrap()[..], &mut out).unwrap();
        assert_eq!(out, r.body);
    }

    #[test]
    fn gzip_round_trips() {
        use std::io::Read;
        let r = render_atom(&[story()], &meta());
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&r.gzip.as_ref().unwrap()[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, r.body);
    }

    #[test]
    fn empty_feed_is_valid() {
        let r = render_atom(&[], &meta());
        let parsed = feed_rs::parser::parse(&r.body[..]).unwrap();
        assert!(parsed.entries.is_empty());
    }
}
