//! `/`: a small HTML page of the latest stories with their outlets, and the sources' health.
//! No JavaScript; readable on a phone; everything from feeds escaped.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

use super::{Rendered, last_change};
use crate::normalise::redact_url_str;
use crate::store::{FeedHealth, Story};

const STYLE: &str = "body{font:16px/1.45 system-ui,sans-serif;max-width:60rem;margin:0 auto;padding:1rem;color:#222}\
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}ol{padding:0;list-style:none}\
li{padding:.5rem 0;border-bottom:1px solid #eee}li a.t{font-weight:600;color:#123;text-decoration:none}\
.m{color:#666;font-size:.85rem}.b{display:inline-block;background:#eef;border-radius:.6rem;padding:0 .5rem;margin:.15rem .2rem 0 0;font-size:.8rem;color:#225;text-decoration:none}\
table{border-collapse:collapse;width:100%;font-size:.85rem}td,th{text-align:left;padding:.3rem;border-bottom:1px solid #eee}\
.bad{color:#a00}.note{color:#8a5a00}nav a{margin-right:1rem}";

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

/// Renders the page.
pub fn render_page(title: &str, stories: &[Story], health: &[FeedHealth]) -> Rendered {
    let mut out = String::with_capacity(4096 + stories.len() * 512);
    let _ = write!(
        out,
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{t}</title><link rel=\"alternate\" type=\"application/atom+xml\" href=\"feed.atom\"><style>{STYLE}</style></head><body><h1>{t}</h1><nav><a href=\"feed.atom\">Atom</a><a href=\"feed.rss\">RSS</a><a href=\"feed.json\">JSON Feed</a><a href=\"sources.opml\">Sources (OPML)</a></nav><h2>Latest stories</h2><ol>",
        t = text(title)
    );
    for s in stories {
        let rep = s.representative();
        let link = rep.link.as_deref().map(redact_url_str).unwrap_or_default();
        let _ = write!(
            out,
            "<li><a class=\"t\" href=\"{}\">{}</a><div class=\"m\">{}</div><div>",
            attr(&link),
            text(&rep.title),
            s.published.format("%Y-%m-%d %H:%M UTC")
        );
        for m in super::outlet_members(s) {
            let l = m.link.as_deref().map(redact_url_str).unwrap_or_default();
            let _ = write!(
                out,
                "<a class=\"b\" href=\"{}\">{}</a>",
                attr(&l),
                text(&m.feed_name)
            );
        }
        out.push_str("</div></li>");
    }
    out.push_str("</ol><h2>Sources</h2><table><tr><th>Source</th><th>Last success</th><th>Last error or note</th><th>Next poll</th></tr>");
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
    out.push_str("</table></body></html>\n");
    Rendered::new(out, "text/html; charset=utf-8", last_change(stories))
}
