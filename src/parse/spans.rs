//! An RSS document's `<item>` elements (an Atom one's `<entry>` elements) found by their
//! bytes, so that a re-read feed's items sent exactly as before can be left out of the
//! document before feed-rs reads it (see `parse_feed_skipping`): feed-rs's reading of an
//! unchanged item was most of what a re-read feed cost.
//!
//! An item's entry is a function of its own bytes and of what encloses it: the base URL, and
//! the document up to and including the `<channel …>` tag (the XML declaration, the root's and
//! the channel's namespaces and `xml:base`; for Atom, up to and including the root `<feed …>`
//! tag, or `<PREFIX:feed …>`, whose entries are then `<PREFIX:entry>`). Everything after that
//! tag that is not an item — the channel's title, its `lastBuildDate` — is a sibling of the
//! items, not an ancestor, and is left out of the fingerprint: a feed that stamps its build
//! time on every fetch still has its items recognised.
//!
//! Written by hand: no maintained crate lexes XML and reports byte spans of elements without
//! also decoding them (quick-xml's reader does, but at most of feed-rs's cost, which is what
//! is being saved). This is a lexer, not a parser: it tracks element names, quoted attribute
//! values, CDATA sections, comments and processing instructions, so that a `</item>` inside
//! any of them is never taken for the end of an item, and gives up (`None`) on anything it is
//! unsure of — a document type with an internal subset, a self-closing or nested item, an item
//! outside the channel (RSS 2.0) or the root (RSS 1.0, Atom), a second channel, nesting deeper
//! than [`MAX_DEPTH`], mismatched or unclosed tags. Giving up only means the whole document is
//! read as before.

use std::hash::BuildHasher;
use std::ops::Range;

use memchr::memmem;

/// The items of a document and their fingerprints.
#[derive(Debug)]
pub struct ItemScan {
    /// Each `<item …>…</item>` (Atom: `<entry …>…</entry>`), in document order, the end tag
    /// included.
    pub spans: Vec<Range<usize>>,
    /// Per span, a fingerprint of its bytes, the enclosing document's start and the base URL.
    pub raws: Vec<u64>,
}

/// The hasher of item bytes: fast on long input, and fixed (the fingerprints are compared
/// only within one process's memory). A collision needs the feed's own crafting and would only
/// leave one of that feed's items unread.
const HASHER: foldhash::quality::FixedState =
    foldhash::quality::FixedState::with_seed(0x77_69_72_65_64_65_73_6b);

/// Deeper than this, a document is not lexed (its open elements are kept on a stack: a hostile
/// document of nothing but open tags would otherwise hold a slice for each).
const MAX_DEPTH: usize = 256;

/// The items of `text` (an RSS 0.9x/2.0 or 1.0 document, or an Atom one, as
/// `older_formats_as_current` states it), or `None` when the document is not one whose items
/// this lexer can delimit exactly (see the module docs).
pub fn scan(text: &str, base: Option<&str>) -> Option<ItemScan> {
    let b = text.as_bytes();
    let mut stack: Vec<&[u8]> = Vec::new();
    // RSS: `<item>` under the one `<channel>` (2.0) or beside it under the root (1.0), the
    // context up to the channel's tag. Atom: `<entry>` under the root `<feed>`, the context up
    // to the root's tag; `atom` holds the root's prefix (`atom:` for `<atom:feed>`, empty when
    // it has none), which its entries share.
    let mut atom: Option<&[u8]> = None;
    let mut context_end = None;
    let mut item_start = None;
    let mut spans = Vec::new();
    let mut i = 0;
    while let Some(lt) = memchr::memchr(b'<', &b[i..]) {
        let p = i + lt;
        let rest = &b[p..];
        if rest.starts_with(b"<!--") {
            i = p + 4 + memmem::find(&rest[4..], b"-->")? + 3;
        } else if rest.starts_with(b"<![CDATA[") {
            i = p + 9 + memmem::find(&rest[9..], b"]]>")? + 3;
        } else if rest.starts_with(b"<?") {
            i = p + 2 + memmem::find(&rest[2..], b"?>")? + 2;
        } else if rest.starts_with(b"<!") {
            // A document type before the root; one with an internal subset may declare
            // entities or hide markup: not read here.
            let gt = memchr::memchr(b'>', rest)?;
            if !stack.is_empty() || rest[..gt].contains(&b'[') {
                return None;
            }
            i = p + gt + 1;
        } else if rest.starts_with(b"</") {
            let gt = memchr::memchr(b'>', rest)?;
            let name = rest[2..gt].trim_ascii_end();
            if stack.pop()? != name {
                return None;
            }
            i = p + gt + 1;
            if is_item(name, atom) {
                spans.push(item_start.take()?..i);
            }
        } else {
            let name_len = rest[1..]
                .iter()
                .position(|c| c.is_ascii_whitespace() || matches!(c, b'/' | b'>'))?;
            let name = &rest[1..1 + name_len];
            if name.is_empty() {
                return None;
            }
            let gt = 1 + name_len + tag_end(&rest[1 + name_len..])?;
            let self_closing = rest[gt - 1] == b'/';
            if stack.is_empty()
                && context_end.is_none()
                && let Some(prefix) = atom_prefix(name)
            {
                atom = Some(prefix);
                context_end = Some(p + gt + 1);
            } else if is_item(name, atom) {
                let parent_ok = if atom.is_some() {
                    stack.len() == 1
                } else {
                    stack.last() == Some(&b"channel".as_slice())
                        || (stack.len() == 1 && stack[0].ends_with(b"RDF"))
                };
                if self_closing || item_start.is_some() || context_end.is_none() || !parent_ok {
                    return None;
                }
                item_start = Some(p);
            } else if name == b"channel" && atom.is_none() {
                // feed-rs reads the first channel only.
                if context_end.is_some() {
                    return None;
                }
                context_end = Some(p + gt + 1);
            }
            if !self_closing {
                if stack.len() >= MAX_DEPTH {
                    return None;
                }
                stack.push(name);
            }
            i = p + gt + 1;
        }
    }
    if !stack.is_empty() || item_start.is_some() {
        return None;
    }
    let context = HASHER.hash_one((base, &b[..context_end?]));
    let raws = spans
        .iter()
        .map(|s| HASHER.hash_one((context, &b[s.clone()])))
        .collect();
    Some(ItemScan { spans, raws })
}

/// Whether `name` is the element an entry is read from: RSS's `item`; Atom's `entry`, with the
/// root's prefix (`prefix` holds it and its colon, or nothing).
fn is_item(name: &[u8], atom: Option<&[u8]>) -> bool {
    match atom {
        None => name == b"item",
        Some(prefix) => name.strip_prefix(prefix) == Some(b"entry".as_slice()),
    }
}

/// When `name` is Atom's root, `feed` or `PREFIX:feed`: its prefix with the colon (or
/// nothing). A name with two colons is no namespaced name, and not taken for one.
fn atom_prefix(name: &[u8]) -> Option<&[u8]> {
    if name == b"feed" {
        return Some(b"");
    }
    let prefix = name.strip_suffix(b":feed")?;
    (!prefix.is_empty() && !prefix.contains(&b':')).then(|| &name[..=prefix.len()])
}

/// Where the start tag whose attributes begin `attrs` ends: the index in `attrs` of its `>`,
/// past quoted attribute values (which may hold `>` and `/`).
fn tag_end(attrs: &[u8]) -> Option<usize> {
    let mut j = 0;
    loop {
        match attrs.get(j)? {
            b'>' => return Some(j),
            q @ (b'"' | b'\'') => j += 1 + memchr::memchr(*q, &attrs[j + 1..])? + 1,
            b'<' => return None,
            _ => j += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(text: &str) -> Option<Vec<&str>> {
        let scan = scan(text, None)?;
        Some(scan.spans.iter().map(|s| &text[s.clone()]).collect())
    }

    #[test]
    fn items_are_found_whole_past_what_looks_like_their_end() {
        let doc = r#"<?xml version="1.0"?><!DOCTYPE rss><rss version="2.0" xmlns:x="u"><channel>
<title>T</title><!-- <item></item> -->
<item a="x>y" b='</item>'><title>One</title><description><![CDATA[</item> <item>]]></description></item>
<item><x:y/><?pi </item> ?></item></channel></rss>"#;
        let found = items(doc).unwrap();
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("<item a=") && found[0].ends_with("]]></description></item>"));
        assert_eq!(found[1], "<item><x:y/><?pi </item> ?></item>");
        // RSS 1.0: items beside the channel, under the root.
        let rdf = r#"<rdf:RDF xmlns:rdf="r" xmlns="http://purl.org/rss/1.0/"><channel rdf:about="c"></channel><item rdf:about="1"><title>A</title></item></rdf:RDF>"#;
        assert_eq!(items(rdf).unwrap().len(), 1);
        // Atom: entries under the root; an `<item>` there is nothing.
        let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><item/><entry><title>A</title><source><title>S</title></source></entry><entry><id>2</id></entry></feed>"#;
        assert_eq!(
            items(atom).unwrap(),
            [
                "<entry><title>A</title><source><title>S</title></source></entry>",
                "<entry><id>2</id></entry>"
            ]
        );
        // Atom with a prefix: the entries named with the root's; others are not entries.
        let prefixed = r#"<a:feed xmlns:a="http://www.w3.org/2005/Atom"><a:title>T</a:title><entry/><b:entry/><a:entry><a:id>1</a:id><!-- </a:entry> --></a:entry></a:feed>"#;
        assert_eq!(
            items(prefixed).unwrap(),
            ["<a:entry><a:id>1</a:id><!-- </a:entry> --></a:entry>"]
        );
        assert_eq!(atom_prefix(b"feed"), Some(b"".as_slice()));
        assert_eq!(atom_prefix(b"atom:feed"), Some(b"atom:".as_slice()));
        for no in [&b"x:y:feed"[..], b":feed", b"feeds", b"xfeed"] {
            assert_eq!(atom_prefix(no), None, "{}", String::from_utf8_lossy(no));
        }
    }

    #[test]
    fn documents_it_cannot_delimit_exactly_are_given_up() {
        for doc in [
            // Unclosed, mismatched, nested, self-closing, outside the channel, before it.
            "<rss><channel><item><title>x</title></channel></rss>",
            "<rss><channel><item><title>x</item></title></channel></rss>",
            "<rss><channel><item><item></item></item></channel></rss>",
            "<rss><channel><item/></channel></rss>",
            "<rss><channel><x><item></item></x></channel></rss>",
            "<rss><item></item><channel></channel></rss>",
            // An internal subset may declare entities; a CDATA section never closed.
            "<!DOCTYPE rss [<!ENTITY e \"</item>\">]><rss><channel><item></item></channel></rss>",
            "<rss><channel><item><![CDATA[</item></channel></rss>",
            // No channel at all; two channels (feed-rs reads the first).
            "<rss><item></item></rss>",
            "<rss><channel></channel><channel><item></item></channel></rss>",
            // An Atom entry nested, or under another element.
            "<feed><entry><entry></entry></entry></feed>",
            "<feed><x><entry></entry></x></feed>",
            "<a:feed><a:entry><a:entry></a:entry></a:entry></a:feed>",
            "<a:feed><a:entry></entry></a:feed>",
        ] {
            assert!(items(doc).is_none(), "{doc}");
        }
        assert_eq!(items("<rss><channel></channel></rss>").unwrap().len(), 0);
        // Nesting past the bound is given up, whatever follows.
        let deep = format!(
            "<rss><channel><item>{}{}</item></channel></rss>",
            "<x>".repeat(MAX_DEPTH),
            "</x>".repeat(MAX_DEPTH)
        );
        assert!(items(&deep).is_none());
        let shallow = deep.replacen("<x>", "", 4).replacen("</x>", "", 4);
        assert_eq!(items(&shallow).unwrap().len(), 1);
    }

    #[test]
    fn fingerprints_change_with_the_item_its_ancestors_and_the_base_not_its_siblings() {
        let doc = |ns: &str, built: &str, title: &str| {
            format!(
                "<rss xmlns:d=\"{ns}\"><channel><lastBuildDate>{built}</lastBuildDate>\
                 <item><title>{title}</title></item></channel></rss>"
            )
        };
        let raw = |text: &str, base: Option<&str>| scan(text, base).unwrap().raws[0];
        let first = raw(&doc("u", "Mon", "A"), Some("https://e.com/"));
        assert_eq!(first, raw(&doc("u", "Tue", "A"), Some("https://e.com/")));
        assert_ne!(first, raw(&doc("v", "Mon", "A"), Some("https://e.com/")));
        assert_ne!(first, raw(&doc("u", "Mon", "B"), Some("https://e.com/")));
        assert_ne!(first, raw(&doc("u", "Mon", "A"), Some("https://f.com/")));
        assert_ne!(first, raw(&doc("u", "Mon", "A"), None));
    }
}
