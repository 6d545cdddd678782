//! JSON Feed 1.1 (<https://www.jsonfeed.org/version/1.1/>), with the story's members in an
//! `_wiredesk` extension object (the spec's way to extend: keys starting with an underscore).

use serde_json::{Value, json};

use super::{FeedMeta, Rendered, last_change, outlets, rfc3339, story_urn, summary_html};
use crate::normalise::redact_url_str;
use crate::store::Story;

/// Text without control characters (JSON could escape them, but readers should not see them).
fn clean(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect()
}

/// Renders a JSON Feed 1.1 document.
pub fn render_json(stories: &[Story], meta: &FeedMeta) -> Rendered {
    let items: Vec<Value> = stories
        .iter()
        .map(|story| {
            let rep = story.representative();
            let members: Vec<Value> = story
                .members
                .iter()
                .map(|m| {
                    json!({
                        "feed": m.feed,
                        "name": m.feed_name,
                        "link": m.link.as_deref().map(redact_url_str),
                        "title": clean(&m.title),
                        "published": rfc3339(m.published),
                        "joined_by": m.joined_by,
                        "score": m.score,
                    })
                })
                .collect();
            let mut item = json!({
                "id": story_urn(story),
                "title": clean(&rep.title),
                "content_html": summary_html(story),
                "date_published": rfc3339(story.published),
                "date_modified": rfc3339(story.updated),
                "authors": outlets(story).iter().map(|(_, n)| json!({"name": n})).collect::<Vec<_>>(),
                "tags": outlets(story).iter().map(|(id, _)| *id).collect::<Vec<_>>(),
                "_wiredesk": {"story": story.id.0, "members": members},
            });
            if let Some(link) = &rep.link {
                item["url"] = json!(redact_url_str(link));
            }
            let media = super::story_media(story);
            if let Some(tags) = item["tags"].as_array_mut() {
                tags.extend(media.categories.iter().map(|c| json!(clean(c))));
            }
            if let Some(e) = media.enclosure {
                let mut a = json!({
                    "url": redact_url_str(&e.url),
                    "mime_type": e.media_type.as_deref().unwrap_or("application/octet-stream"),
                });
                if let Some(n) = e.length {
                    a["size_in_bytes"] = json!(n);
                }
                item["attachments"] = json!([a]);
            }
            if let Some(img) = media.image {
                item["image"] = json!(redact_url_str(img));
            }
            item
        })
        .collect();
    let mut doc = json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": meta.title,
        "home_page_url": meta.home_url,
        "feed_url": meta.self_url,
        "description": "Each story once, with every outlet that carried it",
        "items": items,
    });
    if !meta.hubs.is_empty() {
        doc["hubs"] = json!(
            meta.hubs
                .iter()
                .map(|h| json!({"type": "WebSub", "url": h}))
                .collect::<Vec<_>>()
        );
    }
    let body = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".to_owned());
    Rendered::new(
        body,
        "application/feed+json; charset=utf-8",
        last_change(stories),
    )
}
