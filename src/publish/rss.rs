//! RSS 2.0 (<https://www.rssboard.org/rss-specification>): one item per story.

use std::fmt::Write as _;

use super::{FeedMeta, Rendered, last_change, outlets, story_urn, summary_html, xml_escape};
use crate::normalise::redact_url_str;
use crate::store::Story;

/// Renders an RSS 2.0 document. Outlets go in `dc:creator` (RSS's own `author` must be an
/// e-mail address) and as categories with the feed id.
pub fn render_rss(stories: &[Story], meta: &FeedMeta) -> Rendered {
    let updated = last_change(stories);
    let mut out = String::with_capacity(1024 + stories.len() * 1024);
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    out.push_str("<rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:media=\"http://search.yahoo.com/mrss/\">\n<channel>\n");
    let _ = writeln!(out, "  <title>{}</title>", xml_escape(&meta.title));
    let _ = writeln!(out, "  <link>{}</link>", xml_escape(&meta.home_url));
    let _ = writeln!(
        out,
        "  <description>{}: each story once, with every outlet that carried it</description>",
        xml_escape(&meta.title)
    );
    let _ = writeln!(
        out,
        "  <atom:link rel=\"self\" type=\"application/rss+xml\" href=\"{}\"/>",
        xml_escape(&meta.self_url)
    );
    for hub in &meta.hubs {
        let _ = writeln!(
            out,
            "  <atom:link rel=\"hub\" href=\"{}\"/>",
            xml_escape(hub)
        );
    }
    let _ = writeln!(
        out,
        "  <lastBuildDate>{}</lastBuildDate>",
        updated.to_rfc2822()
    );
    let _ = writeln!(
        out,
        "  <generator>wiredesk {}</generator>",
        env!("CARGO_PKG_VERSION")
    );
    for story in stories {
        write_rss_item(&mut out, story);
    }
    out.push_str("</channel>\n</rss>\n");
    Rendered::new(out, "application/rss+xml; charset=utf-8", updated)
}

/// One story as an item: the representative's title and link, a permanent guid, the outlets as
/// `dc:creator` and categories, and the summary with "Also reported by".
fn write_rss_item(out: &mut String, story: &Story) {
    let rep = story.representative();
    out.push_str("  <item>\n");
    let _ = writeln!(out, "    <title>{}</title>", xml_escape(&rep.title));
    if let Some(link) = &rep.link {
        let _ = writeln!(
            out,
            "    <link>{}</link>",
            xml_escape(&redact_url_str(link))
        );
    }
    let _ = writeln!(
        out,
        "    <guid isPermaLink=\"false\">{}</guid>",
        story_urn(story)
    );
    let _ = writeln!(
        out,
        "    <pubDate>{}</pubDate>",
        story.published.to_rfc2822()
    );
    let names: Vec<&str> = outlets(story).iter().map(|(_, n)| *n).collect();
    let _ = writeln!(
        out,
        "    <dc:creator>{}</dc:creator>",
        xml_escape(&names.join(", "))
    );
    for (id, _) in outlets(story) {
        let _ = writeln!(
            out,
            "    <category domain=\"urn:wiredesk:feed\">{}</category>",
            xml_escape(id)
        );
    }
    let media = super::story_media(story);
    for c in &media.categories {
        let _ = writeln!(out, "    <category>{}</category>", xml_escape(c));
    }
    if let Some(e) = media.enclosure {
        // RSS requires both attributes: 0 and the generic type when the feed gave none.
        let _ = writeln!(
            out,
            "    <enclosure url=\"{}\" length=\"{}\" type=\"{}\"/>",
            xml_escape(&redact_url_str(&e.url)),
            e.length.unwrap_or(0),
            xml_escape(
                e.media_type
                    .as_deref()
                    .unwrap_or("application/octet-stream")
            )
        );
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
        "    <description>{}</description>",
        xml_escape(&summary_html(story))
    );
    out.push_str("  </item>\n");
}
