//! OPML 2.0 (<http://opml.org/spec2.opml>) of the configured sources, so that a reader can
//! subscribe to them one by one. Feed URLs are shown without credentials or secret parameters.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::{Rendered, xml_escape};
use crate::config::Config;
use crate::normalise::redact_url;

/// Renders the sources of `config` as OPML.
pub fn render_opml(config: &Config, changed: DateTime<Utc>) -> Rendered {
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<opml version=\"2.0\">\n");
    let _ = writeln!(
        out,
        "  <head><title>{} sources</title></head>\n  <body>",
        xml_escape(&config.server.title)
    );
    for f in config.enabled_feeds() {
        let _ = writeln!(
            out,
            "    <outline type=\"rss\" text=\"{name}\" title=\"{name}\" xmlUrl=\"{url}\" category=\"{tags}\"/>",
            name = xml_escape(&f.name),
            url = xml_escape(&redact_url(&f.url)),
            tags = xml_escape(&f.tags.join(","))
        );
    }
    if !config.outputs.is_empty() {
        out.push_str("    <outline text=\"Desk outputs\" title=\"Desk outputs\">\n");
        for o in &config.outputs {
            let url = config
                .server
                .base_url
                .join(&format!("outputs/{}.atom", o.id))
                .map(|u| u.to_string())
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "      <outline type=\"rss\" text=\"{t}\" title=\"{t}\" xmlUrl=\"{}\"/>",
                xml_escape(&url),
                t = xml_escape(&o.title)
            );
        }
        out.push_str("    </outline>\n");
    }
    out.push_str("  </body>\n</opml>\n");
    Rendered::new(out, "text/x-opml; charset=utf-8", changed)
}
