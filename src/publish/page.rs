//! `/`: a small HTML page of the latest stories with their outlets, and the sources' health.
//! No JavaScript; readable on a phone; everything from feeds escaped.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

use super::{Rendered, last_change};
use crate::normalise::redact_url_str;
use crate::store::{FeedHealth, Story};

const STYLE: &str = "body{font:16px/1.45 system-ui,sans-serif;max-width:60rem;margin:0 auto;padding:1rem;color:#222;overflow-wrap:anywhere}\
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}ol{padding:0;list-style:none}\
li{padding:.5rem 0;border-bottom:1px solid #eee}li::after{content:\"\";display:block;clear:both}.th{float:right;width:96px;height:64px;object-fit:cover;margin:0 0 .3rem .6rem;border-radius:.3rem}li a.t{font-weight:600;color:#123;text-decoration:none}\
.m{color:#666;font-size:.85rem}.b{display:inline-block;background:#eef;border-radius:.6rem;padding:0 .5rem;margin:.15rem .2rem 0 0;font-size:.8rem;color:#225;text-decoration:none}\
.n{display:inline-block;border-radius:.6rem;padding:0 .5rem;margin-right:.3rem;font-size:.8rem;background:#eee}.many{background:#fd7;font-weight:600}\
.lead{margin:.2rem 0;color:#333;font-size:.9rem}.tag{font-size:.8rem;margin-right:.4rem;color:#555}\
table{border-collapse:collapse;width:100%;font-size:.85rem;table-layout:fixed}td,th{text-align:left;padding:.3rem;border-bottom:1px solid #eee;vertical-align:top}\
.bad{color:#a00}.note{color:#8a5a00}nav a{margin-right:1rem}.s{margin:.6rem 0}.s input{font:inherit;padding:.2rem .4rem;width:min(20rem,60%)}.s button{font:inherit;margin-left:.3rem}.health{margin:.5rem 0}.more{margin:1rem 0}";

/// The page's Content-Security-Policy: no script, no frames, nothing loaded but images from
/// the web; the one inline style block is allowed by its hash.
pub fn content_security_policy() -> &'static str {
    static CSP: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    CSP.get_or_init(|| {
        use base64::Engine as _;
        use sha2::Digest as _;
        let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(STYLE));
        format!(
            "default-src 'none'; style-src 'sha256-{hash}'; img-src https: http: data:; \
             base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        )
    })
}

fn when(d: Option<DateTime<Utc>>) -> String {
    d.map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "never".to_owned())
}

/// How many stories one page of `/` shows.
pub const PAGE_SIZE: usize = 50;

/// What the page shows besides the stories and the sources: the time it is rendered at (for
/// "12 min ago"), which page of stories this is (1-based), whether older stories exist, and each
/// feed's tags (for tag links).
#[derive(Clone, Debug)]
pub struct PageContext {
    pub now: DateTime<Utc>,
    pub page: usize,
    pub more: bool,
    /// The tag this page is filtered by (`/?tag=TAG`), if any.
    pub tag: Option<String>,
    /// On `/search`: the query (empty when none was given yet).
    pub query: Option<String>,
    /// The desk's `[[output]]`s as (id, title), linked from the page.
    pub outputs: Vec<(String, String)>,
    pub tags: std::collections::HashMap<String, Vec<String>>,
}

/// "just now", "12 min ago", "3 h ago", "2 days ago".
pub fn relative_time(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - then).num_seconds();
    match secs {
        s if s < 60 => "just now".to_owned(),
        s if s < 3600 => format!("{} min ago", s / 60),
        s if s < 86_400 => format!("{} h ago", s / 3600),
        s if s < 2 * 86_400 => "1 day ago".to_owned(),
        s => format!("{} days ago", s / 86_400),
    }
}

/// The first sentences of `text`, at most `max` characters, cut at a word boundary.
fn lead(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max).collect();
    let end = cut.rfind(char::is_whitespace).unwrap_or(cut.len());
    format!("{}…", cut[..end].trim_end())
}

/// Renders the page: the sources' health summarised at the top, then the latest stories, each
/// with its time (absolute UTC and relative), outlet count, lead text, outlets linked to their
/// own copies and tag links; paging to older stories; the sources' detail table last.
pub fn render_page(
    title: &str,
    stories: &[Story],
    health: &[FeedHealth],
    ctx: &PageContext,
) -> Rendered {
    let mut out = String::with_capacity(4096 + stories.len() * 768);
    let _ = write!(
        out,
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{t}</title><link rel=\"alternate\" type=\"application/atom+xml\" href=\"feed.atom\"><link rel=\"icon\" href=\"data:,\"><style>{STYLE}</style></head><body><h1>{t}</h1><nav><a href=\"feed.atom\">Atom</a><a href=\"feed.rss\">RSS</a><a href=\"feed.json\">JSON Feed</a><a href=\"sources.opml\">Sources (OPML)</a></nav><form class=\"s\" action=\"search\" method=\"get\" role=\"search\"><input name=\"q\" value=\"{q}\" placeholder=\"Search stories\" aria-label=\"Search stories\"><button>Search</button></form>",
        t = text(title),
        q = attr(ctx.query.as_deref().unwrap_or(""))
    );
    if !ctx.outputs.is_empty() {
        out.push_str("<p class=\"outputs\">Desk outputs:");
        for (id, title) in &ctx.outputs {
            let _ = write!(
                out,
                " <a class=\"tag\" href=\"outputs/{}.atom\">{}</a>",
                attr(id),
                text(title)
            );
        }
        out.push_str("</p>");
    }
    write_health_summary(&mut out, health);
    let heading = match ctx.query.as_deref() {
        Some("") => "Search".to_owned(),
        Some(q) => {
            let encoded: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
            format!(
                "Stories matching \u{201c}{}\u{201d} <a class=\"tag\" href=\"search.atom?q={}\">(Atom)</a>{}",
                text(q),
                attr(&encoded),
                if stories.is_empty() && ctx.page == 1 {
                    " — none"
                } else {
                    ""
                }
            )
        }
        None => "Latest stories".to_owned(),
    };
    let _ = write!(
        out,
        "<h2>{heading}{}{}</h2><ol>",
        ctx.tag.as_deref().map_or(String::new(), |t| format!(
            " tagged #{} <a class=\"tag\" href=\"tags/{}.atom\">(Atom)</a> <a class=\"tag\" href=\"./\">(all)</a>",
            text(t),
            attr(t)
        )),
        if ctx.page > 1 {
            format!(" (page {})", ctx.page)
        } else {
            String::new()
        }
    );
    let tag_param = match (ctx.tag.as_deref(), ctx.query.as_deref()) {
        (Some(t), _) => format!("&amp;tag={}", attr(t)),
        (None, Some(q)) if !q.is_empty() => {
            let encoded: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
            format!("&amp;q={}", attr(&encoded))
        }
        _ => String::new(),
    };
    for s in stories {
        write_story(&mut out, s, ctx);
    }
    out.push_str("</ol>");
    if ctx.more || ctx.page > 1 {
        out.push_str("<p class=\"more\">");
        if ctx.page > 1 {
            let _ = write!(
                out,
                "<a href=\"?page={}{tag_param}\">← Newer</a> ",
                ctx.page - 1
            );
        }
        if ctx.more {
            let _ = write!(
                out,
                "<a href=\"?page={}{tag_param}\">Older stories →</a>",
                ctx.page + 1
            );
        }
        out.push_str("</p>");
    }
    write_sources(&mut out, health);
    out.push_str("</body></html>\n");
    Rendered::uncompressed(out, "text/html; charset=utf-8", last_change(stories))
}

/// "12 sources, 1 failing", linking to the detail table.
fn write_health_summary(out: &mut String, health: &[FeedHealth]) {
    let enabled: Vec<&FeedHealth> = health.iter().filter(|h| h.enabled).collect();
    let failing = enabled
        .iter()
        .filter(|h| h.consecutive_failures > 0)
        .count();
    let _ = write!(
        out,
        "<p class=\"health\"><a href=\"#sources\">{} source{}</a>, {}</p>",
        enabled.len(),
        if enabled.len() == 1 { "" } else { "s" },
        if failing == 0 {
            "none failing".to_owned()
        } else {
            format!("<span class=\"bad\">{failing} failing</span>")
        }
    );
}

fn write_story(out: &mut String, s: &Story, ctx: &PageContext) {
    let rep = s.representative();
    let link = rep.link.as_deref().map(redact_url_str).unwrap_or_default();
    let outlets = super::outlet_members(s);
    let count = outlets.len();
    out.push_str("<li>");
    if let Some(img) = super::story_media(s).image {
        // Loaded from the outlet, without telling it which page asked.
        let _ = write!(
            out,
            "<img class=\"th\" src=\"{}\" alt=\"\" loading=\"lazy\" referrerpolicy=\"no-referrer\" width=\"96\" height=\"64\">",
            attr(&redact_url_str(img))
        );
    }
    let _ = write!(
        out,
        "<a class=\"t\" href=\"{}\">{}</a><div class=\"m\"><span class=\"n{}\">{count} outlet{}</span>{} · {}</div>",
        attr(&link),
        text(&rep.title),
        if count > 1 { " many" } else { "" },
        if count == 1 { "" } else { "s" },
        s.published.format("%Y-%m-%d %H:%M UTC"),
        relative_time(s.published, ctx.now)
    );
    let lead_source = if rep.text.trim().is_empty() {
        s.members
            .iter()
            .max_by_key(|m| m.text.chars().count())
            .map_or("", |m| m.text.as_str())
    } else {
        rep.text.as_str()
    };
    if !lead_source.is_empty() {
        let _ = write!(
            out,
            "<p class=\"lead\">{}</p>",
            text(&lead(lead_source, 280))
        );
    }
    out.push_str("<div>");
    for m in &outlets {
        let l = m.link.as_deref().map(redact_url_str).unwrap_or_default();
        let _ = write!(
            out,
            "<a class=\"b\" href=\"{}\">{}</a>",
            attr(&l),
            text(&m.feed_name)
        );
    }
    let mut tags: Vec<&str> = outlets
        .iter()
        .flat_map(|m| ctx.tags.get(&m.feed).into_iter().flatten())
        .map(String::as_str)
        .collect();
    tags.sort_unstable();
    tags.dedup();
    for tag in tags {
        let _ = write!(
            out,
            "<a class=\"tag\" href=\"?tag={}\">#{}</a>",
            attr(tag),
            text(tag)
        );
    }
    out.push_str("</div></li>");
}

fn write_sources(out: &mut String, health: &[FeedHealth]) {
    out.push_str("<h2 id=\"sources\">Sources</h2><table><tr><th>Source</th><th>Last success</th><th>Last error or note</th><th>Next poll</th></tr>");
    for h in health.iter().filter(|h| h.enabled) {
        let err = h.note().unwrap_or_default();
        let class = if h.consecutive_failures > 0 {
            " class=\"bad\""
        } else if !err.is_empty() {
            " class=\"note\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td{class}>{}</td><td>{}</td></tr>",
            text(&h.name),
            when(h.last_success),
            text(&err),
            when(h.next_attempt)
        );
    }
    out.push_str("</table>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn times_read_as_a_desk_reads_them() {
        let now = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
        let ago = |s: i64| relative_time(now - chrono::Duration::seconds(s), now);
        assert_eq!(ago(5), "just now");
        assert_eq!(ago(12 * 60 + 30), "12 min ago");
        assert_eq!(ago(3 * 3600 + 5), "3 h ago");
        assert_eq!(ago(30 * 3600), "1 day ago");
        assert_eq!(ago(5 * 86_400), "5 days ago");
        assert_eq!(ago(-60), "just now", "a date in the future is not negative");
    }

    #[test]
    fn the_lead_is_cut_at_a_word_and_never_inside_a_character() {
        assert_eq!(lead("Short text.", 280), "Short text.");
        assert_eq!(lead("one two three four", 10), "one two…");
        let korean = "북한이 동해상으로 탄도미사일을 발사했다고 합동참모본부가 밝혔다";
        let cut = lead(korean, 12);
        assert!(cut.ends_with('…') && cut.chars().count() <= 13, "{cut}");
    }
}
