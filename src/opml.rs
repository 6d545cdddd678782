//! `wiredesk import-opml FILE`: turns a reader's OPML subscription list into `[[feed]]` tables
//! to paste into `feeds.toml`. Ids come from the outline titles (made unique); OPML categories
//! (nested outlines and the `category` attribute) become tags. Titles and folder names in any
//! script are transliterated to ASCII (`deunicode`: "한국" → `hangug`, "東京" → `dong-jing`),
//! since ids and tags become URL paths. A URL listed twice is imported once; an outline with
//! neither a feed URL nor feeds inside it is reported as skipped.

use std::collections::HashSet;
use std::fmt::Write as _;

use quick_xml::events::Event;

/// One subscription found in an OPML document.
#[derive(Clone, Debug, PartialEq)]
pub struct Subscription {
    pub title: String,
    pub url: String,
    pub tags: Vec<String>,
}

/// What an OPML document holds: the subscriptions, and what was left out and why.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Import {
    pub subscriptions: Vec<Subscription>,
    /// One line per outline left out ("… has no feed URL", "… is listed twice").
    pub skipped: Vec<String>,
}

impl Import {
    /// "14 feeds, 2 skipped: …" for the operator's terminal.
    pub fn summary(&self) -> String {
        let n = self.subscriptions.len();
        let mut line = format!("{n} feed{}", if n == 1 { "" } else { "s" });
        if !self.skipped.is_empty() {
            let _ = write!(
                line,
                ", {} skipped: {}",
                self.skipped.len(),
                self.skipped.join("; ")
            );
        }
        line
    }
}

/// Reads every `<outline xmlUrl=…>`, with the titles of enclosing outlines as tags.
pub fn read(opml: &str) -> anyhow::Result<Vec<Subscription>> {
    Ok(import(opml)?.subscriptions)
}

/// [`read`], with what was skipped.
pub fn import(opml: &str) -> anyhow::Result<Import> {
    let mut urls_seen: HashSet<String> = HashSet::new();
    let mut skipped = Vec::new();
    let mut reader = quick_xml::Reader::from_str(opml);
    let mut parents: Vec<Option<String>> = Vec::new();
    let mut seen_opml = false;
    let mut out = Vec::new();
    loop {
        let event = reader.read_event().map_err(|e| {
            anyhow::anyhow!("not valid OPML at byte {}: {e}", reader.buffer_position())
        })?;
        let opens = matches!(event, Event::Start(_));
        match event {
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == "outline" => {
                let mut title = None;
                let mut url = None;
                let mut category = None;
                for a in e.attributes().flatten() {
                    let value = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map(|v| v.into_owned())
                        .unwrap_or_default();
                    match a.key.as_ref() {
                        "title" => title = Some(value),
                        "text" if title.is_none() => title = Some(value),
                        "xmlUrl" => url = Some(value),
                        "category" => category = Some(value),
                        _ => {}
                    }
                }
                let is_feed = url.as_deref().is_some_and(|u| !u.trim().is_empty());
                let shown = title.clone().unwrap_or_default();
                if !is_feed && !opens {
                    skipped.push(format!("outline {shown:?} has no feed URL (xmlUrl)"));
                }
                let url = url.filter(|_| is_feed).map(|u| u.trim().to_owned());
                if let Some(url) = url.as_ref().filter(|u| !urls_seen.insert((*u).clone())) {
                    skipped.push(format!("{url} is listed twice (imported once)"));
                } else if let Some(url) = url {
                    let mut tags: Vec<String> = parents.iter().flatten().map(|p| slug(p)).collect();
                    for c in category.iter().flat_map(|c| c.split([',', '/'])) {
                        let c = slug(c);
                        if !c.is_empty() {
                            tags.push(c);
                        }
                    }
                    tags.retain(|t| !t.is_empty());
                    tags.dedup();
                    out.push(Subscription {
                        title: title.clone().unwrap_or_else(|| url.clone()),
                        url,
                        tags,
                    });
                }
                // A folder's title tags the feeds inside it.
                if opens {
                    parents.push(if is_feed { None } else { title });
                }
            }
            Event::End(e) if e.name().as_ref() == "outline" => {
                parents.pop();
            }
            Event::Start(e) if e.name().as_ref() == "opml" => seen_opml = true,
            Event::Eof => break,
            _ => {}
        }
    }
    if !seen_opml {
        anyhow::bail!("not an OPML document (no <opml> element)");
    }
    Ok(Import {
        subscriptions: out,
        skipped,
    })
}

/// A feed id or tag from a title in any script: transliterated to ASCII, then lowercase
/// letters and digits joined by `-`.
fn slug(s: &str) -> String {
    let ascii = deunicode::deunicode(s.trim());
    let mut out = String::new();
    for c in ascii.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').chars().take(48).collect()
}

fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `[[feed]]` tables for the subscriptions, with unique ids.
pub fn to_feeds_toml(subs: &[Subscription]) -> String {
    let mut used = HashSet::new();
    let mut out = String::new();
    for (i, s) in subs.iter().enumerate() {
        let base = match slug(&s.title) {
            b if b.is_empty() => format!("feed-{}", i + 1),
            b => b,
        };
        let mut id = base.clone();
        let mut n = 2;
        while !used.insert(id.clone()) {
            id = format!("{base}-{n}");
            n += 1;
        }
        let _ = writeln!(out, "[[feed]]");
        let _ = writeln!(out, "id = {}", toml_string(&id));
        let _ = writeln!(out, "name = {}", toml_string(&s.title));
        let _ = writeln!(out, "url = {}", toml_string(&s.url));
        if !s.tags.is_empty() {
            let tags: Vec<String> = s.tags.iter().map(|t| toml_string(t)).collect();
            let _ = writeln!(out, "tags = [{}]", tags.join(", "));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const OPML: &str = r#"<?xml version="1.0"?><opml version="2.0"><head><title>Mine</title></head><body>
<outline text="Korea">
  <outline type="rss" text="Yonhap News" xmlUrl="https://en.yna.co.kr/RSS/news.xml"/>
  <outline type="rss" text="The Korea Herald" title="The Korea Herald" xmlUrl="https://www.koreaherald.com/rss?a=1&amp;b=2" category="wire"/>
</outline>
<outline type="rss" text="Yonhap News" xmlUrl="https://en.yna.co.kr/RSS/politics.xml"/>
</body></opml>"#;

    #[test]
    fn subscriptions_with_folders_as_tags() {
        let subs = read(OPML).unwrap();
        assert_eq!(subs.len(), 3);
        assert_eq!(subs[0].title, "Yonhap News");
        assert_eq!(subs[0].tags, vec!["korea"]);
        assert_eq!(subs[1].url, "https://www.koreaherald.com/rss?a=1&b=2");
        assert_eq!(subs[1].tags, vec!["korea", "wire"]);
        assert!(subs[2].tags.is_empty());
    }

    #[test]
    fn the_output_is_a_valid_config_with_unique_ids() {
        let text = to_feeds_toml(&read(OPML).unwrap());
        let c = crate::Config::parse(&text, Path::new("imported.toml")).expect("valid config");
        let ids: Vec<&str> = c.feeds.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(
            ids,
            vec!["yonhap-news", "the-korea-herald", "yonhap-news-2"]
        );
    }

    #[test]
    fn our_own_opml_round_trips() {
        let cfg = crate::Config::parse(
            "[[feed]]\nid = \"a\"\nname = \"A & B\"\nurl = \"https://a.example/rss\"\ntags = [\"world\"]\n",
            Path::new("t.toml"),
        )
        .unwrap();
        let opml = crate::publish::render_opml(&cfg, chrono::DateTime::UNIX_EPOCH);
        let subs = read(std::str::from_utf8(&opml.body).unwrap()).unwrap();
        assert_eq!(
            subs,
            vec![Subscription {
                title: "A & B".into(),
                url: "https://a.example/rss".into(),
                tags: vec!["world".into()],
            }]
        );
    }

    #[test]
    fn folders_in_any_script_duplicates_and_urlless_outlines() {
        let opml = r#"<opml version="2.0"><body>
<outline text="한국 뉴스">
  <outline type="rss" text="연합뉴스" xmlUrl="https://www.yna.co.kr/rss/news.xml"/>
  <outline type="rss" text="Again" xmlUrl="https://www.yna.co.kr/rss/news.xml"/>
  <outline type="rss" text="No URL here"/>
</outline>
<outline text="東京" category="経済"><outline text="NHK" xmlUrl="https://nhk.example/rss"/></outline>
</body></opml>"#;
        let got = import(opml).unwrap();
        assert_eq!(got.subscriptions.len(), 2);
        assert_eq!(got.subscriptions[0].tags, vec!["hangug-nyuseu"]);
        assert_eq!(got.subscriptions[1].tags, vec!["dong-jing"]);
        assert_eq!(got.skipped.len(), 2, "{:?}", got.skipped);
        let summary = got.summary();
        assert!(summary.starts_with("2 feeds, 2 skipped: "), "{summary}");
        assert!(summary.contains("listed twice") && summary.contains("\"No URL here\""));
        let toml = to_feeds_toml(&got.subscriptions);
        assert!(toml.contains("id = \"yeonhabnyuseu\""), "{toml}");
        crate::Config::parse(&toml, Path::new("imported.toml")).expect("the output checks clean");
    }

    #[test]
    fn broken_opml_is_an_error() {
        assert!(read("<opml><body></outline></body></opml>").is_err());
        assert!(read("<html><body>not opml</body></html>").is_err());
    }
}
