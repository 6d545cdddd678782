//! JSON Feed read leniently. feed-rs reads JSON Feed into typed structs: one field of the wrong
//! shape (`"tags": "a,b"`, a numeric `id`, an attachment without `mime_type`) or a version URL
//! it does not list (`http://jsonfeed.org/version/1`, without https) fails the whole feed.
//! Feeds in the wild do all of these. So the document is first restated as the JSON Feed 1.1
//! that feed-rs expects: every field it reads is kept when it has the right shape, coerced when
//! the intent is plain (a number where a string belongs, a comma-separated string where a list
//! belongs, one object where a list of them belongs), dropped otherwise — the rest of the item
//! is always kept. Written here because no maintained crate reads JSON Feed leniently.

use serde_json::{Map, Value};

/// The version feed-rs reads; any other version of JSON Feed 1.x is stated as this one.
const VERSION: &str = "https://jsonfeed.org/version/1.1";

/// The document restated as JSON Feed 1.1 (see the module docs), or `None` when it is not a
/// JSON object at all.
pub fn restate(text: &str) -> Option<String> {
    let Ok(Value::Object(doc)) = serde_json::from_str::<Value>(text.trim_start_matches('\u{FEFF}'))
    else {
        return None;
    };
    let mut out = Map::new();
    out.insert("version".into(), VERSION.into());
    out.insert(
        "title".into(),
        string(doc.get("title")).unwrap_or_default().into(),
    );
    for key in [
        "home_page_url",
        "feed_url",
        "language",
        "description",
        "icon",
        "favicon",
    ] {
        if let Some(s) = string(doc.get(key)) {
            out.insert(key.into(), s.into());
        }
    }
    authors(&doc, &mut out);
    let items: Vec<Value> = list(doc.get("items"))
        .into_iter()
        .filter_map(|v| match v {
            Value::Object(item) => Some(Value::Object(restate_item(item))),
            _ => None,
        })
        .collect();
    out.insert("items".into(), Value::Array(items));
    serde_json::to_string(&Value::Object(out)).ok()
}

fn restate_item(item: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for key in [
        "id",
        "url",
        "external_url",
        "title",
        "content_html",
        "content_text",
        "summary",
        "date_published",
        "date_modified",
    ] {
        if let Some(s) = string(item.get(key)) {
            out.insert(key.into(), s.into());
        }
    }
    authors(item, &mut out);
    let tags: Vec<Value> = list(item.get("tags"))
        .into_iter()
        .flat_map(|t| match t {
            // "a,b" where ["a", "b"] belongs.
            Value::String(s) => s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_owned()))
                .collect::<Vec<_>>(),
            other => string(Some(other))
                .map(Value::String)
                .into_iter()
                .collect::<Vec<_>>(),
        })
        .collect();
    if !tags.is_empty() {
        out.insert("tags".into(), Value::Array(tags));
    }
    let mut attachments: Vec<Value> = list(item.get("attachments"))
        .into_iter()
        .filter_map(attachment)
        .collect();
    // feed-rs reads no `image`: it travels as an image attachment (see `parse::media_of`).
    for key in ["image", "banner_image"] {
        if let Some(url) = string(item.get(key)) {
            attachments.push(serde_json::json!({"url": url, "mime_type": "image/*"}));
        }
    }
    if !attachments.is_empty() {
        out.insert("attachments".into(), Value::Array(attachments));
    }
    out
}

/// An attachment with a URL; a missing or odd `mime_type` becomes the generic one.
fn attachment(v: &Value) -> Option<Value> {
    let Value::Object(a) = v else { return None };
    let url = string(a.get("url"))?;
    let mut out = Map::new();
    out.insert("url".into(), url.into());
    out.insert(
        "mime_type".into(),
        string(a.get("mime_type"))
            .unwrap_or_else(|| "application/octet-stream".into())
            .into(),
    );
    if let Some(t) = string(a.get("title")) {
        out.insert("title".into(), t.into());
    }
    if let Some(n) = a.get("size_in_bytes").and_then(number_u64) {
        out.insert("size_in_bytes".into(), n.into());
    }
    Some(Value::Object(out))
}

/// `author` (1.0, one object) and `authors` (1.1, a list), each kept when it is an object (or a
/// bare name).
fn authors(from: &Map<String, Value>, out: &mut Map<String, Value>) {
    if let Some(a) = from.get("author").and_then(author) {
        out.insert("author".into(), a);
    }
    let list: Vec<Value> = list(from.get("authors"))
        .into_iter()
        .filter_map(author)
        .collect();
    if !list.is_empty() {
        out.insert("authors".into(), Value::Array(list));
    }
}

fn author(v: &Value) -> Option<Value> {
    let mut out = Map::new();
    match v {
        Value::Object(a) => {
            for key in ["name", "url"] {
                if let Some(s) = string(a.get(key)) {
                    out.insert(key.into(), s.into());
                }
            }
        }
        Value::String(name) => {
            out.insert("name".into(), name.clone().into());
        }
        _ => return None,
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// A list where a list belongs; one value where a list belongs is a list of one.
fn list(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(one) => vec![one],
    }
}

/// A string where a string belongs; a number or a boolean is written out.
fn string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn number_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn restated(text: &str) -> Value {
        serde_json::from_str(&restate(text).expect("an object")).expect("valid JSON")
    }

    #[test]
    fn any_json_feed_version_is_read_as_1_1() {
        for v in [
            "http://jsonfeed.org/version/1",
            "https://jsonfeed.org/version/1",
            "https://jsonfeed.org/version/1.1",
            "",
        ] {
            let doc = restated(&format!(
                r#"{{"version": "{v}", "title": "T", "items": []}}"#
            ));
            assert_eq!(doc["version"], VERSION);
        }
        let doc = restated(r#"{"items": []}"#);
        assert_eq!(
            (doc["version"].as_str(), doc["title"].as_str()),
            (Some(VERSION), Some(""))
        );
    }

    #[test]
    fn fields_of_the_wrong_shape_are_coerced_or_dropped_and_the_item_kept() {
        let doc = restated(
            r#"{"version": "https://jsonfeed.org/version/1", "title": 7, "items": [
                {"id": 42, "title": "T", "tags": "a, b,,c", "url": ["not", "a", "string"],
                 "attachments": {"url": "https://e.com/a.mp3"}, "author": "Kim",
                 "date_published": {"bad": 1}},
                "not an item",
                {"id": "2", "tags": [1, "x", null], "attachments": [{"mime_type": "audio/mpeg"}]}
            ]}"#,
        );
        assert_eq!(doc["title"], "7");
        let items = doc["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "the string is not an item");
        assert_eq!(items[0]["id"], "42");
        assert_eq!(items[0]["tags"], serde_json::json!(["a", "b", "c"]));
        assert!(items[0].get("url").is_none());
        assert!(items[0].get("date_published").is_none());
        assert_eq!(
            items[0]["attachments"],
            serde_json::json!([{"url": "https://e.com/a.mp3", "mime_type": "application/octet-stream"}])
        );
        assert_eq!(items[0]["author"], serde_json::json!({"name": "Kim"}));
        assert_eq!(items[1]["tags"], serde_json::json!(["1", "x"]));
        assert!(
            items[1].get("attachments").is_none(),
            "no URL, no attachment"
        );
    }

    #[test]
    fn what_is_not_a_json_object_is_not_restated() {
        assert_eq!(restate("[1, 2]"), None);
        assert_eq!(restate("{not json"), None);
    }
}
