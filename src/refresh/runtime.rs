//! What the refresh layer remembers about each feed between refreshes, in memory only: the
//! lock that keeps one feed's refreshes from overlapping, where a feed moved permanently, and
//! which kinds of lenient read were last logged. Owned here, below the daemon, so that a
//! refresh needs nothing from the layers above it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use crate::config::{FeedConfig, FeedId};
use crate::parse::{Entry, ItemMemo, Known};

/// The per-feed runtime state (see the module docs).
#[derive(Default)]
pub struct FeedRuntime {
    guards: Mutex<HashMap<FeedId, Arc<tokio::sync::Mutex<()>>>>,
    /// Feeds that moved permanently: (configured URL, new URL) by feed id.
    moved: Mutex<HashMap<FeedId, (url::Url, url::Url)>>,
    /// The kinds of warning last logged per feed (see [`FeedRuntime::warning_kinds_changed`]).
    warned: Mutex<HashMap<FeedId, Vec<String>>>,
    /// Per feed, the content hashes (first 8 bytes) of the entries of its last stored fetch:
    /// an entry seen there needs no preparing for text matching (see [`FeedRuntime::unseen`]).
    seen: Mutex<HashMap<FeedId, HashSet<u64>>>,
    /// Per feed, the fingerprints of the entries of its last stored fetch as the feed sent
    /// them, and of its items' bytes (RSS and Atom): such an entry is not even converted, such
    /// an item not even read (see `crate::parse::parse_feed_skipping`).
    /// Kept with the signature of the feed's item filter they were stored under: an entry
    /// left out by one filter is looked at again under another.
    raw: Mutex<HashMap<FeedId, Fingerprints>>,
    /// Per feed, the lock that keeps its article fetching (`[[feed]] full_text`) to one run.
    full_text_guards: Mutex<HashMap<FeedId, Arc<tokio::sync::Mutex<()>>>>,
    /// Hosts that answered an article fetch with 429 or 503: no page is asked of them until
    /// then (their feeds' own fetches back off by the feed's own rules).
    page_hosts_resting: Mutex<HashMap<String, std::time::Instant>>,
    /// Per feed, the WebSub hub and topic its last parsed document named.
    websub: Mutex<HashMap<FeedId, crate::parse::WebSubLinks>>,
}

/// A feed's entry fingerprints, with the signature of the item filter they were stored under.
type Fingerprints = (u64, Arc<Known>);

/// What [`FeedRuntime::remember_seen`] keeps of a fetch's entries.
pub fn short_hashes(entries: &[Entry]) -> HashSet<u64> {
    entries.iter().map(short_hash).collect()
}

/// The first 8 bytes of an entry's content hash (hex), as a number.
fn short_hash(entry: &Entry) -> u64 {
    entry
        .content_hash
        .get(..16)
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .unwrap_or(0)
}

impl FeedRuntime {
    /// Runtime state that starts from the permanent moves remembered in the database.
    pub fn with_moves(moved: HashMap<FeedId, (url::Url, url::Url)>) -> FeedRuntime {
        FeedRuntime {
            moved: Mutex::new(moved),
            ..FeedRuntime::default()
        }
    }

    /// Per entry, whether it was not in this feed's last stored fetch: an unchanged entry is
    /// recognised by the store before any matching, so preparing its text would be wasted.
    /// `None` when this feed has not been stored since the start (see
    /// [`FeedRuntime::remember_hashes`]).
    pub fn unseen(&self, feed: &FeedId, entries: &[Entry]) -> Option<Vec<bool>> {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let last = seen.get(feed)?;
        Some(
            entries
                .iter()
                .map(|e| !last.contains(&short_hash(e)))
                .collect(),
        )
    }

    /// The fingerprints of the entries of the feed's last stored fetch under the filter with
    /// this signature (empty after a start, or when the filter changed).
    pub fn known_raw(&self, feed: &FeedId, filter: u64) -> Arc<Known> {
        let raw = self.raw.lock().unwrap_or_else(|e| e.into_inner());
        match raw.get(feed) {
            Some((sig, set)) if *sig == filter => set.clone(),
            _ => Arc::default(),
        }
    }

    /// Records the fingerprints of a fetch just stored (see [`FeedRuntime::known_raw`]).
    pub fn remember_raw(
        &self,
        feed: &FeedId,
        filter: u64,
        fingerprints: &[u64],
        items: &[(u64, ItemMemo)],
    ) {
        let set = Arc::new(Known::new(fingerprints, items));
        let mut raw = self.raw.lock().unwrap_or_else(|e| e.into_inner());
        raw.insert(feed.clone(), (filter, set));
    }

    /// Records the content hashes (hex) the store holds for a feed, for its first refresh
    /// after a start.
    pub fn remember_hashes(&self, feed: &FeedId, hashes: &[String]) {
        let set = hashes
            .iter()
            .filter_map(|h| h.get(..16).and_then(|h| u64::from_str_radix(h, 16).ok()))
            .collect();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.insert(feed.clone(), set);
    }

    /// Records the entries of a fetch just stored (see [`FeedRuntime::unseen`]), as
    /// [`short_hashes`] taken before the entries went to the store.
    pub fn remember_seen(&self, feed: &FeedId, hashes: HashSet<u64>) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.insert(feed.clone(), hashes);
    }

    /// Forgets what was remembered of a feed's fetches (its entries and items, the warnings
    /// logged): called when the feed leaves the configuration, so that a daemon whose feeds
    /// come and go for months holds nothing for feeds it no longer polls, and a feed added
    /// again under the same id starts afresh.
    pub fn forget(&self, feed: &FeedId) {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(feed);
        self.raw
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(feed);
        self.warned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(feed);
    }

    /// The lock that keeps refreshes of one feed from overlapping.
    pub fn feed_guard(&self, feed: &FeedId) -> Arc<tokio::sync::Mutex<()>> {
        let mut guards = self.guards.lock().unwrap_or_else(|e| e.into_inner());
        guards.entry(feed.clone()).or_default().clone()
    }

    /// Remembers the WebSub hub and topic a feed's document named.
    pub fn note_websub(&self, feed: &FeedId, links: crate::parse::WebSubLinks) {
        let mut all = self.websub.lock().unwrap_or_else(|e| e.into_inner());
        all.insert(feed.clone(), links);
    }

    /// The WebSub hub and topic a feed's last parsed document named, if any.
    pub fn websub_links(&self, feed: &FeedId) -> Option<crate::parse::WebSubLinks> {
        let all = self.websub.lock().unwrap_or_else(|e| e.into_inner());
        all.get(feed).cloned()
    }

    /// The lock that keeps one feed's article fetching to one run at a time.
    pub fn full_text_guard(&self, feed: &FeedId) -> Arc<tokio::sync::Mutex<()>> {
        let mut guards = self
            .full_text_guards
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        guards.entry(feed.clone()).or_default().clone()
    }

    /// Whether article pages may be asked of `host` now.
    pub fn page_host_ready(&self, host: &str) -> bool {
        let mut resting = self
            .page_hosts_resting
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match resting.get(host) {
            Some(until) if *until > std::time::Instant::now() => false,
            Some(_) => {
                resting.remove(host);
                true
            }
            None => true,
        }
    }

    /// `host` asked for a rest (429/503): no article page is asked of it for `rest`.
    pub fn rest_page_host(&self, host: &str, rest: std::time::Duration) {
        let mut resting = self
            .page_hosts_resting
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        resting.insert(host.to_owned(), std::time::Instant::now() + rest);
    }

    /// The URL to poll for a feed: where it moved permanently, else the configured one.
    pub fn poll_url(&self, feed: &FeedConfig) -> url::Url {
        let moved = self.moved.lock().unwrap_or_else(|e| e.into_inner());
        match moved.get(&feed.id) {
            Some((configured, new)) if *configured == feed.url => new.clone(),
            _ => feed.url.clone(),
        }
    }

    /// Records that a feed moved permanently; true when this is news (to warn once per change).
    pub fn record_move(&self, feed: &FeedConfig, to: url::Url) -> bool {
        let mut moved = self.moved.lock().unwrap_or_else(|e| e.into_inner());
        let entry = (feed.url.clone(), to);
        if moved.get(&feed.id) == Some(&entry) {
            return false;
        }
        moved.insert(feed.id.clone(), entry);
        true
    }

    /// Records the kinds of warning a feed's latest refresh had; true when they differ from the
    /// previous refresh's (a feed never warned about counts as having had none), so that the
    /// log says it once per change rather than on every refresh.
    pub fn warning_kinds_changed(&self, feed: &FeedId, kinds: &[&str]) -> bool {
        let mut warned = self.warned.lock().unwrap_or_else(|e| e.into_inner());
        let before = warned.get(feed).map(Vec::as_slice).unwrap_or_default();
        if before.iter().map(String::as_str).eq(kinds.iter().copied()) {
            return false;
        }
        warned.insert(
            feed.clone(),
            kinds.iter().map(|k| (*k).to_owned()).collect(),
        );
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(url: &str) -> FeedConfig {
        let text = format!("[[feed]]\nid = \"a\"\nurl = \"{url}\"\n");
        crate::Config::parse(&text, std::path::Path::new("t.toml"))
            .unwrap()
            .feeds
            .remove(0)
    }

    #[test]
    fn a_move_applies_while_the_config_names_the_url_that_moved() {
        let rt = FeedRuntime::default();
        let old = feed("https://old.example/rss");
        let to = url::Url::parse("https://new.example/rss").unwrap();
        assert_eq!(rt.poll_url(&old), old.url);
        assert!(rt.record_move(&old, to.clone()));
        assert!(!rt.record_move(&old, to.clone()), "told once per change");
        assert_eq!(rt.poll_url(&old), to);
        // The operator updated feeds.toml: the configured URL is polled again.
        let edited = feed("https://elsewhere.example/rss");
        assert_eq!(rt.poll_url(&edited), edited.url);
    }

    fn with_hash(text: &str) -> Entry {
        Entry {
            key: text.into(),
            guid: None,
            link: None,
            canonical_url: None,
            title: text.into(),
            summary_html: String::new(),
            text: String::new(),
            published: None,
            updated: None,
            content_hash: crate::model::hex_digest(&[text]),
            media: Default::default(),
        }
    }

    #[test]
    fn entries_of_the_last_stored_fetch_are_seen_and_others_are_not() {
        let rt = FeedRuntime::default();
        let id = FeedId("a".into());
        let (old, new) = (with_hash("old"), with_hash("new"));
        assert_eq!(
            rt.unseen(&id, std::slice::from_ref(&old)),
            None,
            "nothing known after a start"
        );
        // The store's hashes seed the first refresh after a start…
        rt.remember_hashes(&id, std::slice::from_ref(&old.content_hash));
        assert_eq!(
            rt.unseen(&id, &[old.clone(), new.clone()]),
            Some(vec![false, true])
        );
        // …and each stored fetch replaces them.
        rt.remember_seen(&id, short_hashes(std::slice::from_ref(&new)));
        assert_eq!(rt.unseen(&id, &[old.clone(), new]), Some(vec![true, false]));
        // A feed that leaves the configuration is forgotten, its items' bytes too.
        let parsed = crate::parse::parse_feed(
            b"<rss><channel><item><title>T</title><guid>g</guid></item></channel></rss>",
            None,
            None,
            chrono::Utc::now(),
        )
        .unwrap();
        rt.remember_raw(&id, 0, &parsed.fingerprints, &parsed.items);
        assert!(rt.warning_kinds_changed(&id, &["repaired"]));
        let other = FeedId("b".into());
        rt.remember_seen(&other, short_hashes(std::slice::from_ref(&old)));
        rt.forget(&id);
        assert_eq!(rt.unseen(&id, std::slice::from_ref(&old)), None);
        assert!(rt.known_raw(&id, 0).is_empty());
        assert!(
            rt.warning_kinds_changed(&id, &["repaired"]),
            "logged afresh"
        );
        assert!(rt.unseen(&other, &[old]).is_some(), "other feeds stay");
    }
}
