//! Feed bytes → [`Entry`] values. The only module that talks to feed-rs.
//!
//! feed-rs invents a random id for an entry with no guid and no link; we register an id
//! generator that returns the empty string instead and derive our own stable key: the guid/id,
//! else the link, else a hash of title and date.

mod jsonfeed;
mod spans;

use std::borrow::Cow;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use memchr::memmem::Finder;
use url::Url;

use crate::model::hex_digest;
use crate::normalise::{canonical_url, clamp_date, html_to_text, repair_text, sanitise_html};

/// How much plain text of an entry is kept for matching.
const MAX_TEXT_CHARS: usize = 4000;
/// The longest title kept, in bytes (cut at a character boundary). Readers built on libxml2
/// refuse text nodes of many megabytes, and no headline needs more.
pub const MAX_TITLE_BYTES: usize = 1024;
/// The longest summary or content read from an entry, in bytes, before it is sanitised and
/// turned into text: bounds the work and the stored size of one hostile entry.
pub const MAX_SUMMARY_BYTES: usize = 64 * 1024;
/// The longest entry key kept as it is; a longer guid or link is keyed by its hash.
const MAX_KEY_BYTES: usize = 512;
/// The longest link kept; a longer one is dropped (no real article URL is this long).
const MAX_LINK_BYTES: usize = 4096;
/// How deeply nested the summary HTML handed to the sanitiser may be; tags deeper than this
/// are dropped (their text kept), so that tens of thousands of unclosed `<div>`s cost a linear
/// scan rather than a quadratic tree build.
const MAX_HTML_DEPTH: usize = 64;

/// Bounds on what one parse keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most entries kept (newest first); see `[poll] max_items`.
    pub max_items: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_items: crate::config::DEFAULT_MAX_ITEMS,
        }
    }
}

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
    /// Its enclosure, image and categories (not part of `content_hash`: a change of these
    /// alone is not a new revision).
    pub media: Media,
}

/// What an entry carries besides its text, republished with its story.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Media {
    /// The representative enclosure (audio, video, image, document).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enclosure: Option<Enclosure>,
    /// An image for the entry (Media RSS thumbnail or image content, an image enclosure,
    /// JSON Feed's `image`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The entry's own categories, as given (bounded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
}

impl Media {
    pub fn is_empty(&self) -> bool {
        self.enclosure.is_none() && self.image.is_none() && self.categories.is_empty()
    }
}

/// An enclosure: an absolute http(s) URL, with the type and length the feed gave.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Enclosure {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
}

/// At most this many categories are kept per entry…
pub const MAX_CATEGORIES: usize = 16;
/// …each at most this long.
pub const MAX_CATEGORY_BYTES: usize = 100;

/// A parsed feed.
#[derive(Clone, Debug)]
pub struct ParsedFeed {
    pub title: Option<String>,
    pub entries: Vec<Entry>,
    /// The feed was not well-formed and was read after repair (see [`repair`]); the first
    /// parse error is kept here for the feed's status.
    pub recovered: Option<String>,
    /// The charset the body was decoded from.
    pub encoding: &'static str,
    /// Some bytes were not valid in that charset and became U+FFFD.
    pub undecodable_bytes: bool,
    /// Nothing declared the charset and the bytes are not UTF-8: it was guessed.
    pub charset_guessed: bool,
    /// A declared charset wiredesk does not know (the body was read as `encoding`).
    pub unknown_charset: Option<String>,
    /// Entries left out because the feed had more than [`Limits::max_items`] (the oldest).
    pub items_left_out: usize,
    /// A fingerprint of every entry kept (as the feed sent it, before any conversion), in the
    /// feed's order: what [`parse_feed_skipping`] is given back on the next refresh.
    pub fingerprints: Vec<u64>,
    /// Entries not converted because their fingerprint was known (see [`parse_feed_skipping`]).
    pub skipped_known: usize,
    /// Of those, items (RSS `<item>`, Atom `<entry>`) known by their bytes and not even read
    /// (see [`parse_feed_skipping`]).
    pub unread_known: usize,
    /// Per item, its bytes' fingerprint and what they stood for, in the feed's order; empty
    /// when the document's items could not be told by their bytes (see [`Known::new`]).
    pub items: Vec<(u64, ItemMemo)>,
    /// The WebSub hub and topic (`rel="hub"` and `rel="self"` links, Atom or `atom:link` in
    /// RSS) when the feed names both, as http(s) URLs.
    pub websub: Option<WebSubLinks>,
}

/// Where a feed says it is pushed from: its hub, and its own URL (the topic).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebSubLinks {
    pub hub: String,
    pub topic: String,
}

/// The hub and self links of a feed, if it names both (the first of each).
fn websub_links(links: &[feed_rs::model::Link]) -> Option<WebSubLinks> {
    let find = |rel: &str| {
        links
            .iter()
            .filter(|l| {
                l.rel
                    .as_deref()
                    .is_some_and(|r| r.split_whitespace().any(|r| r.eq_ignore_ascii_case(rel)))
            })
            .map(|l| l.href.trim())
            .find(|h| h.len() <= MAX_LINK_BYTES && is_web_link(h))
            .map(str::to_owned)
    };
    Some(WebSubLinks {
        hub: find("hub")?,
        topic: find("self")?,
    })
}

/// The WebSub hub and topic a response's `Link` headers name (`<URL>; rel="hub"` and
/// `rel="self"`, RFC 8288), relative targets resolved against `base`; `None` unless both are
/// there as http(s) URLs. The WebSub spec has subscribers look at these before the document.
pub fn websub_links_from_headers(values: &[String], base: &Url) -> Option<WebSubLinks> {
    let links: Vec<(String, String)> = values.iter().flat_map(|v| link_header(v)).collect();
    let find = |rel: &str| {
        links
            .iter()
            .filter(|(_, rels)| rels.split_whitespace().any(|r| r.eq_ignore_ascii_case(rel)))
            .filter_map(|(target, _)| base.join(target.trim()).ok())
            .map(String::from)
            .find(|h| h.len() <= MAX_LINK_BYTES && is_web_link(h))
    };
    Some(WebSubLinks {
        hub: find("hub")?,
        topic: find("self")?,
    })
}

/// The links of one `Link` header value, as (target, rel): `<target>; rel="a b"; x=y, <…>`.
/// Written here because the grammar needed is this small (a target in angle brackets, then
/// `;`-separated parameters whose values may be quoted, links separated by commas outside
/// brackets and quotes); a link without `rel` has an empty one, and anything unreadable ends
/// the value's reading with what was read so far.
fn link_header(value: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        let Some(after) = rest.strip_prefix('<') else {
            return out;
        };
        let Some(end) = after.find('>') else {
            return out;
        };
        let target = &after[..end];
        rest = &after[end + 1..];
        let mut rel = String::new();
        // Parameters up to the next comma outside quotes.
        loop {
            rest = rest.trim_start_matches([' ', '\t']);
            let Some(params) = rest.strip_prefix(';') else {
                break;
            };
            rest = params.trim_start_matches([' ', '\t']);
            let name_end = rest.find(['=', ';', ',']).unwrap_or(rest.len());
            let name = rest[..name_end].trim();
            rest = &rest[name_end..];
            let mut param = "";
            if let Some(v) = rest.strip_prefix('=') {
                let v = v.trim_start_matches([' ', '\t']);
                if let Some(quoted) = v.strip_prefix('"') {
                    let close = quoted.find('"').unwrap_or(quoted.len());
                    param = &quoted[..close];
                    rest = quoted.get(close + 1..).unwrap_or("");
                } else {
                    let end = v.find([';', ',']).unwrap_or(v.len());
                    param = v[..end].trim();
                    rest = &v[end..];
                }
            }
            if name.eq_ignore_ascii_case("rel") && rel.is_empty() {
                rel = param.to_owned();
            }
        }
        out.push((target.to_owned(), rel));
        if !rest.starts_with(',') {
            return out;
        }
    }
}

/// Why a body could not be read as a feed.
#[derive(Debug, thiserror::Error)]
#[error("not a readable feed: {0}")]
pub struct ParseError(pub String);

/// Parses raw feed bytes as served: `content_type` is the HTTP header (for its charset),
/// `base` resolves relative links, `now` clamps far-future dates. A feed that is not
/// well-formed is repaired and read as far as possible (and marked `recovered`).
pub fn parse_feed(
    bytes: &[u8],
    content_type: Option<&str>,
    base: Option<&Url>,
    now: DateTime<Utc>,
) -> Result<ParsedFeed, ParseError> {
    parse_feed_limited(bytes, content_type, base, now, Limits::default())
}

/// [`parse_feed`] with explicit [`Limits`]: of a feed with more entries than
/// `limits.max_items`, the newest are kept (by their own date; undated ones count as new) and
/// the number left out is reported.
pub fn parse_feed_limited(
    bytes: &[u8],
    content_type: Option<&str>,
    base: Option<&Url>,
    now: DateTime<Utc>,
    limits: Limits,
) -> Result<ParsedFeed, ParseError> {
    parse_feed_skipping(bytes, content_type, base, now, limits, &Known::default())
}

/// What a feed's last stored fetch leaves for recognising its entries on the next read (see
/// [`parse_feed_skipping`]): the fingerprint of every entry as the feed sent it, and of each
/// item (RSS `<item>`, Atom `<entry>`), what its bytes stood for.
#[derive(Clone, Debug, Default)]
pub struct Known {
    entries: std::collections::HashSet<u64>,
    /// By the item's byte fingerprint (`spans::scan`), sorted: a feed's few dozen items take
    /// 32 bytes each, searched by halves.
    items: Box<[(u64, ItemMemo)]>,
}

/// What an item's bytes stood for when it was last read: its entry's fingerprint, and
/// what `shared_ids` needs of it (its id's and title's hashes; the id's 0 when it had none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ItemMemo {
    fingerprint: u64,
    id: u64,
    title: u64,
}

impl Known {
    /// What to remember of a fetch: its [`ParsedFeed::fingerprints`] and [`ParsedFeed::items`].
    pub fn new(fingerprints: &[u64], items: &[(u64, ItemMemo)]) -> Known {
        let mut entries: std::collections::HashSet<u64> = fingerprints.iter().copied().collect();
        entries.extend(items.iter().map(|(_, m)| m.fingerprint));
        let mut items = items.to_vec();
        items.sort_unstable_by_key(|(raw, _)| *raw);
        items.dedup_by_key(|(raw, _)| *raw);
        Known {
            entries,
            items: items.into_boxed_slice(),
        }
    }

    /// Nothing known (after a start, or once a feed is forgotten).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.items.is_empty()
    }

    /// An item sent before, by its bytes' fingerprint.
    fn item(&self, raw: u64) -> Option<ItemMemo> {
        let i = self.items.binary_search_by_key(&raw, |(r, _)| *r).ok()?;
        Some(self.items[i].1)
    }
}

/// [`parse_feed_limited`] that leaves out the entries of the feed's last stored fetch that are
/// sent exactly as before (`known`): such an entry converts to exactly the entry stored before,
/// which the store would only find unchanged. Converting (sanitising with ammonia, text
/// extraction, hashing) was most of a re-read feed's cost, and once that was spared, feed-rs's
/// own reading: an RSS item or Atom entry whose bytes (in the same enclosing document start, see
/// `spans`) were read before is cut out of the document before feed-rs sees it. The result
/// is the same as reading everything and skipping by entry fingerprint (a property test holds
/// the two to each other); when the shortened document does not read cleanly, the whole one is
/// read instead.
pub fn parse_feed_skipping(
    bytes: &[u8],
    content_type: Option<&str>,
    base: Option<&Url>,
    now: DateTime<Utc>,
    limits: Limits,
    known: &Known,
) -> Result<ParsedFeed, ParseError> {
    let decoded = crate::charset::to_utf8(bytes, content_type);
    let text = older_formats_as_current(&decoded.text);
    let scan = spans::scan(&text, base.map(Url::as_str));
    if let Some(scan) = &scan
        && let Some((feed, slots)) = read_unknown_items(&text, scan, base, known, limits)
    {
        return Ok(finish(feed, slots, None, 0, &decoded, base, now, known));
    }
    let (mut feed, recovered) = match read(text.as_bytes(), base) {
        Ok(feed) => (feed, None),
        Err(first) => {
            let repaired = repair(&text);
            let salvaged = || {
                let doc = salvage(&text)?;
                read(doc.as_bytes(), base)
                    .or_else(|_| read(repair(&doc).as_bytes(), base))
                    .ok()
            };
            match read(repaired.as_bytes(), base) {
                Ok(feed) => (feed, Some(first)),
                Err(_) => match salvaged() {
                    Some(feed) => (feed, Some(first)),
                    None => return Err(ParseError(first)),
                },
            }
        }
    };
    // An item's bytes stand for its entry when the document read cleanly and every item
    // became an entry, in order.
    let raws = scan
        .filter(|s| recovered.is_none() && s.raws.len() == feed.entries.len())
        .map(|s| s.raws);
    let (kept, items_left_out) = newest(std::mem::take(&mut feed.entries), limits.max_items);
    let raws = raws.filter(|_| items_left_out == 0);
    let slots = match raws {
        Some(raws) => kept
            .into_iter()
            .zip(raws)
            .map(|(e, raw)| Slot::Read(e, Some(raw)))
            .collect(),
        None => kept.into_iter().map(|e| Slot::Read(e, None)).collect(),
    };
    Ok(finish(
        feed,
        slots,
        recovered,
        items_left_out,
        &decoded,
        base,
        now,
        known,
    ))
}

/// One entry of a document in [`parse_feed_skipping`]: read by feed-rs (with its item's byte
/// fingerprint when its bytes stand for it), or an item known by its bytes and not read.
/// The slots take the place of feed-rs's own `Vec<Entry>`, one for one, so their size is its:
/// boxing the entry would add an allocation per entry.
#[allow(clippy::large_enum_variant)]
enum Slot {
    Read(feed_rs::model::Entry, Option<u64>),
    Known(u64, ItemMemo),
}

/// The document without its known items, read: the feed and its entries in document order,
/// the known ones as [`Slot::Known`]. `None` (read the whole document instead) when no item
/// is known, when the document has more items than are kept (which are kept depends on all
/// their dates), or when the shortened document does not read cleanly into one entry per
/// remaining item.
fn read_unknown_items(
    text: &str,
    scan: &spans::ItemScan,
    base: Option<&Url>,
    known: &Known,
    limits: Limits,
) -> Option<(feed_rs::model::Feed, Vec<Slot>)> {
    if known.items.is_empty() || scan.spans.len() > limits.max_items {
        return None;
    }
    let memos: Vec<Option<ItemMemo>> = scan.raws.iter().map(|r| known.item(*r)).collect();
    if memos.iter().all(Option::is_none) {
        return None;
    }
    let mut cut = String::with_capacity(text.len());
    let mut copied = 0;
    for (span, memo) in scan.spans.iter().zip(&memos) {
        if memo.is_some() {
            cut.push_str(&text[copied..span.start]);
            copied = span.end;
        }
    }
    cut.push_str(&text[copied..]);
    let mut feed = read(cut.as_bytes(), base).ok()?;
    let unknown = memos.iter().filter(|m| m.is_none()).count();
    if feed.entries.len() != unknown {
        return None;
    }
    let mut read = std::mem::take(&mut feed.entries).into_iter();
    let slots = scan
        .raws
        .iter()
        .zip(memos)
        .map(|(raw, memo)| match memo {
            Some(memo) => Some(Slot::Known(*raw, memo)),
            None => read.next().map(|e| Slot::Read(e, Some(*raw))),
        })
        .collect::<Option<Vec<Slot>>>()?;
    Some((feed, slots))
}

/// The entries of a read document converted (those known skipped), and the feed around them.
#[allow(clippy::too_many_arguments)]
fn finish(
    feed: feed_rs::model::Feed,
    slots: Vec<Slot>,
    recovered: Option<String>,
    items_left_out: usize,
    decoded: &crate::charset::Decoded,
    base: Option<&Url>,
    now: DateTime<Utc>,
    known: &Known,
) -> ParsedFeed {
    // Each entry's id and title hashes, once: for the shared-id rule over all of them, and
    // for the memo of each item read.
    let keys: Vec<(u64, u64)> = slots
        .iter()
        .map(|s| match s {
            Slot::Read(e, _) => (id_hash(e), title_hash(e)),
            Slot::Known(_, m) => (m.id, m.title),
        })
        .collect();
    let shared = shared_ids(&keys);
    let mut seen = std::collections::HashSet::new();
    let mut entries = Vec::with_capacity(slots.len());
    let mut fingerprints = Vec::with_capacity(slots.len());
    let mut items = Vec::with_capacity(slots.len());
    let mut skipped_known = 0;
    let mut unread_known = 0;
    for (slot, &(id, title)) in slots.into_iter().zip(&keys) {
        let (e, raw) = match slot {
            Slot::Known(raw, memo) => {
                fingerprints.push(memo.fingerprint);
                items.push((raw, memo));
                skipped_known += 1;
                unread_known += 1;
                continue;
            }
            Slot::Read(e, raw) => (e, raw),
        };
        let fingerprint = entry_fingerprint(&e, base);
        fingerprints.push(fingerprint);
        if let Some(raw) = raw {
            items.push((
                raw,
                ItemMemo {
                    fingerprint,
                    id,
                    title,
                },
            ));
        }
        if known.entries.contains(&fingerprint) {
            skipped_known += 1;
            continue;
        }
        // Several entries of this document carry this id with different titles (a CMS that
        // gives every item its section URL as guid): the id names none of them, so each is told
        // apart by its title. The same every fetch while the feed does it.
        let title_digest = shared.contains(&id).then(|| {
            let title = e.title.as_ref().map_or("", |t| t.content.as_str());
            crate::model::hex_digest(&[title])
        });
        let mut entry = convert(e, base, now);
        if let Some(digest) = title_digest {
            entry.key = bounded_key(format!("{} #{digest}", entry.key));
        }
        if entry.title.is_empty()
            && entry.text.is_empty()
            && entry.summary_html.is_empty()
            && entry.link.is_none()
            && entry.media.enclosure.is_none()
        {
            continue;
        }
        if seen.insert(entry.key.clone()) {
            entries.push(entry);
        }
    }
    ParsedFeed {
        websub: websub_links(&feed.links),
        title: feed.title.map(|t| title_text(&t.content)),
        entries,
        items_left_out,
        recovered,
        encoding: decoded.encoding,
        undecodable_bytes: decoded.had_errors,
        charset_guessed: decoded.source == crate::charset::Source::Guessed,
        unknown_charset: decoded.unknown_charset.clone(),
        fingerprints,
        items,
        skipped_known,
        unread_known,
    }
}

/// What an entry's key is made from before conversion: its id, else its first link.
fn raw_id(e: &feed_rs::model::Entry) -> &str {
    let id = e.id.trim();
    if id.is_empty() {
        e.links.first().map(|l| l.href.trim()).unwrap_or_default()
    } else {
        id
    }
}

/// A hash of [`raw_id`], 0 when there is none.
fn id_hash(e: &feed_rs::model::Entry) -> u64 {
    let id = raw_id(e);
    if id.is_empty() {
        return 0;
    }
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::with_seed(1)
        .hash_one(id)
        .max(1)
}

/// A hash of an entry's title as [`shared_ids`] compares it (absent and empty differ).
fn title_hash(e: &feed_rs::model::Entry) -> u64 {
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::with_seed(2)
        .hash_one(e.title.as_ref().map(|t| t.content.as_str()))
}

/// The ids (or, without ids, links) that several entries of one document share while their
/// titles differ: not identifiers at all. Given each entry's [`id_hash`] and [`title_hash`];
/// gives the shared ids' hashes. Looked for over every entry, those skipped as unchanged too,
/// so that an entry's key does not depend on which others were converted.
fn shared_ids(entries: &[(u64, u64)]) -> std::collections::HashSet<u64> {
    let mut first_title = std::collections::HashMap::new();
    let mut shared = std::collections::HashSet::new();
    for &(id, title) in entries {
        if id == 0 {
            continue;
        }
        match first_title.get(&id) {
            None => {
                first_title.insert(id, title);
            }
            Some(t) if *t != title => {
                shared.insert(id);
            }
            Some(_) => {}
        }
    }
    shared
}

/// A fingerprint of everything [`convert`] reads from an entry (and the base URL it resolves
/// links against), for [`parse_feed_skipping`]. In memory only, so any stable hash will do.
fn entry_fingerprint(e: &feed_rs::model::Entry, base: Option<&Url>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    base.map(Url::as_str).hash(&mut h);
    e.id.hash(&mut h);
    e.title.as_ref().map(|t| &t.content).hash(&mut h);
    e.summary.as_ref().map(|t| &t.content).hash(&mut h);
    e.content.as_ref().map(|c| &c.body).hash(&mut h);
    for l in &e.links {
        (&l.href, &l.rel).hash(&mut h);
    }
    e.published.hash(&mut h);
    e.updated.hash(&mut h);
    h.finish()
}

/// At most `max` of `entries`, the newest by their own date (undated entries count as
/// newest: they are first seen now), in the feed's order; and how many were left out.
fn newest(
    mut entries: Vec<feed_rs::model::Entry>,
    max: usize,
) -> (Vec<feed_rs::model::Entry>, usize) {
    if entries.len() <= max {
        return (entries, 0);
    }
    let left_out = entries.len() - max;
    let mut order: Vec<(usize, Option<DateTime<Utc>>)> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (i, e.published.or(e.updated)))
        .collect();
    // Newest first (None sorts as newest), ties in the feed's order.
    order.sort_by(|a, b| match (a.1, b.1) {
        (None, None) => a.0.cmp(&b.0),
        (None, Some(_)) => std::cmp::Ordering::Less,
        (Some(_), None) => std::cmp::Ordering::Greater,
        (Some(x), Some(y)) => y.cmp(&x).then(a.0.cmp(&b.0)),
    });
    let mut keep = vec![false; entries.len()];
    for (i, _) in order.into_iter().take(max) {
        keep[i] = true;
    }
    let mut i = 0;
    entries.retain(|_| {
        i += 1;
        keep[i - 1]
    });
    (entries, left_out)
}

/// `s` cut to at most `max` bytes, at a character boundary of `s` itself.
pub fn truncate_on_char_boundary(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A title as plain text: raw input bounded first (so a 20 MB title costs no more than a
/// long one), repaired, tags stripped, then cut to [`MAX_TITLE_BYTES`].
fn title_text(raw: &str) -> String {
    let raw = truncate_on_char_boundary(raw, MAX_SUMMARY_BYTES);
    let text = html_to_text(&repair_text(raw));
    truncate_on_char_boundary(&text, MAX_TITLE_BYTES)
        .trim_end()
        .to_owned()
}

/// A key short enough to index: as given when it fits [`MAX_KEY_BYTES`], else its hash.
fn bounded_key(key: String) -> String {
    if key.len() <= MAX_KEY_BYTES {
        key
    } else {
        format!("sha256:{}", hex_digest(&[&key]))
    }
}

/// Only http(s) links leave wiredesk: `javascript:`, `data:`, `vbscript:`, `file:` and the
/// like are dropped (an entry without a link is linked to another member, or to nothing).
pub fn is_web_link(link: &str) -> bool {
    Url::parse(link).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
}

/// Older feed formats that feed-rs does not recognise, stated as the current ones they are
/// read as (a lenient reader's job, not a repair: the feed is well-formed):
/// - an `<rss>` root whose `version` is missing or not one feed-rs knows ("2.00", "0.94",
///   "2.0.1"…) is read as RSS 2.0, which is a superset of every RSS 0.9x;
/// - Atom 0.3 (`xmlns="http://purl.org/atom/ns#"`) is read as Atom 1.0 (same element names for
///   title, link, id, entry, summary and content);
/// - RSS 0.90 (`http://my.netscape.com/rdf/simple/0.9/`) is read as RSS 1.0;
/// - RSS 2.0 given a default namespace by old Userland/Harvard tools (RSS 2.0 has none) loses
///   it, or feed-rs would see none of its elements;
/// - JSON Feed of any 1.x version, with fields of the wrong shape, as JSON Feed 1.1 with
///   those fields coerced or dropped (see [`jsonfeed`]);
/// - Atom text constructs typed with Atom 0.3's MIME types (`type="text/plain"`,
///   `"application/xhtml+xml"`), an empty type, or any other type outside `content` (a custom
///   MIME type, `application/octet-stream`) get the Atom 1.0 names (`text`, `html`, `xhtml`):
///   feed-rs rejects the whole feed for one such attribute.
fn older_formats_as_current(text: &str) -> Cow<'_, str> {
    const ATOM_03: &str = "http://purl.org/atom/ns#";
    if text
        .trim_start_matches('\u{FEFF}')
        .trim_start()
        .starts_with('{')
    {
        // JSON Feed: restated as the 1.1 that feed-rs reads (see `jsonfeed`).
        return jsonfeed::restate(text).map_or(Cow::Borrowed(text), Cow::Owned);
    }
    const RSS_090: &str = "http://my.netscape.com/rdf/simple/0.9/";
    const RSS_090_ALSO: &str = "http://channel.netscape.com/rdf/simple/0.9/";
    let mut out = Cow::Borrowed(text);
    if has(&out, ATOM_03) {
        out = Cow::Owned(out.replace(ATOM_03, "http://www.w3.org/2005/Atom"));
    }
    for ns in [
        "http://backend.userland.com/rss2",
        "http://blogs.law.harvard.edu/tech/rss",
    ] {
        for q in ['"', '\''] {
            let default = format!("xmlns={q}{ns}{q}");
            if has(&out, &default) {
                out = Cow::Owned(out.replace(&default, &format!("xmlns:rss2={q}{ns}{q}")));
            }
        }
    }
    for ns in [RSS_090, RSS_090_ALSO] {
        if has(&out, ns) {
            out = Cow::Owned(out.replace(ns, "http://purl.org/rss/1.0/"));
        }
    }
    if has(&out, "http://www.w3.org/2005/Atom")
        && let Some(fixed) = atom_text_types(&out)
    {
        out = Cow::Owned(fixed);
    }
    if let Some((start, end)) = rss_root_tag(&out) {
        let tag = &out[start..end];
        let fixed = match attribute(tag, "version") {
            Some((_, "2.0" | "0.91" | "0.92" | "")) => None,
            Some((range, _)) => Some(format!("{}2.0{}", &tag[..range.start], &tag[range.end..])),
            None => Some(format!("<rss version=\"2.0\"{}", &tag[4..])),
        };
        let mut fixed = fixed.unwrap_or_else(|| tag.to_owned());
        // An RSS document with no channel at all is an empty feed, not an unreadable one; one
        // whose items sit directly under `<rss>` gets the channel around them.
        let rest = &out[end + 1..];
        let loose_items = !rest.contains("<channel") && rest.contains("<item");
        let (channel, rest) = if let Some(open) = fixed.strip_suffix('/') {
            fixed = open.to_owned();
            ("<channel></channel></rss>", Cow::Borrowed(rest))
        } else if !rest.contains("<channel") && !loose_items {
            ("<channel></channel>", Cow::Borrowed(rest))
        } else if loose_items && let Some(close) = rest.rfind("</rss>") {
            (
                "<channel>",
                Cow::Owned(format!("{}</channel>{}", &rest[..close], &rest[close..])),
            )
        } else {
            ("", Cow::Borrowed(rest))
        };
        if fixed != tag || !channel.is_empty() {
            out = Cow::Owned(format!("{}{}>{}{}", &out[..start], fixed, channel, rest));
        }
    }
    if rss_root_tag(&out).is_some() || has(&out, "<rdf:RDF") {
        if let Some(fixed) = markup_as_text(&out) {
            out = Cow::Owned(fixed);
        }
        if let Some(fixed) = item_fallbacks(&out) {
            out = Cow::Owned(fixed);
        }
    }
    out
}

/// Where `needle` first starts in `haystack` (as `str::find`), by memchr's SIMD search:
/// these scans run over every fetched document, several times, and `str::find`'s two-way
/// search was a tenth of re-reading a feed.
fn find(haystack: &str, needle: &str) -> Option<usize> {
    memchr::memmem::find(haystack.as_bytes(), needle.as_bytes())
}

/// Whether `needle` occurs in `haystack` (as `str::contains`; see [`find`]).
fn has(haystack: &str, needle: &str) -> bool {
    find(haystack, needle).is_some()
}

/// Whether `text` holds `<tag>` or `<tag ` (an opening tag, not a longer name), found from
/// each `<` (an item holds a few: cheaper than two substring searches made for each tag).
fn has_open_tag(text: &str, tag: &str) -> bool {
    text.match_indices('<').any(|(i, _)| {
        let rest = &text.as_bytes()[i + 1..];
        rest.starts_with(tag.as_bytes()) && matches!(rest.get(tag.len()), Some(b'>' | b' '))
    })
}

/// The `<item>` elements of a document, in order: where each starts, where its body starts and
/// where its `</item>` starts (a linear scan; an unclosed last item is left out).
fn item_spans(text: &str) -> Vec<(usize, usize, usize)> {
    static OPEN: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("<item"));
    static CLOSE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("</item>"));
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = OPEN.find(&text.as_bytes()[from..]) {
        let start = from + i;
        from = start + 5;
        if !matches!(
            text[from..].chars().next(),
            Some('>' | ' ' | '\t' | '\r' | '\n')
        ) {
            continue;
        }
        let Some(open_len) = text[start..].find('>') else {
            break;
        };
        let body = start + open_len + 1;
        let Some(len) = CLOSE.find(&text.as_bytes()[body..]) else {
            break;
        };
        out.push((start, body, body + len));
        from = body + len;
    }
    out
}

/// RSS items stated as a reader understands them, where feed-rs would lose something:
/// - a `<guid>` is a permalink unless `isPermaLink="false"`: an item without `<link>` gets its
///   guid as the link (resolved against the feed's URL like any link);
/// - Dublin Core's `<dc:title>` and `<dc:description>` stand in for a missing `<title>` and
///   `<description>`.
///
/// `None` when no item needs it.
fn item_fallbacks(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut copied = 0;
    for (_, body_start, body_end) in item_spans(text) {
        let item = &text[body_start..body_end];
        let body_of = |tag: &str| -> Option<&str> {
            let open = item.find(&format!("<{tag}"))?;
            let gt = open + item[open..].find('>')?;
            if item[open..gt].ends_with('/') {
                return None;
            }
            let close = gt + item[gt..].find(&format!("</{tag}>"))?;
            Some(&item[gt + 1..close])
        };
        let mut added = String::new();
        if !has_open_tag(item, "link")
            && let Some(open) = item.find("<guid")
            && let Some(gt) = item[open..].find('>')
            && !item[open..open + gt].contains("isPermaLink=\"false\"")
            && !item[open..open + gt].contains("isPermaLink='false'")
            && let Some(guid) = body_of("guid")
            && !guid.trim().is_empty()
        {
            added.push_str(&format!("<link>{}</link>", guid.trim()));
        }
        // feed-rs keeps Media RSS thumbnails only beside media content: a bare item-level
        // `<media:thumbnail>` (BBC's feeds, among many) becomes content of a marker type that
        // `media_of` takes for the image and never for an enclosure.
        if item.contains("<media:thumbnail")
            && !item.contains("<media:content")
            && !item.contains("<media:group")
            && let Some(open) = item.find("<media:thumbnail")
            && let Some(gt) = item[open..].find('>')
            && let Some((_, url)) = attribute(&item[open..open + gt], "url")
            && !url.contains(['"', '<', '>'])
        {
            added.push_str(&format!(
                "<media:content url=\"{url}\" type=\"{THUMBNAIL_MARKER}\"/>"
            ));
            // Media content displaces an RSS enclosure in feed-rs: state it as content too.
            if let Some(open) = item.find("<enclosure")
                && let Some(gt) = item[open..].find('>')
            {
                let tag = &item[open..open + gt];
                let attr = |name: &str| {
                    attribute(tag, name)
                        .map(|(_, v)| v)
                        .filter(|v| !v.contains(['"', '<', '>']))
                };
                if let Some(url) = attr("url") {
                    added.push_str(&format!("<media:content url=\"{url}\""));
                    if let Some(t) = attr("type") {
                        added.push_str(&format!(" type=\"{t}\""));
                    }
                    if let Some(n) = attr("length") {
                        added.push_str(&format!(" fileSize=\"{n}\""));
                    }
                    added.push_str("/>");
                }
            }
        }
        for (dc, plain) in [("dc:title", "title"), ("dc:description", "description")] {
            if !has_open_tag(item, plain)
                && let Some(body) = body_of(dc)
            {
                added.push_str(&format!("<{plain}>{body}</{plain}>"));
            }
        }
        if !added.is_empty() {
            out.push_str(&text[copied..body_start]);
            out.push_str(&added);
            copied = body_start;
        }
    }
    if copied == 0 {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// RSS `<title>` and `<description>` holding unescaped markup (`<title><p>Item</p></title>`):
/// RSS says they hold text, so the markup is made text (wrapped in CDATA) instead of being lost
/// as child elements; `None` when there is none.
fn markup_as_text(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut copied = 0;
    let mut from = 0;
    while let Some(i) = text[from..].find('<') {
        let at = from + i;
        from = at + 1;
        let name = if text[at..].starts_with("<title>") {
            "title"
        } else if text[at..].starts_with("<description>") {
            "description"
        } else {
            continue;
        };
        let body_start = at + name.len() + 2;
        let close = format!("</{name}>");
        let Some(len) = find(&text[body_start..], &close) else {
            continue;
        };
        let body = &text[body_start..body_start + len];
        from = body_start + len;
        let trimmed = body.trim_start();
        if !body.contains('<') || trimmed.starts_with("<![CDATA[") || body.contains("]]>") {
            continue;
        }
        // Markup, and no nested element of the same name (that would be structure).
        if body.contains(&format!("<{name}")) {
            continue;
        }
        out.push_str(&text[copied..body_start]);
        out.push_str("<![CDATA[");
        out.push_str(body);
        out.push_str("]]>");
        copied = body_start + len;
    }
    if copied == 0 {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// The document with Atom 0.3 MIME types in text constructs' `type` named as Atom 1.0 names
/// them; `None` when there is nothing to change.
fn atom_text_types(text: &str) -> Option<String> {
    const TEXT_CONSTRUCTS: [&str; 8] = [
        "title",
        "subtitle",
        "summary",
        "content",
        "rights",
        "tagline",
        "info",
        "copyright",
    ];
    let mut out = String::new();
    let mut copied = 0;
    let mut from = 0;
    while let Some(i) = text[from..].find('<') {
        let at = from + i;
        from = at + 1;
        // Element names are short: look no further than 64 bytes, so that a run of `<`
        // without names costs a linear scan, not a quadratic one.
        let window = truncate_on_char_boundary(&text[from..], 64);
        let name_len = window
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .unwrap_or(0);
        let name = &text[from..from + name_len];
        // Atom's own elements only: `media:title type="plain"` is Media RSS's, not Atom's.
        let local = match name.split_once(':') {
            None => name,
            Some(("atom", local)) => local,
            Some(_) => continue,
        };
        if !TEXT_CONSTRUCTS.contains(&local) {
            continue;
        }
        let Some(end) = text[at..].find('>').map(|e| at + e) else {
            break;
        };
        let tag = &text[at..end];
        let Some((range, value)) = attribute(tag, "type") else {
            continue;
        };
        // Content by reference must keep its MIME type (and has no body to decode).
        if local == "content" && attribute(tag, "src").is_some() {
            continue;
        }
        let value = value.trim().to_ascii_lowercase();
        // Atom: a type that is not text, HTML or XML means a base64 body.
        let opaque = !(value.is_empty()
            || value.starts_with("text")
            || value.contains("xml")
            || value.contains("html"));
        let atom_name = match value.as_str() {
            "text" | "html" | "xhtml" | "text/html" => continue,
            "text/plain" | "" => "text",
            "application/xhtml+xml" => "xhtml",
            // Content may carry any text or XML MIME type (feed-rs reads those); the other
            // text constructs may not.
            _ if local == "content" && !opaque => continue,
            t if t.ends_with("html") => "html",
            t if t.contains("xhtml") => "xhtml",
            _ => "text",
        };
        out.push_str(&text[copied..at + range.start]);
        out.push_str(atom_name);
        copied = at + range.end;
        from = end;
        if opaque && !tag.ends_with('/') {
            // The body, decoded, as the text it encodes (left alone if it is not base64 of
            // UTF-8 text).
            let close = format!("</{name}>");
            if let Some(len) = text[end + 1..].find(&close) {
                let body = &text[end + 1..end + 1 + len];
                if let Some(decoded) = base64_text(body) {
                    out.push_str(&text[copied..=end]);
                    out.push_str(&escape_xml_text(&decoded));
                    copied = end + 1 + len;
                    from = copied;
                }
            }
        }
    }
    if copied == 0 {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// The feed inside a document that is not one, as a lenient reader finds it: an Atom `<feed>`
/// element inside an HTML page, or `<item>` elements under a root no parser knows (an `<rdf>`
/// without its namespace, items outside any channel), gathered into an RSS 2.0 channel with
/// the namespace declarations of the original root. `None` when there is neither.
fn salvage(text: &str) -> Option<String> {
    if let (Some(start), Some(end)) = (text.find("<feed"), text.rfind("</feed>"))
        && start < end
        && text[start..end].contains("http://www.w3.org/2005/Atom")
    {
        return Some(text[start..end + "</feed>".len()].to_owned());
    }
    let items: String = item_spans(text)
        .into_iter()
        .map(|(start, _, body_end)| &text[start..body_end + "</item>".len()])
        .collect();
    if items.is_empty() {
        return None;
    }
    // The namespace prefixes the items may use, declared where the original declared them.
    let mut namespaces = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("xmlns:") {
        let decl = &rest[i..];
        let Some(eq) = decl.find('=') else { break };
        let Some(q) = decl[eq + 1..]
            .chars()
            .next()
            .filter(|c| *c == '"' || *c == '\'')
        else {
            break;
        };
        let Some(close) = decl[eq + 2..].find(q) else {
            break;
        };
        let one = &decl[..eq + 2 + close + 1];
        if !namespaces.contains(one) && !one.contains('<') && !one.contains('>') {
            namespaces.push(' ');
            namespaces.push_str(one);
        }
        rest = &decl[eq + 2 + close + 1..];
    }
    Some(format!(
        "<rss version=\"2.0\"{namespaces}><channel><title></title>{items}</channel></rss>"
    ))
}

/// Base64 (whitespace allowed) that decodes to UTF-8 text.
fn base64_text(body: &str) -> Option<String> {
    use base64::Engine as _;
    let compact: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.is_empty() {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// Text escaped for an XML element's body.
fn escape_xml_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The byte range of the `<rss …>` start tag when `rss` is the root element.
fn rss_root_tag(text: &str) -> Option<(usize, usize)> {
    let mut rest = 0;
    // Skip the prolog: declaration, comments, processing instructions, doctype.
    loop {
        let at = rest + text[rest..].find('<')?;
        let after = &text[at..];
        if after.starts_with("<?") {
            rest = at + after.find("?>")? + 2;
        } else if after.starts_with("<!--") {
            rest = at + after.find("-->")? + 3;
        } else if after.starts_with("<!") {
            rest = at + after.find('>')? + 1;
        } else if after.starts_with("<rss")
            && after[4..].starts_with(|c: char| c.is_whitespace() || c == '>' || c == '/')
        {
            return Some((at, at + after.find('>')?));
        } else {
            return None;
        }
    }
}

/// The value (and its byte range within `tag`) of attribute `name` in a start tag.
fn attribute<'t>(tag: &'t str, name: &str) -> Option<(std::ops::Range<usize>, &'t str)> {
    let mut from = 0;
    while let Some(i) = tag[from..].find(name) {
        let at = from + i;
        from = at + name.len();
        let preceded = tag[..at].ends_with(|c: char| c.is_whitespace());
        let rest = tag[from..].trim_start();
        if !preceded || !rest.starts_with('=') {
            continue;
        }
        let value = rest[1..].trim_start();
        let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let v_start = tag.len() - value.len() + 1;
        let v_len = value[1..].find(quote)?;
        return Some((v_start..v_start + v_len, &tag[v_start..v_start + v_len]));
    }
    None
}

/// One feed-rs parse with a fresh parser (a parser that failed once keeps state that makes the
/// next parse panic), with panics caught: a feed must never take its caller down.
fn read(bytes: &[u8], base: Option<&Url>) -> Result<feed_rs::model::Feed, String> {
    let base = base.map(|b| b.as_str().to_owned());
    std::panic::catch_unwind(move || {
        feed_rs::parser::Builder::new()
            .base_uri(base.as_deref())
            .id_generator(|_, _, _| String::new())
            .build()
            .parse(bytes)
            .map_err(|e| e.to_string())
    })
    .unwrap_or_else(|_| Err("the feed parser crashed on this document".to_owned()))
}

/// What a lenient reader would do with a feed that is not well-formed XML: bare `&` escaped,
/// HTML named entities (`&eacute;`, `&nbsp;`) turned into character references, characters XML
/// forbids dropped, and a truncated document cut after its last complete item and closed.
pub fn repair(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.extend(rest[..i].chars().filter(|c| xml_char(*c)));
        let after = &rest[i + 1..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '#'))
            .unwrap_or(after.len());
        let name = &after[..name_len];
        let terminated = after[name_len..].starts_with(';');
        if terminated && !name.is_empty() {
            if matches!(name, "amp" | "lt" | "gt" | "quot" | "apos") || name.starts_with('#') {
                out.push('&');
                // `&#X41;` (upper-case X) is HTML, not XML.
                match name.strip_prefix("#X") {
                    Some(hex) => {
                        out.push_str("#x");
                        out.push_str(hex);
                    }
                    None => out.push_str(name),
                }
                out.push(';');
            } else {
                let entity = format!("&{name};");
                let decoded = html_escape::decode_html_entities(&entity);
                if decoded != entity {
                    for c in decoded.chars() {
                        out.push_str(&format!("&#{};", c as u32));
                    }
                } else {
                    out.push_str("&amp;");
                    out.push_str(name);
                    out.push(';');
                }
            }
            rest = &after[name_len + 1..];
        } else {
            out.push_str("&amp;");
            rest = after;
        }
    }
    out.extend(rest.chars().filter(|c| xml_char(*c)));
    close_truncated(out)
}

fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

/// A document cut off mid-way: keep what precedes the last complete item and close it.
fn close_truncated(mut text: String) -> String {
    let trimmed = text.trim_end();
    if trimmed.ends_with("</rss>")
        || trimmed.ends_with("</feed>")
        || trimmed.ends_with("</rdf:RDF>")
    {
        return text;
    }
    let closers: [(&str, &str); 3] = [
        ("</item>", "</channel></rss>"),
        ("</entry>", "</feed>"),
        ("</rdf:RDF", ""),
    ];
    for (last, close) in closers {
        if close.is_empty() {
            continue;
        }
        if let Some(i) = text.rfind(last) {
            text.truncate(i + last.len());
            text.push_str(close);
            return text;
        }
    }
    text
}

fn convert(e: feed_rs::model::Entry, base: Option<&Url>, now: DateTime<Utc>) -> Entry {
    let media = media_of(&e, base);
    // The page: an alternate link, not an enclosure or attachment (JSON Feed's attachments
    // arrive as links with a media type and no rel).
    let page_link = |l: &&feed_rs::model::Link| {
        l.rel.as_deref().is_none_or(|r| r == "alternate")
            && l.media_type
                .as_deref()
                .is_none_or(|t| t.contains("html") || t.is_empty())
    };
    let link = e
        .links
        .iter()
        .find(page_link)
        .or_else(|| {
            e.links
                .iter()
                .find(|l| l.rel.as_deref() != Some("enclosure") && l.media_type.is_none())
        })
        // A literal `&amp;` left in a URL after XML decoding was escaped twice by the feed.
        .map(|l| l.href.trim().replace("&amp;", "&"))
        .filter(|h| !h.is_empty() && h.len() <= MAX_LINK_BYTES)
        .map(|h| match base.and_then(|b| b.join(&h).ok()) {
            Some(abs) => abs.to_string(),
            None => h,
        })
        .filter(|h| is_web_link(h));
    let canonical = link.as_deref().and_then(|l| canonical_url(l, base));
    let title = e
        .title
        .as_ref()
        .map(|t| title_text(&t.content))
        .unwrap_or_default();
    let summary_src = e
        .summary
        .as_ref()
        .map(|s| s.content.as_str())
        .filter(|s| !s.trim().is_empty())
        .or_else(|| e.content.as_ref().and_then(|c| c.body.as_deref()))
        .map(|s| repair_text(truncate_on_char_boundary(s, MAX_SUMMARY_BYTES)).into_owned())
        .unwrap_or_default();
    let mut text = html_to_text(&summary_src);
    if let Some((cut, _)) = text.char_indices().nth(MAX_TEXT_CHARS) {
        text.truncate(cut);
    }
    let summary_html = sanitise_html(&limit_nesting(&summary_src, MAX_HTML_DEPTH), base);
    let published = e.published.or(e.updated).map(|d| clamp_date(Some(d), now));
    let updated = e.updated.map(|d| clamp_date(Some(d), now));
    let id = e.id.trim();
    let guid = (!id.is_empty()).then(|| truncate_on_char_boundary(id, MAX_KEY_BYTES).to_owned());
    let key = if !id.is_empty() {
        bounded_key(id.to_owned())
    } else if let Some(l) = &link {
        bounded_key(l.clone())
    } else if !title.is_empty() {
        let date = published.map(|d| d.to_rfc3339()).unwrap_or_default();
        format!("sha256:{}", hex_digest(&[&title, &date]))
    } else {
        // Neither id, link nor title (RSS 0.92 allows items of a description only): the text
        // tells them apart.
        let date = published.map(|d| d.to_rfc3339()).unwrap_or_default();
        format!("sha256:{}", hex_digest(&[&title, &date, &summary_src]))
    };
    let content_hash = hex_digest(&[&title, &summary_html]);
    Entry {
        media,
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

/// The MIME type `item_fallbacks` gives a bare Media RSS thumbnail (see there).
const THUMBNAIL_MARKER: &str = "image/x-wiredesk-thumbnail";

/// An entry's enclosure, image and categories (see [`Media`]): only absolute http(s) URLs,
/// resolved against `base`, of bounded length.
fn media_of(e: &feed_rs::model::Entry, base: Option<&Url>) -> Media {
    let web = |href: &str| -> Option<String> {
        let href = href.trim();
        if href.is_empty() || href.len() > MAX_LINK_BYTES {
            return None;
        }
        let abs = match base.and_then(|b| b.join(href).ok()) {
            Some(u) => u.to_string(),
            None => href.to_owned(),
        };
        is_web_link(&abs).then_some(abs)
    };
    let bounded_type = |t: &str| {
        let t = t.trim();
        (!t.is_empty() && t.len() <= 100 && !t.contains(['"', '<', '>'])).then(|| t.to_owned())
    };
    let mut candidates: Vec<Enclosure> = Vec::new();
    // Atom's rel="enclosure" and JSON Feed's attachments (links with a media type).
    for l in &e.links {
        let attachment = l.rel.as_deref() == Some("enclosure")
            || (l.rel.is_none()
                && l.media_type
                    .as_deref()
                    .is_some_and(|t| !t.contains("html") && !t.is_empty()));
        if attachment && let Some(url) = web(&l.href) {
            candidates.push(Enclosure {
                url,
                media_type: l.media_type.as_deref().and_then(bounded_type),
                length: l.length,
            });
        }
    }
    // RSS <enclosure> and Media RSS content.
    let mut image = None;
    for m in &e.media {
        for c in &m.content {
            let Some(url) = c.url.as_ref().and_then(|u| web(u.as_str())) else {
                continue;
            };
            let media_type = c
                .content_type
                .as_ref()
                .and_then(|t| bounded_type(t.as_ref()));
            if media_type.as_deref() == Some(THUMBNAIL_MARKER) {
                image.get_or_insert(url);
                continue;
            }
            candidates.push(Enclosure {
                url,
                media_type,
                length: c.size,
            });
        }
        if image.is_none() {
            image = m.thumbnails.iter().find_map(|t| web(&t.image.uri));
        }
    }
    let is_image = |c: &Enclosure| {
        c.media_type
            .as_deref()
            .is_some_and(|t| t.starts_with("image"))
    };
    // Audio or video first: an image is the entry's picture more often than its payload.
    let enclosure = candidates
        .iter()
        .find(|c| !is_image(c))
        .or_else(|| candidates.first())
        .cloned();
    let image = image.or_else(|| {
        candidates
            .iter()
            .find(|c| is_image(c))
            .map(|c| c.url.clone())
    });
    let mut categories: Vec<String> = Vec::new();
    for c in &e.categories {
        let term = c
            .label
            .as_deref()
            .filter(|l| !l.trim().is_empty())
            .unwrap_or(&c.term);
        let term = collapse_category(term);
        if term.is_empty() || categories.len() >= MAX_CATEGORIES {
            continue;
        }
        if !categories
            .iter()
            .any(|k| k.to_lowercase() == term.to_lowercase())
        {
            categories.push(term);
        }
    }
    Media {
        enclosure,
        image,
        categories,
    }
}

/// A category as plain text on one line, at most [`MAX_CATEGORY_BYTES`].
fn collapse_category(raw: &str) -> String {
    let text = html_to_text(&repair_text(truncate_on_char_boundary(
        raw,
        4 * MAX_CATEGORY_BYTES,
    )));
    truncate_on_char_boundary(text.trim(), MAX_CATEGORY_BYTES)
        .trim_end()
        .to_owned()
}

/// HTML with tags nested deeper than `max_depth` removed (their text kept). A linear scan
/// that counts start and end tags (void elements and self-closing tags do not nest); it
/// over-counts where HTML closes elements implicitly, which only ever removes more markup,
/// never text.
pub fn limit_nesting(html: &str, max_depth: usize) -> Cow<'_, str> {
    const VOID: &[&str] = &[
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
        "source", "track", "wbr",
    ];
    let mut depth = 0usize;
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut from = 0;
    while let Some(i) = html[from..].find('<') {
        let at = from + i;
        let after = &html[at + 1..];
        let closing = after.starts_with('/');
        let name_part = after.trim_start_matches('/');
        if !name_part.starts_with(|c: char| c.is_ascii_alphabetic()) {
            from = at + 1;
            continue;
        }
        let Some(gt) = after.find('>') else { break };
        let tag = &after[..gt];
        let end = at + 1 + gt + 1;
        let name_len = name_part
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(name_part.len());
        let name = &name_part[..name_len];
        let nests = !tag.ends_with('/') && !VOID.iter().any(|v| v.eq_ignore_ascii_case(name));
        let drop = if closing {
            let d = depth > max_depth;
            depth = depth.saturating_sub(1);
            d
        } else if nests {
            depth += 1;
            depth > max_depth
        } else {
            depth >= max_depth
        };
        if drop {
            let o = out.get_or_insert_with(|| String::with_capacity(html.len()));
            o.push_str(&html[copied..at]);
            copied = end;
        }
        from = end;
    }
    match out {
        None => Cow::Borrowed(html),
        Some(mut o) => {
            o.push_str(&html[copied..]);
            Cow::Owned(o)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Markup pieces the scans look for, their near misses, and hostile text between them.
    fn pieces() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::strategy::Strategy;
        const PIECES: &[&str] = &[
            "<item>",
            "<item ",
            "<items>",
            "</item>",
            "</item",
            "<link>",
            "<link ",
            "<linked>",
            "<link/>",
            "<title>",
            "<title ",
            "</title>",
            "<description>",
            "<desc",
            "<",
            ">",
            " ",
            "é",
            "한",
            "\u{0}",
            "<<link>",
            "<item\n>",
            "</ITEM>",
        ];
        let piece = proptest::prop_oneof![
            3 => proptest::sample::select(PIECES).prop_map(str::to_owned),
            1 => proptest::arbitrary::any::<String>(),
        ];
        proptest::collection::vec(piece, 0..16).prop_map(|v| v.concat())
    }

    proptest::proptest! {
        #[test]
        fn the_scans_find_what_str_finds(text in pieces(), needle in pieces()) {
            proptest::prop_assert_eq!(find(&text, &needle), text.find(needle.as_str()));
            proptest::prop_assert_eq!(has(&text, &needle), text.contains(needle.as_str()));
            for tag in ["link", "title", "description", "item", "l"] {
                let plain = text.contains(&format!("<{tag}>")) || text.contains(&format!("<{tag} "));
                proptest::prop_assert_eq!(has_open_tag(&text, tag), plain, "{}", tag);
            }
        }

        #[test]
        fn item_spans_are_where_str_find_puts_them(text in pieces()) {
            // The spans as first written, with `str::find`.
            let mut want = Vec::new();
            let mut from = 0;
            while let Some(i) = text[from..].find("<item") {
                let start = from + i;
                from = start + 5;
                if !matches!(text[from..].chars().next(), Some('>' | ' ' | '\t' | '\r' | '\n')) {
                    continue;
                }
                let Some(open_len) = text[start..].find('>') else { break };
                let body = start + open_len + 1;
                let Some(len) = text[body..].find("</item>") else { break };
                want.push((start, body, body + len));
                from = body + len;
            }
            proptest::prop_assert_eq!(item_spans(&text), want);
        }
    }

    #[test]
    fn link_headers_name_the_hub_and_topic() {
        let base = Url::parse("https://news.example/feeds/a.xml").unwrap();
        let links = |v: &[&str]| {
            let v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
            websub_links_from_headers(&v, &base)
        };
        let both = links(&[r#"<https://hub.example/>; rel="hub", </feeds/a.xml>; rel="self""#]);
        assert_eq!(
            both,
            Some(WebSubLinks {
                hub: "https://hub.example/".into(),
                topic: "https://news.example/feeds/a.xml".into()
            })
        );
        // Two headers, rel lists, other parameters (a comma inside quotes), unquoted values.
        let spread = links(&[
            r#"<https://news.example/>; rel="alternate"; title="a, b""#,
            r#"<https://hub.example/h>; rel="HUB other", <a.xml>; type=x; rel=self"#,
        ]);
        assert_eq!(
            spread.map(|l| (l.hub, l.topic)),
            Some((
                "https://hub.example/h".into(),
                "https://news.example/feeds/a.xml".into()
            ))
        );
        assert_eq!(
            links(&[r#"<https://hub.example/>; rel="hub""#]),
            None,
            "no self"
        );
        assert_eq!(
            links(&[r#"<javascript:alert(1)>; rel="hub", <a.xml>; rel="self""#]),
            None,
            "not a web link"
        );
        assert_eq!(links(&["garbage", "<unclosed; rel=hub"]), None);
        assert_eq!(
            link_header(r#"<a>; rel="hub"; rel="self""#),
            vec![("a".to_owned(), "hub".to_owned())]
        );
    }
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap()
    }

    /// Parses `xml` as fetched from https://e.com/feed.xml, skipping the `known` fingerprints.
    fn parse(xml: &str, known: &Known) -> ParsedFeed {
        let base = Url::parse("https://e.com/feed.xml").unwrap();
        parse_feed_skipping(
            xml.as_bytes(),
            None,
            Some(&base),
            now(),
            Limits::default(),
            known,
        )
        .unwrap()
    }

    #[test]
    fn json_feed_1_0_with_fields_of_the_wrong_shape_keeps_its_items() {
        let json = r#"{"version": "http://jsonfeed.org/version/1", "title": "Old",
            "items": [{"id": 1, "url": "https://e.com/1", "title": "First", "tags": "a,b",
                       "content_text": "Body one"},
                      {"id": "2", "url": "https://e.com/2", "title": "Second",
                       "attachments": [{"url": "https://e.com/a.mp3"}]}]}"#;
        let f = parse_feed(json.as_bytes(), Some("application/json"), None, now()).unwrap();
        let titles: Vec<&str> = f.entries.iter().map(|e| e.title.as_str()).collect();
        assert_eq!(titles, ["First", "Second"]);
        assert_eq!(f.entries[0].key, "1");
        assert_eq!(f.entries[0].text, "Body one");
        assert_eq!(f.entries[1].link.as_deref(), Some("https://e.com/2"));
    }

    #[test]
    fn entries_sharing_one_guid_are_told_apart_by_title_and_keep_their_keys() {
        // ROME's issue137-rss.xml: a CMS giving every item its section URL as guid.
        let feed = |items: &[&str]| {
            let items: String = items
                .iter()
                .map(|t| {
                    format!(
                        "<item><title>{t}</title><guid isPermaLink=\"false\">https://e.com/s/</guid>\
                         <link>https://e.com/s/</link><description>About {t}</description></item>"
                    )
                })
                .collect();
            format!(r#"<rss version="2.0"><channel><title>T</title>{items}</channel></rss>"#)
        };
        let first = parse(
            &feed(&["Schools", "Seminar", "Awards"]),
            &Default::default(),
        );
        let keys: Vec<&str> = first.entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys.len(), 3, "{keys:?}");
        assert!(
            keys.iter().all(|k| k.starts_with("https://e.com/s/ #")),
            "{keys:?}"
        );
        assert_ne!(keys[0], keys[1]);
        // A new item arrives; the old ones are skipped as unchanged, and the new one's key is
        // made the same way (the collision is seen across skipped entries too).
        let known = Known::new(&first.fingerprints, &first.items);
        let second = parse(&feed(&["New", "Schools", "Seminar", "Awards"]), &known);
        assert_eq!((second.entries.len(), second.skipped_known), (1, 3));
        assert!(second.entries[0].key.starts_with("https://e.com/s/ #"));
        let again = parse(&feed(&["New", "Schools"]), &Default::default());
        assert_eq!(again.entries[0].key, second.entries[0].key);
        assert_eq!(again.entries[1].key, keys[0]);
        // One id with one title stays the id; the same entry twice is read once.
        let single = parse(&feed(&["Schools"]), &Default::default());
        assert_eq!(single.entries[0].key, "https://e.com/s/");
        let twice = parse(&feed(&["Schools", "Schools"]), &Default::default());
        assert_eq!(twice.entries.len(), 1);
        assert_eq!(twice.entries[0].key, "https://e.com/s/");
    }

    #[test]
    fn atom_text_of_any_type_is_read_and_base64_decoded() {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode("Decoded title & more");
        let body = base64::engine::general_purpose::STANDARD.encode("A body in base64");
        let xml = format!(
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>F</title>
<entry><id>1</id><title type="application/octet-stream">{b64}</title>
  <content type="application/octet-stream">{body}</content></entry>
<entry><id>2</id><title type="application/x-custom">Custom typed</title>
  <summary type="TEXT/PLAIN">Plain summary</summary></entry>
</feed>"#
        );
        let f = parse_feed(xml.as_bytes(), None, None, now()).unwrap();
        assert_eq!(f.entries.len(), 2);
        assert_eq!(f.entries[0].title, "Decoded title & more");
        assert_eq!(f.entries[0].text, "A body in base64");
        assert_eq!(f.entries[1].title, "Custom typed");
        assert_eq!(f.entries[1].text, "Plain summary");
    }

    #[test]
    fn ill_formed_documents_feedparser_reads_are_read() {
        let base = Url::parse("https://e.com/feed.xml").unwrap();
        let read = |xml: &str| parse_feed(xml.as_bytes(), None, Some(&base), now()).unwrap();
        // Markup where RSS wants text.
        let f = read(
            r#"<rss version="2.0"><channel><title>T</title><item><guid>1</guid>
<title><p>Item <b>Title</b></p></title><description><p>Para</p></description></item></channel></rss>"#,
        );
        assert_eq!(
            (f.entries[0].title.as_str(), f.entries[0].text.as_str()),
            ("Item Title", "Para")
        );
        // Items directly under <rss>, no channel.
        let f = read(
            r#"<rss version="2.0"><item><title>Loose</title><link>https://e.com/1</link></item></rss>"#,
        );
        assert_eq!(f.entries.len(), 1);
        // An Atom feed inside an XHTML page.
        let f = read(
            r#"<html xmlns="http://www.w3.org/1999/xhtml"><body><p>Hi &nbsp; <br></p>
<feed xmlns="http://www.w3.org/2005/Atom"><title>In page</title><entry><id>x</id><title>Inside</title>
<link href="https://e.com/in"/></entry></feed></body></html>"#,
        );
        assert_eq!(f.entries[0].title, "Inside");
        assert!(f.recovered.is_some());
        // Description-only items are three items, not one.
        let f = read(
            r#"<rss version="0.92"><channel><title>T</title><item><description>One</description></item>
<item><description>Two</description></item><item><description>Three</description></item></channel></rss>"#,
        );
        assert_eq!(f.entries.len(), 3);
        // A guid is the link unless isPermaLink="false"; dc:title stands in for a title.
        let f = read(
            r#"<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>T</title>
<item><guid>https://e.com/perma</guid><dc:title>From DC</dc:title></item>
<item><guid isPermaLink="false">https://e.com/not-a-link</guid><title>No link</title></item>
<item><guid>/relative/3</guid><title>Relative</title></item></channel></rss>"#,
        );
        assert_eq!(f.entries[0].link.as_deref(), Some("https://e.com/perma"));
        assert_eq!(f.entries[0].title, "From DC");
        assert_eq!(f.entries[1].link, None);
        assert_eq!(
            f.entries[2].link.as_deref(),
            Some("https://e.com/relative/3")
        );
    }

    #[test]
    fn enclosures_images_and_categories_are_read_from_every_format() {
        let base = Url::parse("https://e.com/feed.xml").unwrap();
        let rss = r#"<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>T</title>
<item><title>Pod</title><link>https://e.com/1</link>
  <enclosure url="/audio/1.mp3" length="123" type="audio/mpeg"/>
  <media:thumbnail url="https://img.e.com/1.jpg"/>
  <category>Politics</category><category>politics</category><category><![CDATA[<b>Seoul</b>]]></category></item>
<item><enclosure url="https://e.com/only.mp3" type="audio/mpeg"/><guid isPermaLink="false">x</guid></item>
<item><title>Bad</title><link>https://e.com/3</link><enclosure url="javascript:alert(1)" type="audio/mpeg"/></item>
</channel></rss>"#;
        let f = parse_feed(rss.as_bytes(), None, Some(&base), now()).unwrap();
        assert_eq!(f.entries.len(), 3, "the enclosure-only item is kept");
        let m = &f.entries[0].media;
        let enc = m.enclosure.as_ref().unwrap();
        assert_eq!(enc.url, "https://e.com/audio/1.mp3");
        assert_eq!(
            (enc.media_type.as_deref(), enc.length),
            (Some("audio/mpeg"), Some(123))
        );
        assert_eq!(m.image.as_deref(), Some("https://img.e.com/1.jpg"));
        assert_eq!(m.categories, ["Politics", "Seoul"]);
        assert_eq!(
            f.entries[1]
                .media
                .enclosure
                .as_ref()
                .map(|e| e.url.as_str()),
            Some("https://e.com/only.mp3")
        );
        assert!(f.entries[2].media.is_empty(), "only http(s) URLs");

        let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><entry><id>1</id>
<title>T</title><link href="https://e.com/a"/><link rel="enclosure" type="video/mp4" length="9" href="https://e.com/v.mp4"/>
<category term="tech" label="Technology"/></entry></feed>"#;
        let f = parse_feed(atom.as_bytes(), None, Some(&base), now()).unwrap();
        assert_eq!(f.entries[0].link.as_deref(), Some("https://e.com/a"));
        assert_eq!(
            f.entries[0].media.enclosure.as_ref().unwrap().url,
            "https://e.com/v.mp4"
        );
        assert_eq!(f.entries[0].media.categories, ["Technology"]);

        let json = r#"{"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": [
            {"id": "1", "url": "https://e.com/j", "title": "J1", "image": "https://e.com/i.png",
             "attachments": [{"url": "https://e.com/p.mp3", "mime_type": "audio/mpeg", "size_in_bytes": 5}]}]}"#;
        let f = parse_feed(json.as_bytes(), None, Some(&base), now()).unwrap();
        let m = &f.entries[0].media;
        assert_eq!(
            f.entries[0].link.as_deref(),
            Some("https://e.com/j"),
            "not the attachment"
        );
        assert_eq!(m.enclosure.as_ref().unwrap().url, "https://e.com/p.mp3");
        assert_eq!(m.image.as_deref(), Some("https://e.com/i.png"));
    }

    #[test]
    fn entries_sent_exactly_as_before_are_not_converted_again() {
        let feed = |second: &str| {
            format!(
                r#"<rss version="2.0"><channel><title>T</title>
<item><title>One</title><guid>g-1</guid><description>Body one</description></item>
<item><title>{second}</title><guid>g-2</guid><description>Body two</description></item>
</channel></rss>"#
            )
        };
        let first = parse(&feed("Two"), &Default::default());
        assert_eq!((first.entries.len(), first.skipped_known), (2, 0));
        let known = Known::new(&first.fingerprints, &first.items);
        // The same feed again: nothing to convert.
        let again = parse(&feed("Two"), &known);
        assert_eq!((again.entries.len(), again.skipped_known), (0, 2));
        assert_eq!(again.fingerprints, first.fingerprints);
        // One entry edited: only that one is converted.
        let edited = parse(&feed("Two, updated"), &known);
        assert_eq!(edited.skipped_known, 1);
        assert_eq!(edited.entries.len(), 1);
        assert_eq!(edited.entries[0].title, "Two, updated");
        // The same entries under another base URL resolve links differently: converted again.
        let moved = Url::parse("https://moved.example/feed.xml").unwrap();
        let elsewhere = parse_feed_skipping(
            feed("Two").as_bytes(),
            None,
            Some(&moved),
            now(),
            Limits::default(),
            &known,
        )
        .unwrap();
        assert_eq!(elsewhere.skipped_known, 0);
    }

    #[test]
    fn items_sent_as_before_are_not_even_read_and_read_the_same() {
        let feed = |built: &str, items: &[&str]| {
            let items: String = items
                .iter()
                .map(|t| format!("<item><title>{t}</title><guid>g-{t}</guid><description><![CDATA[<p>About {t}</p>]]></description></item>"))
                .collect();
            format!(
                "<rss version=\"2.0\"><channel><title>T</title><description><![CDATA[{built}]]></description>{items}</channel></rss>"
            )
        };
        let first = parse(&feed("Monday", &["One", "Two"]), &Known::default());
        assert_eq!(first.items.len(), 2);
        let known = Known::new(&first.fingerprints, &first.items);
        // A new build of the feed with one new item: the two old ones are cut out unread.
        let doc = feed("Tuesday", &["Three", "One", "Two"]);
        let second = parse(&doc, &known);
        assert_eq!((second.skipped_known, second.unread_known), (2, 2));
        assert_eq!(second.entries.len(), 1);
        assert_eq!(second.entries[0].title, "Three");
        let everything = parse(&doc, &Known::new(&first.fingerprints, &[]));
        assert_eq!(everything.unread_known, 0);
        assert_eq!(second.entries, everything.entries);
        assert_eq!(second.fingerprints, everything.fingerprints);
        assert_eq!(second.items, everything.items);
        // What was remembered of the cut items carries over to the next read.
        let third = parse(&doc, &Known::new(&second.fingerprints, &second.items));
        assert_eq!((third.skipped_known, third.unread_known), (3, 3));
        // An old item's bytes quoted in the channel's CDATA are not an item: nothing is cut
        // from inside it.
        let quoted = format!(
            "<rss version=\"2.0\"><channel><description><![CDATA[{}]]></description>\
             <item><title>Four</title><guid>g-4</guid></item></channel></rss>",
            "<item><title>One</title><guid>g-One</guid><description>x</description></item>"
        );
        let read = parse(&quoted, &known);
        assert_eq!((read.entries.len(), read.unread_known), (1, 0));
        // A new item that needs repair: the whole document is read again, repaired.
        let broken = feed("Tuesday", &["Fish & chips", "One", "Two"]);
        let repaired = parse(&broken, &known);
        assert!(repaired.recovered.is_some());
        assert_eq!((repaired.entries.len(), repaired.unread_known), (1, 0));
        assert_eq!(repaired.entries[0].title, "Fish & chips");
        assert!(
            repaired.items.is_empty(),
            "a repaired read says nothing of item bytes"
        );
    }

    #[test]
    fn prefixed_atom_entries_sent_as_before_are_not_read() {
        let feed = |entries: &[&str]| {
            let entries: String = entries
                .iter()
                .map(|t| format!("<a:entry><a:id>urn:{t}</a:id><a:title>{t}</a:title></a:entry>"))
                .collect();
            format!(
                "<a:feed xmlns:a=\"http://www.w3.org/2005/Atom\"><a:title>T</a:title>{entries}</a:feed>"
            )
        };
        let first = parse(&feed(&["One", "Two"]), &Known::default());
        assert_eq!((first.entries.len(), first.items.len()), (2, 2));
        let doc = feed(&["Three", "One", "Two"]);
        let second = parse(&doc, &Known::new(&first.fingerprints, &first.items));
        assert_eq!((second.skipped_known, second.unread_known), (2, 2));
        assert_eq!(second.entries.len(), 1);
        assert_eq!(second.entries[0].title, "Three");
        let everything = parse(&doc, &Known::new(&first.fingerprints, &[]));
        assert_eq!(second.entries, everything.entries);
        assert_eq!(second.items, everything.items);
    }

    #[test]
    fn rss_entries_get_our_keys() {
        let xml = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>T &amp; Co</title>
<item><title>With guid</title><guid>g-1</guid><link>/a?utm_source=x</link><description>&lt;p&gt;Body&lt;/p&gt;</description><pubDate>Sun, 01 Nov 2026 10:00:00 GMT</pubDate></item>
<item><title>Link only</title><link>https://e.com/b</link></item>
<item><title>Neither</title><description>text</description></item>
</channel></rss>"#;
        let base = Url::parse("https://e.com/feed.xml").unwrap();
        let f = parse_feed(xml.as_bytes(), None, Some(&base), now()).unwrap();
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
        let again = parse_feed(xml.as_bytes(), None, Some(&base), now()).unwrap();
        assert_eq!(again.entries[2].key, f.entries[2].key);
    }

    #[test]
    fn a_less_than_sign_in_a_plain_headline_is_kept() {
        let xml = r#"<rss version="2.0"><channel><title>x</title>
<item><title>Why x&lt;y matters for &lt;em&gt;rates&lt;/em&gt;</title><link>https://e.com/a</link><description>Growth &lt;3% as 5&lt;6</description></item>
</channel></rss>"#;
        let f = parse_feed(xml.as_bytes(), None, None, now()).unwrap();
        assert_eq!(f.entries[0].title, "Why x<y matters for rates");
        assert_eq!(f.entries[0].text, "Growth <3% as 5<6");
    }

    #[test]
    fn double_escaped_ampersands_in_links_are_decoded() {
        let xml = r#"<rss version="2.0"><channel><title>x</title><item><title>a</title><link>https://e.com/a?c=1&amp;amp;id=2</link></item></channel></rss>"#;
        let f = parse_feed(xml.as_bytes(), None, None, now()).unwrap();
        assert_eq!(
            f.entries[0].link.as_deref(),
            Some("https://e.com/a?c=1&id=2")
        );
        assert_eq!(f.entries[0].key, "https://e.com/a?c=1&id=2");
    }

    #[test]
    fn broken_feeds_are_read_after_repair() {
        let bare_amp = r#"<rss version="2.0"><channel><title>Q & A</title><item><title>Tom & Jerry caf&eacute;&nbsp;news</title><guid>1</guid></item></channel></rss>"#;
        let f = parse_feed(bare_amp.as_bytes(), None, None, now()).unwrap();
        assert!(f.recovered.is_some());
        assert_eq!(f.title.as_deref(), Some("Q & A"));
        assert_eq!(f.entries[0].title, "Tom & Jerry café news");

        let upper_x = r#"<rss version="2.0"><channel><title>T</title><item><title>&#X41;&#x42;</title><guid>1</guid></item></channel></rss>"#;
        let f = parse_feed(upper_x.as_bytes(), None, None, now()).unwrap();
        assert_eq!(f.entries[0].title, "AB");

        let truncated = r#"<rss version="2.0"><channel><title>T</title><item><title>one</title><guid>1</guid></item><item><title>two</title><guid>2</guid></item><item><title>thr"#;
        let f = parse_feed(truncated.as_bytes(), None, None, now()).unwrap();
        assert!(f.recovered.is_some());
        assert_eq!(f.entries.len(), 2);

        let control = "<rss version=\"2.0\"><channel><title>T\u{1}</title><item><title>a\u{8}b</title><guid>1</guid></item></channel></rss>";
        let f = parse_feed(control.as_bytes(), None, None, now()).unwrap();
        assert_eq!(
            f.entries[0].title, "a b",
            "control characters never reach the text"
        );
    }

    #[test]
    fn euc_kr_without_a_declaration_reads_with_the_http_charset() {
        let doc = "<rss version=\"2.0\"><channel><title>연합뉴스</title><item><title>북한 미사일 발사</title><guid>1</guid></item></channel></rss>";
        let (bytes, _, _) = encoding_rs::EUC_KR.encode(doc);
        let f = parse_feed(&bytes, Some("text/xml; charset=EUC-KR"), None, now()).unwrap();
        assert_eq!(f.encoding, "EUC-KR");
        assert_eq!(f.entries[0].title, "북한 미사일 발사");
    }

    #[test]
    fn far_future_dates_are_clamped() {
        let xml = r#"<rss version="2.0"><channel><title>x</title><item><title>a</title><guid>1</guid><pubDate>Fri, 01 Jan 2100 00:00:00 GMT</pubDate></item></channel></rss>"#;
        let f = parse_feed(xml.as_bytes(), None, None, now()).unwrap();
        assert_eq!(f.entries[0].published, Some(now()));
    }

    #[test]
    fn atom_is_read() {
        let xml = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:a</id><updated>2026-11-01T00:00:00Z</updated>
<entry><id>urn:e1</id><title type="html">&lt;b&gt;Bold&lt;/b&gt; news</title><link href="https://e.com/1"/><updated>2026-11-01T01:00:00Z</updated><summary>S</summary></entry></feed>"#;
        let f = parse_feed(xml.as_bytes(), None, None, now()).unwrap();
        assert_eq!(f.entries[0].key, "urn:e1");
        assert_eq!(f.entries[0].title, "Bold news");
        assert_eq!(f.entries[0].text, "S");
    }

    #[test]
    fn older_formats_are_read_as_current_ones() {
        for root in [
            "<rss>",
            "<rss version=\"2.00\">",
            "<rss version='0.94' xmlns:dc=\"http://purl.org/dc/elements/1.1/\">",
        ] {
            let xml = format!(
                "<?xml version=\"1.0\"?><!-- a comment --><!DOCTYPE rss>{root}<channel><title>x</title><item><title>a</title><guid>1</guid></item></channel></rss>"
            );
            let f = parse_feed(xml.as_bytes(), None, None, now()).unwrap();
            assert_eq!(f.entries.len(), 1, "{root}");
            assert!(f.recovered.is_none(), "{root}: not a repair");
        }
        for empty in [
            "<rss version=\"2.0\">\n</rss>",
            "<rss>\n</rss>",
            "<rss version=\"2.0\"/>",
        ] {
            let f = parse_feed(empty.as_bytes(), None, None, now()).unwrap();
            assert!(f.entries.is_empty() && f.recovered.is_none(), "{empty}");
        }
        let atom03 = r#"<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>Old</title><entry><id>urn:1</id><title>e</title></entry></feed>"#;
        let f = parse_feed(atom03.as_bytes(), None, None, now()).unwrap();
        assert_eq!(f.title.as_deref(), Some("Old"));
        assert_eq!(f.entries[0].title, "e");
        let userland = r#"<rss version="2.0" xmlns="http://backend.userland.com/rss2"><channel><title>U</title><item><title>a</title><guid>1</guid></item></channel></rss>"#;
        let f = parse_feed(userland.as_bytes(), None, None, now()).unwrap();
        assert_eq!((f.title.as_deref(), f.entries.len()), (Some("U"), 1));
        let atom03_types = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title type="text/plain">A &amp; B</title><entry><id>1</id><title type="">t</title><summary type="application/xhtml+xml"><div xmlns="http://www.w3.org/1999/xhtml"><b>x</b></div></summary></entry></feed>"#;
        let f = parse_feed(atom03_types.as_bytes(), None, None, now()).unwrap();
        assert_eq!(f.title.as_deref(), Some("A & B"));
        assert_eq!(f.entries[0].text, "x");
        let rss090 = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://my.netscape.com/rdf/simple/0.9/"><channel><title>Old</title></channel><item><title>i</title><link>http://e.com/1</link></item></rdf:RDF>"#;
        let f = parse_feed(rss090.as_bytes(), None, None, now()).unwrap();
        assert_eq!(f.title.as_deref(), Some("Old"));
        assert_eq!(f.entries[0].title, "i");
    }

    #[test]
    fn json_feed_is_read() {
        let json = r#"{"version": "https://jsonfeed.org/version/1.1", "title": "J &amp; co",
            "home_page_url": "https://j.example/",
            "items": [{"id": "j1", "url": "https://j.example/1", "title": "Jay &amp; co",
                       "content_html": "<p>Body about http://purl.org/atom/ns#</p>",
                       "date_published": "2026-11-01T10:00:00Z"}]}"#;
        let f = parse_feed(json.as_bytes(), Some("application/feed+json"), None, now()).unwrap();
        assert_eq!(f.title.as_deref(), Some("J & co"));
        assert_eq!(f.entries.len(), 1);
        assert_eq!(f.entries[0].key, "j1");
        assert_eq!(f.entries[0].link.as_deref(), Some("https://j.example/1"));
        assert!(
            f.entries[0].text.contains("http://purl.org/atom/ns#"),
            "{:?}",
            f.entries[0].text
        );
        assert!(f.recovered.is_none());
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse_feed(b"<html><body>hi</body></html>", None, None, now()).is_err());
        assert!(parse_feed(b"", None, None, now()).is_err());
    }

    #[test]
    fn a_new_title_is_a_new_revision() {
        let a = r#"<rss version="2.0"><channel><title>x</title><item><title>a</title><guid>1</guid></item></channel></rss>"#;
        let b = a.replace("<title>a</title>", "<title>b</title>");
        let fa = parse_feed(a.as_bytes(), None, None, now()).unwrap();
        let fb = parse_feed(b.as_bytes(), None, None, now()).unwrap();
        assert_eq!(fa.entries[0].key, fb.entries[0].key);
        assert_ne!(fa.entries[0].content_hash, fb.entries[0].content_hash);
    }
}
