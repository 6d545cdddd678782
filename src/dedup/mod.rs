//! Deciding which story a new item belongs to.
//!
//! Layer 1 (same feed, same key: a revision) and layer 2 (same canonical URL) are lookups the
//! store does in SQL. Layer 3 (near-duplicate text from another outlet) lives here:
//! [`NearDuplicates`], an in-memory index over the items inside the matching window, owned by
//! the store thread and rebuilt from the database at start.
//!
//! Layer 3 in three steps, so that the cost of one new item does not grow with the number of
//! stored items:
//! 1. **Text** ([`text`]): headline suffixes, datelines, bylines, agency tails and share
//!    boilerplate are stripped; the rest becomes tokens (words, CJK character bigrams, numbers).
//!    Tokens that one source puts on most of its items (its own boilerplate) are ignored for
//!    that source.
//! 2. **Candidates**: an inverted index from token to the items carrying it. Only tokens rarer
//!    than [`MAX_POSTINGS`] items are looked up (common words are no evidence and their lists
//!    are long), so the work per item is bounded by a constant. The items sharing the most
//!    IDF-weighted rare tokens, from other sources and within the time window, are candidates.
//! 3. **Verification** ([`score`]): a logistic regression over title and text similarities decides;
//!    the best candidate at or above the threshold gives its story.

pub mod score;
pub mod text;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use rustc_hash::FxHashMap as HashMap;

use chrono::{DateTime, Utc};

use crate::config::{DedupConfig, FeedId};
use crate::parse::Entry;
use score::{Doc, N_FEATURES, WEIGHTS};

/// Tokens carried by more items than this are not used to find candidates.
pub const MAX_POSTINGS: usize = 200;
/// How many candidates are verified per new item.
pub const MAX_CANDIDATES: usize = 12;
/// The probability given to the same body text under another headline.
pub const COPY_PROBABILITY: f64 = 0.95;
/// How many rare tokens a candidate must share with the new item (title and text together).
pub const MIN_SHARED_TOKENS: u32 = 2;
/// How far below the threshold the mean over a story's members may be: the best member must
/// reach the threshold, the story as a whole nearly so (its members differ among themselves).
pub const STORY_SLACK: f64 = 0.2;
/// A probability at which one member is enough evidence (near-verbatim copies).
pub const STRONG_MATCH: f64 = 0.9;
/// How many candidates from the new item's own feed are verified besides
/// [`MAX_CANDIDATES`] from other feeds (kept apart, so that a feed's look-alike items never
/// crowd out other outlets' copies). A same-feed candidate joins only at [`STRONG_MATCH`].
pub const MAX_SAME_FEED_CANDIDATES: usize = 2;
/// How alike (weighted Jaccard) two headlines of one outlet must be to join when either item
/// has no body (see `Verified::near_verbatim`).
pub const SAME_FEED_TITLE_JACCARD: f64 = 0.8;
/// How many candidates published outside the window but inside `[dedup] copy_window_hours`
/// are verified besides the others: a late copy joins only as a copy of the text.
pub const MAX_LATE_CANDIDATES: usize = 4;
/// The most two items whose headlines name different stages of a story may score (see
/// [`text::title_stage`]): below any sensible threshold, so they never join, and kept apart
/// from zero so that `explain --near` can tell the rule from the date rule's.
pub const STAGE_CAP: f64 = 0.25;
/// Members of each story compared when deciding whether two stories are one.
const MERGE_MEMBERS: usize = 8;
/// A source's token is its boilerplate when it is on at least this share of the source's items…
const BOILERPLATE_SHARE: f64 = 0.4;
/// …and the source has at least this many items.
const BOILERPLATE_MIN_ITEMS: u32 = 15;
/// How often (in a feed's items) its boilerplate set is recomputed.
const BOILERPLATE_REFRESH: u32 = 16;

/// How an item joined its story.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinLayer {
    /// It started the story.
    First,
    /// Its canonical URL equals an earlier member's.
    SameUrl,
    /// Its text is a near duplicate of an earlier member's.
    NearDuplicate,
}

impl JoinLayer {
    pub fn as_str(self) -> &'static str {
        match self {
            JoinLayer::First => "first",
            JoinLayer::SameUrl => "same_url",
            JoinLayer::NearDuplicate => "near_duplicate",
        }
    }
}

/// A decision to put a new item into an existing story.
#[derive(Clone, Debug, PartialEq)]
pub struct Join {
    pub story_id: String,
    /// The stored item it matched.
    pub item_id: i64,
    pub layer: JoinLayer,
    pub score: Option<f64>,
    /// Other stories the item matches as strongly, whose members match the joined story's
    /// too: one story told twice, to be merged into one (see `NearDuplicates::decide`).
    pub merge: Vec<String>,
}

/// The near-duplicate layer: an index of recent items and the rule that decides a match.
pub struct NearDuplicates {
    config: DedupConfig,
    weights: [f64; N_FEATURES + 1],
    /// Token id by [`text::token_key`] (a number: the store thread neither hashes nor
    /// compares token strings, and no string is kept per word).
    vocab: HashMap<u64, u32>,
    /// Per token: how many indexed items (ever, since start) carried it. Kept for tokens no
    /// indexed item carries any more, too: a word that comes back after weeks keeps its
    /// rarity (freeing them cost ghdev 0.008 precision and 0.02 recall). The vocabulary grows
    /// with distinct tokens, which grow far slower than items (Heaps' law).
    df: Vec<u32>,
    /// Posting entries of items no longer indexed (removed in bulk by the sweep).
    dead_postings: usize,
    /// Posting entries of indexed items.
    live_postings: usize,
    docs_seen: u32,
    feeds: HashMap<String, u32>,
    feed_stats: Vec<FeedStats>,
    slots: Vec<Slot>,
    /// Per slot, what the candidate scan checks, kept apart from the docs so that scanning a
    /// posting list touches one small array (cache locality matters more than anything here).
    meta: Vec<SlotMeta>,
    free: Vec<u32>,
    postings: HashMap<u32, Vec<(u32, u32)>>,
    /// The indexed members of each story, as (slot, generation).
    story_slots: HashMap<String, Vec<(u32, u32)>>,
    /// Scratch space of candidate generation: per slot, (weight, shared tokens, query stamp).
    scratch: std::cell::RefCell<Scratch>,
    /// `ln(n + 1)` for the `n` last asked about (see [`NearDuplicates::weigher`]).
    ln_n: std::cell::Cell<(u32, f64)>,
    /// Items by publication time, oldest first, for eviction from the window.
    by_time: BinaryHeap<Reverse<(i64, u32, u32)>>,
    newest: i64,
}

#[derive(Default)]
struct FeedStats {
    /// This feed's items in the index.
    items: u32,
    /// Its most recent [`BOILERPLATE_SAMPLE`] items, as (slot, generation): what its
    /// boilerplate is read from. (A per-feed count of every token grew with the number of
    /// feeds: ~1,500 entries a feed, over a hundred megabytes at 5,000 feeds.)
    recent: std::collections::VecDeque<(u32, u32)>,
    /// The tokens that are this feed's boilerplate, sorted, recomputed from `recent` every
    /// [`BOILERPLATE_REFRESH`] items (it is consulted for every token of every comparison:
    /// sorted, a candidate's tokens are filtered by one merge).
    boilerplate: Vec<u32>,
}

/// The items of a feed its boilerplate is read from: its most recent ones.
const BOILERPLATE_SAMPLE: usize = 128;

/// The tokens carried by at least [`BOILERPLATE_SHARE`] of the live items among `recent`
/// published since `since` (none when fewer than [`BOILERPLATE_MIN_ITEMS`] are). The items
/// kept only for late copies (past two windows) do not count: what a source puts on its items
/// now is read from its items of now.
fn boilerplate_of(
    recent: &std::collections::VecDeque<(u32, u32)>,
    slots: &[Slot],
    since: i64,
) -> Vec<u32> {
    let live: Vec<&Doc> = recent
        .iter()
        .filter_map(|&(slot, g)| {
            let s = &slots[slot as usize];
            (s.alive && s.generation == g && s.doc.published >= since).then_some(&s.doc)
        })
        .collect();
    if (live.len() as u32) < BOILERPLATE_MIN_ITEMS {
        return Vec::new();
    }
    // Sized for a feed's usual vocabulary over its sample, so that counting never regrows it.
    let mut counts: rustc_hash::FxHashMap<u32, u32> =
        rustc_hash::FxHashMap::with_capacity_and_hasher(4096, Default::default());
    for doc in &live {
        doc.for_each_token(|t| *counts.entry(t).or_default() += 1);
    }
    let min = BOILERPLATE_SHARE * live.len() as f64;
    let mut out: Vec<u32> = counts
        .into_iter()
        .filter(|(_, c)| f64::from(*c) >= min)
        .map(|(t, _)| t)
        .collect();
    out.sort_unstable();
    out
}

/// A candidate slot and its weight of shared rare tokens.
type Ranked = (u32, f64);

/// Per slot (weight, shared tokens, query stamp), and the current query's stamp.
type Scratch = (Vec<(f64, u32, u32)>, u32);

#[derive(Clone, Copy, Default)]
struct SlotMeta {
    /// Matches the generation in postings while the slot holds the item they were made for.
    generation: u32,
    feed: u32,
    published: i64,
}

struct Slot {
    generation: u32,
    alive: bool,
    item_id: i64,
    feed: u32,
    story: Arc<str>,
    doc: Doc,
}

/// An item's text made ready for matching without the index: boilerplate cleaned off and
/// tokenised. A pure function of the text ([`prepare`]), so the refresh layer runs it on the
/// blocking pool, both cores, while the store thread (which alone may touch the index) only
/// interns the tokens and looks them up. This was half of the store thread's time per item.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Prepared {
    /// A rolling format (live page, weather, listings): never matched by text.
    rolling: bool,
    title: text::Tokens,
    body: text::Tokens,
    /// The (month, day) the headline names, if any (see [`text::title_date`]).
    title_date: Option<(u32, u32)>,
    /// The stages of a story the headline names (see [`text::title_stage`]).
    title_stage: u16,
    /// The body adds too little to the headline to be compared (it is still searched).
    body_ignored: bool,
}

impl Prepared {
    /// A rolling format (never matched by text, and not tokenised).
    pub fn is_rolling(&self) -> bool {
        self.rolling
    }

    /// The tokens as the search index holds them (see `store::search`).
    pub fn search_text(&self) -> String {
        let mut out = self.title.joined();
        if !self.body.is_empty() {
            out.push(' ');
            out.push_str(&self.body.joined());
        }
        out
    }
}

/// Cleans and tokenises an item's title and text for [`NearDuplicates::find_prepared`].
pub fn prepare(title: &str, text: &str) -> Prepared {
    if text::is_rolling_format(title) || text::is_media_stub(text) {
        return Prepared {
            rolling: true,
            ..Prepared::default()
        };
    }
    tokens_of(title, text)
}

/// An item's tokens (whatever its format): the cleaned headline's, and the body's unless it
/// only echoes the headline.
fn tokens_of(title: &str, text: &str) -> Prepared {
    let title_tokens = text::Tokens::of(&text::clean_title(title));
    let body = text::Tokens::of(&text::clean_body(text));
    // A description that adds at most a few words to its headline — a pool's echo of the
    // headline with the publisher's name, a one-line teaser — is no body to compare: matched
    // as one, it reads as a short, dissimilar text. (It is still searched.)
    let extra = body
        .keys()
        .filter(|k| !title_tokens.contains_key(*k))
        .count();
    let echo = (1..=ECHO_EXTRA_TOKENS).contains(&extra)
        && body.len() <= title_tokens.len() + ECHO_EXTRA_TOKENS;
    let body_ignored = !body.is_empty() && (echo || text::is_link_list(text));
    Prepared {
        rolling: false,
        title_date: text::title_date(title),
        title_stage: text::title_stage(title),
        title: title_tokens,
        body,
        body_ignored,
    }
}

/// Tokens a description may add to its headline (a publisher's name) and still be an echo.
const ECHO_EXTRA_TOKENS: usize = 3;

/// A new item being looked up: its doc, feed and weighed tokens (as a table for candidates to
/// probe, made when the first candidate is verified).
struct Query<'a> {
    doc: &'a Doc,
    feed: u32,
    weighted: score::Weighted,
    probe: std::cell::OnceCell<score::Probe>,
}

/// A candidate of `explain --near`: the item, its story, its probability and why it did or
/// did not join.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct NearCandidate {
    pub item_id: i64,
    pub story_id: String,
    pub probability: f64,
    pub why: String,
}

/// A candidate with its verification.
#[derive(Clone, Debug, PartialEq)]
pub struct Verified {
    pub item_id: i64,
    pub story_id: Arc<str>,
    pub probability: f64,
    pub features: [f64; N_FEATURES],
    /// From the new item's own feed: it counts only when the model alone (title and text,
    /// without the body-copy rule) reaches [`STRONG_MATCH`] — one outlet carrying one story
    /// twice (a pool listing it under two publishers, a re-post under a new URL). An outlet
    /// reuses its own standfirst on related pieces (an obituary and "watch his best films"
    /// carried one description in ghdev), so its shared body alone is no evidence.
    pub same_feed: bool,
    /// The model's probability before the body-copy rule.
    pub model_probability: f64,
    /// Published further from the new item than `window_hours` (inside `copy_window_hours`):
    /// it counts only as a copy of the text (its probability is 0 otherwise).
    pub late: bool,
}

impl Verified {
    /// Whether this candidate may give the new item its story at `threshold`.
    fn may_join(&self, threshold: f64) -> bool {
        self.probability >= threshold && (!self.same_feed || self.near_verbatim())
    }

    /// A same-outlet candidate's bar: the model alone at [`STRONG_MATCH`], and when either
    /// has no body to compare, headlines nearly the same words ([`SAME_FEED_TITLE_JACCARD`]):
    /// one outlet's "Storm closes the port" and "Port reopens after storm" are two stories
    /// however rare their shared words.
    fn near_verbatim(&self) -> bool {
        let (body_missing, title_jaccard) = (self.features[5], self.features[1]);
        self.model_probability.min(self.probability) >= STRONG_MATCH
            && (body_missing == 0.0 || title_jaccard >= SAME_FEED_TITLE_JACCARD)
    }
}

impl NearDuplicates {
    pub fn new(config: DedupConfig) -> NearDuplicates {
        NearDuplicates::with_weights(config, WEIGHTS)
    }

    /// An index using other model weights (for training and evaluation).
    pub fn with_weights(config: DedupConfig, weights: [f64; N_FEATURES + 1]) -> NearDuplicates {
        NearDuplicates {
            config,
            weights,
            vocab: HashMap::default(),
            df: Vec::new(),
            dead_postings: 0,
            live_postings: 0,
            docs_seen: 0,
            feeds: HashMap::default(),
            feed_stats: Vec::new(),
            slots: Vec::new(),
            meta: Vec::new(),
            free: Vec::new(),
            postings: HashMap::default(),
            story_slots: HashMap::default(),
            scratch: std::cell::RefCell::new((Vec::new(), 0)),
            ln_n: std::cell::Cell::new((0, 0.0)),
            by_time: BinaryHeap::new(),
            newest: i64::MIN,
        }
    }

    /// An empty index with the same settings and weights (to rebuild from the database).
    pub fn emptied(&self) -> NearDuplicates {
        NearDuplicates::with_weights(self.config.clone(), self.weights)
    }

    pub fn enabled(&self) -> bool {
        self.config.near_duplicates
    }

    /// How many items the index holds.
    pub fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn window_secs(&self) -> i64 {
        i64::from(self.config.window_hours) * 3600
    }

    /// How far apart a copy of the text may be published: at least the window.
    fn copy_window_secs(&self) -> i64 {
        i64::from(self.config.copy_window_hours.max(self.config.window_hours)) * 3600
    }

    /// The story an entry from `feed` should join, if any.
    pub fn find(&mut self, feed: &FeedId, entry: &Entry, published: DateTime<Utc>) -> Option<Join> {
        if !self.enabled() {
            return None;
        }
        self.find_prepared(feed, &prepare(&entry.title, &entry.text), published)
            .0
    }

    /// [`NearDuplicates::find`] from prepared text; also returns the doc it made, for
    /// [`NearDuplicates::insert_doc`] once the item is stored (`None` when the item is not
    /// indexed: a rolling format, or the layer is off).
    pub fn find_prepared(
        &mut self,
        feed: &FeedId,
        prepared: &Prepared,
        published: DateTime<Utc>,
    ) -> (Option<Join>, Option<Doc>) {
        if !self.enabled() || prepared.rolling {
            return (None, None);
        }
        let feed_ix = self.feed_index(feed.as_str());
        let doc = self.doc_from(prepared, published.timestamp());
        let query = self.query(&doc, feed_ix);
        let candidates = self.candidates(&query);
        (self.decide(&query, &candidates), Some(doc))
    }

    /// Forgets a stored item (of `story_id`) whose text is about to change; true if it was
    /// indexed. Its postings are swept later like an evicted item's.
    pub fn remove_item(&mut self, item_id: i64, story_id: &str) -> bool {
        match self.slot_of(item_id, story_id) {
            Some(slot) => {
                let generation = self.slots[slot as usize].generation;
                self.forget(slot, generation);
                true
            }
            None => false,
        }
    }

    /// Adds a stored item to the index from the doc [`NearDuplicates::find_prepared`] made.
    pub fn insert_doc(&mut self, item_id: i64, feed: &FeedId, story_id: &str, doc: Doc) {
        let feed_ix = self.feed_index(feed.as_str());
        self.add_doc(item_id, feed_ix, story_id, doc);
    }

    /// The join, if any, among verified candidates (best first). A story is joined only when
    /// the new item is close to the story as a whole, not just to one member: the mean
    /// probability over the story's indexed members must reach the threshold too. This stops
    /// chains (A like B, B like C, so A joins C's story) from folding related stories together;
    /// the mean may fall short of the threshold by [`STORY_SLACK`].
    fn decide(&self, query: &Query<'_>, candidates: &[Verified]) -> Option<Join> {
        let threshold = self.config.threshold;
        let mut tried: Vec<&str> = Vec::new();
        for best in candidates
            .iter()
            .take_while(|c| c.probability >= threshold)
            .filter(|c| c.may_join(threshold))
        {
            if tried.contains(&&*best.story_id) {
                continue;
            }
            tried.push(&best.story_id);
            // A story that reached one stage is not joined by another stage's report through
            // a member that names none ("prepares the order" / "the order" / "signs it").
            if self.stage_conflict(query.doc, &best.story_id) {
                continue;
            }
            // A near-verbatim copy joins on its own evidence (and needs no other comparison).
            let mean = if best.probability >= STRONG_MATCH {
                best.probability
            } else {
                self.story_mean(query, &best.story_id)
                    .unwrap_or(best.probability)
            };
            if mean >= threshold - STORY_SLACK {
                let merge = self.also_the_same(query.doc, &best.story_id, candidates);
                return Some(Join {
                    story_id: best.story_id.to_string(),
                    item_id: best.item_id,
                    layer: JoinLayer::NearDuplicate,
                    score: Some(best.probability),
                    merge,
                });
            }
        }
        None
    }

    /// Stories other than `joined` that are the same story told twice: the new item matches a
    /// member of each near-verbatim (≥ [`STRONG_MATCH`]), and some member of the other story
    /// matches some member of `joined` by itself (across outlets, at the threshold) — so the
    /// merge never rests on the bridging item alone.
    fn also_the_same(&self, doc: &Doc, joined: &str, candidates: &[Verified]) -> Vec<String> {
        let mut merge: Vec<String> = Vec::new();
        let members =
            |story: &str| -> Vec<u32> { self.live_members(story).take(MERGE_MEMBERS).collect() };
        let ours = members(joined);
        for c in candidates
            .iter()
            .take_while(|c| c.probability >= STRONG_MATCH)
        {
            if &*c.story_id == joined
                || merge.iter().any(|m| **m == *c.story_id)
                || self.stage_conflict(doc, &c.story_id)
            {
                continue;
            }
            let theirs = members(&c.story_id);
            let agree = ours.iter().any(|&a| {
                theirs.iter().any(|&b| {
                    let (sa, sb) = (&self.slots[a as usize], &self.slots[b as usize]);
                    sa.feed != sb.feed
                        && self.judge(
                            &self.pair_features(&sa.doc, sa.feed, &sb.doc, sb.feed),
                            &sa.doc,
                            &sb.doc,
                        ) >= self.config.threshold
                })
            });
            if agree {
                merge.push(c.story_id.to_string());
            }
        }
        merge
    }

    /// For `explain --near`: the best candidates of an item (up to `limit`), each with its
    /// probability and why it did or did not join: the same rules `NearDuplicates::decide` applies.
    pub fn near_candidates(
        &mut self,
        feed: &FeedId,
        prepared: &Prepared,
        published: DateTime<Utc>,
        own_story: &str,
        limit: usize,
    ) -> Vec<NearCandidate> {
        if prepared.rolling {
            return Vec::new();
        }
        let feed_ix = self.feed_index(feed.as_str());
        let doc = self.doc_from(prepared, published.timestamp());
        let query = self.query(&doc, feed_ix);
        let threshold = self.config.threshold;
        let candidates = self.candidates(&query);
        candidates
            .iter()
            .take(limit)
            .map(|c| {
                let other = self
                    .slot_of(c.item_id, &c.story_id)
                    .map(|s| &self.slots[s as usize].doc);
                let other_date = other.map_or(0, |d| d.title_date);
                let why = if &*c.story_id == own_story {
                    "in the same story".to_owned()
                } else if c.probability == 0.0 && doc.title_date != 0 && other_date != 0 {
                    "the headlines name different days".to_owned()
                } else if c.late && c.probability == 0.0 {
                    format!(
                        "published more than {} hours apart: joins only a copy of the text",
                        self.config.window_hours
                    )
                } else if c.probability <= STAGE_CAP
                    && other.is_some_and(|o| score::stages_differ(&doc, o))
                {
                    "the headlines name different stages of a story (a follow-up)".to_owned()
                } else if c.probability < threshold {
                    format!("probability below the threshold {threshold}")
                } else if !c.may_join(threshold) {
                    format!("the same outlet: joins only a near-verbatim copy (≥ {STRONG_MATCH})")
                } else if self.stage_conflict(&doc, &c.story_id) {
                    "a member of its story names another stage of the story (a follow-up)"
                        .to_owned()
                } else {
                    let mean = self.story_mean(&query, &c.story_id).unwrap_or(c.probability);
                    if mean < threshold - STORY_SLACK && c.probability < STRONG_MATCH {
                        format!(
                            "its story's members average {mean:.3}, below {:.2}",
                            threshold - STORY_SLACK
                        )
                    } else {
                        "close enough: it was not in the index then (stored later, or outside the window)".to_owned()
                    }
                };
                NearCandidate {
                    item_id: c.item_id,
                    story_id: c.story_id.to_string(),
                    probability: c.probability,
                    why,
                }
            })
            .collect()
    }

    /// Whether some indexed member of `story` names a stage of a story and `doc` names
    /// another, none in common (see [`score::stages_differ`]).
    fn stage_conflict(&self, doc: &Doc, story: &str) -> bool {
        doc.title_stage != 0
            && self
                .live_members(story)
                .any(|slot| score::stages_differ(doc, &self.slots[slot as usize].doc))
    }

    /// The slots of a story's members still indexed.
    fn live_members<'a>(&'a self, story: &str) -> impl Iterator<Item = u32> + 'a {
        self.story_slots
            .get(story)
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .filter(|&&(slot, g)| {
                let s = &self.slots[slot as usize];
                s.alive && s.generation == g
            })
            .map(|&(slot, _)| slot)
    }

    fn slot_of(&self, item_id: i64, story: &str) -> Option<u32> {
        self.live_members(story)
            .find(|&slot| self.slots[slot as usize].item_id == item_id)
    }

    /// The mean probability of a query against a story's indexed members (`None` when none
    /// is indexed).
    fn story_mean(&self, query: &Query<'_>, story: &str) -> Option<f64> {
        let probabilities: Vec<f64> = self
            .live_members(story)
            .map(|slot| {
                let s = &self.slots[slot as usize];
                let f = self.query_features(query, &s.doc, s.feed);
                score::probability(&f, &self.weights)
            })
            .collect();
        (!probabilities.is_empty())
            .then(|| probabilities.iter().sum::<f64>() / probabilities.len() as f64)
    }

    /// Renames a story in the index (two stories merged: `from` is now `into`).
    pub fn merge_story(&mut self, from: &str, into: &str) {
        let Some(moved) = self.story_slots.remove(from) else {
            return;
        };
        let story: Arc<str> = Arc::from(into);
        for &(slot, g) in &moved {
            let s = &mut self.slots[slot as usize];
            if s.alive && s.generation == g {
                s.story = Arc::clone(&story);
            }
        }
        self.story_slots
            .entry(into.to_owned())
            .or_default()
            .extend(moved);
    }

    /// Candidates of `doc` from the index, verified, best first.
    fn candidates(&self, query: &Query<'_>) -> Vec<Verified> {
        let mut out: Vec<Verified> = self
            .ranked_slots(query.doc, query.feed)
            .into_iter()
            .map(|slot| self.verify_slot(query, slot))
            .collect();
        out.sort_by(|a, b| {
            b.probability
                .total_cmp(&a.probability)
                .then(a.item_id.cmp(&b.item_id))
        });
        out
    }

    /// Candidate generation: the indexed items from other feeds, within the window, that share
    /// the most IDF-weighted rare tokens with `doc` (at least [`MIN_SHARED_TOKENS`]; at most
    /// [`MAX_CANDIDATES`], best first). A dense per-slot accumulator, stamped per query so that
    /// it never needs clearing (a hash map here costs more than everything else in a lookup).
    fn ranked_slots(&self, doc: &Doc, feed_ix: u32) -> Vec<u32> {
        let published = doc.published;
        // Items past the window count only as copies of a body: none without one.
        let window = if doc.body.len() >= score::MIN_COPY_BODY_TOKENS {
            self.copy_window_secs()
        } else {
            self.window_secs()
        };
        let weight = self.weigher();
        let mut scratch = self.scratch.borrow_mut();
        let (acc, stamp) = &mut *scratch;
        *stamp = stamp.wrapping_add(1);
        let stamp = *stamp;
        if acc.len() < self.slots.len() {
            acc.resize(self.slots.len(), (0.0, 0, 0));
        }
        let mut touched: Vec<u32> = Vec::new();
        // Body words are many and weaker evidence: only their rarer ones are looked up.
        for (tokens, boost, cap) in [
            (&doc.title, 2.0, MAX_POSTINGS),
            (&doc.body, 1.0, MAX_POSTINGS / 4),
        ] {
            for &t in tokens.iter() {
                let Some(list) = self.postings.get(&t) else {
                    continue;
                };
                if list.len() > cap || !self.keeps(feed_ix, t) {
                    continue;
                }
                let w = weight(t) * boost;
                for &(slot, generation) in list {
                    let m = self.meta[slot as usize];
                    if m.generation != generation || (m.published - published).abs() > window {
                        continue;
                    }
                    let e = &mut acc[slot as usize];
                    if e.2 != stamp {
                        *e = (0.0, 0, stamp);
                        touched.push(slot);
                    }
                    e.0 += w;
                    e.1 += 1;
                }
            }
        }
        // One shared word is never enough evidence, however rare. Three groups, each with its
        // own cap, so that none crowds out another: other outlets inside the window, the same
        // outlet inside the window, and any outlet outside it (late copies).
        let in_window = self.window_secs();
        let (mut late, mut near): (Vec<Ranked>, Vec<Ranked>) = touched
            .into_iter()
            .filter(|slot| acc[*slot as usize].1 >= MIN_SHARED_TOKENS)
            .map(|slot| (slot, acc[slot as usize].0))
            .partition(|(slot, _)| {
                (self.meta[*slot as usize].published - published).abs() > in_window
            });
        let (mut same, mut other): (Vec<Ranked>, Vec<Ranked>) = near
            .drain(..)
            .partition(|(slot, _)| self.meta[*slot as usize].feed == feed_ix);
        let order = |a: &(u32, f64), b: &(u32, f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        let best = |ranked: &mut Vec<(u32, f64)>, cap: usize| {
            if ranked.len() > cap {
                ranked.select_nth_unstable_by(cap - 1, order);
                ranked.truncate(cap);
            }
            ranked.sort_by(order);
        };
        best(&mut other, MAX_CANDIDATES);
        best(&mut same, MAX_SAME_FEED_CANDIDATES);
        best(&mut late, MAX_LATE_CANDIDATES);
        other
            .into_iter()
            .chain(same)
            .chain(late)
            .map(|(slot, _)| slot)
            .collect()
    }

    /// Verification of one candidate: the model's probability, raised to
    /// [`COPY_PROBABILITY`] for the same body under another headline.
    fn verify_slot(&self, query: &Query<'_>, slot: u32) -> Verified {
        let s = &self.slots[slot as usize];
        let late = (s.doc.published - query.doc.published).abs() > self.window_secs();
        // A late item counts only as a copy of the text: nothing to compute without one.
        let f = if late && !score::may_be_body_copy(query.doc, &s.doc) {
            [0.0; N_FEATURES]
        } else {
            self.query_features(query, &s.doc, s.feed)
        };
        let model_probability = score::probability(&f, &self.weights);
        let mut probability = judged(model_probability, &f, query.doc, &s.doc);
        if late && !score::is_body_copy(&f, query.doc, &s.doc) {
            probability = 0.0;
        }
        Verified {
            item_id: s.item_id,
            story_id: s.story.clone(),
            probability,
            features: f,
            same_feed: s.feed == query.feed,
            model_probability,
            late,
        }
    }

    /// The probability that two docs with features `f` are one story: the model's, raised for
    /// a body copy, nothing for headlines about different days (different editions of a
    /// recurring piece).
    fn judge(&self, f: &[f64; N_FEATURES], a: &Doc, b: &Doc) -> f64 {
        judged(score::probability(f, &self.weights), f, a, b)
    }

    /// A new item's doc, weighed once for all its comparisons.
    fn query<'a>(&self, doc: &'a Doc, feed: u32) -> Query<'a> {
        let weight = self.weigher();
        Query {
            doc,
            feed,
            weighted: score::Weighted::of(doc, weight, self.dropped(feed)),
            probe: std::cell::OnceCell::new(),
        }
    }

    /// [`NearDuplicates::pair_features`] of a query and an indexed doc: the doc weighed and
    /// compared in one pass over its tokens, probing the query's (`score::features_probed`).
    fn query_features(&self, query: &Query<'_>, b: &Doc, feed_b: u32) -> [f64; N_FEATURES] {
        let probe = query
            .probe
            .get_or_init(|| score::Probe::of(&query.weighted));
        score::features_probed(
            query.doc,
            &query.weighted,
            probe,
            b,
            self.weigher(),
            self.dropped(feed_b),
        )
    }

    /// A token's weight: its IDF over the items indexed so far, as `ln(n + 1) - ln(df + 0.5)`
    /// (the BM25 form of [`idf`], rewritten): the first logarithm is shared by every token of
    /// a lookup and the second read from a table for all but the commonest tokens, so that
    /// weighing a candidate's hundred tokens computes no logarithm.
    fn weigher(&self) -> impl Fn(u32) -> f64 + '_ {
        let n = self.n_for_idf();
        let ln_n = match self.ln_n.get() {
            (m, l) if m == n => l,
            _ => {
                let l = (f64::from(n) + 1.0).ln();
                self.ln_n.set((n, l));
                l
            }
        };
        move |t: u32| {
            let df = self.df.get(t as usize).copied().unwrap_or(0);
            (ln_n - ln_df_half(df)).max(0.0)
        }
    }

    /// The tokens that do not count for items of feed `feed_ix`, sorted: its boilerplate.
    fn dropped(&self, feed_ix: u32) -> &[u32] {
        self.feed_stats
            .get(feed_ix as usize)
            .map_or(&[], |stats| stats.boilerplate.as_slice())
    }

    /// The features of two docs from two feeds (by feed index), with this index's weights.
    pub fn pair_features(&self, a: &Doc, feed_a: u32, b: &Doc, feed_b: u32) -> [f64; N_FEATURES] {
        score::features(
            a,
            b,
            self.weigher(),
            self.dropped(feed_a),
            self.dropped(feed_b),
        )
    }

    /// Adds a stored item to the index.
    pub fn insert(
        &mut self,
        item_id: i64,
        feed: &FeedId,
        story_id: &str,
        entry: &Entry,
        published: DateTime<Utc>,
    ) {
        self.insert_text(
            item_id,
            feed,
            story_id,
            &entry.title,
            &entry.text,
            published,
        );
    }

    /// Adds a stored item to the index from its stored fields.
    pub fn insert_text(
        &mut self,
        item_id: i64,
        feed: &FeedId,
        story_id: &str,
        title: &str,
        text: &str,
        published: DateTime<Utc>,
    ) {
        if !self.enabled() || text::is_rolling_format(title) {
            return;
        }
        let published = published.timestamp();
        let feed_ix = self.feed_index(feed.as_str());
        let doc = self.make_doc(title, text, published);
        self.add_doc(item_id, feed_ix, story_id, doc);
    }

    /// Adds a prepared doc (also used by the training example).
    pub fn add_doc(&mut self, item_id: i64, feed_ix: u32, story_id: &str, doc: Doc) -> u32 {
        let mut distinct: Vec<u32> = Vec::with_capacity(doc.title.len() + doc.body.len());
        doc.for_each_token(|t| distinct.push(t));
        self.docs_seen += 1;
        for &t in &distinct {
            self.df[t as usize] += 1;
        }
        let published = doc.published;
        let slot = match self.free.pop() {
            Some(slot) => {
                let s = &mut self.slots[slot as usize];
                s.generation += 1;
                s.alive = true;
                s.item_id = item_id;
                s.feed = feed_ix;
                s.story = Arc::from(story_id);
                s.doc = doc;
                slot
            }
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    alive: true,
                    item_id,
                    feed: feed_ix,
                    story: Arc::from(story_id),
                    doc,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let generation = self.slots[slot as usize].generation;
        let meta = SlotMeta {
            generation,
            feed: feed_ix,
            published,
        };
        if self.meta.len() <= slot as usize {
            self.meta.resize(slot as usize + 1, SlotMeta::default());
        }
        self.meta[slot as usize] = meta;
        for &t in &distinct {
            let list = self.postings.entry(t).or_default();
            // Drop entries of evicted items now and then, so lists do not grow without bound.
            if list.len() >= 64 && list.len().is_power_of_two() {
                let slots = &self.slots;
                let before = list.len();
                list.retain(|&(s, g)| {
                    let s = &slots[s as usize];
                    s.alive && s.generation == g
                });
                self.dead_postings = self.dead_postings.saturating_sub(before - list.len());
            }
            list.push((slot, generation));
        }
        self.live_postings += distinct.len();
        self.story_slots
            .entry(story_id.to_owned())
            .or_default()
            .push((slot, generation));
        self.by_time.push(Reverse((published, slot, generation)));
        self.newest = self.newest.max(published);
        let stats = &mut self.feed_stats[feed_ix as usize];
        stats.items += 1;
        stats.recent.push_back((slot, generation));
        if stats.recent.len() > BOILERPLATE_SAMPLE {
            stats.recent.pop_front();
        }
        if stats.items.is_multiple_of(BOILERPLATE_REFRESH) || stats.items == BOILERPLATE_MIN_ITEMS {
            let since = self.newest.saturating_sub(2 * self.window_secs());
            let fresh = boilerplate_of(
                &self.feed_stats[feed_ix as usize].recent,
                &self.slots,
                since,
            );
            self.feed_stats[feed_ix as usize].boilerplate = fresh;
        }
        self.evict();
        slot
    }

    /// How far back (before the newest item) the index keeps items: two windows, because
    /// feeds carry items of the last days in any order, and an item published a window ago
    /// may still arrive and match one published a window before it; and at least the copy
    /// window, for late copies.
    pub fn horizon_secs(&self) -> i64 {
        (2 * self.window_secs()).max(self.copy_window_secs())
    }

    /// Forgets items published more than [`Self::horizon_secs`] before the newest one, and
    /// the oldest items past `[dedup] max_indexed_items`; then sweeps dead postings when they have
    /// reached half the live ones.
    fn evict(&mut self) {
        let horizon = self.newest.saturating_sub(self.horizon_secs());
        while let Some(Reverse((published, slot, generation))) = self.by_time.peek().copied() {
            if published >= horizon && self.len() <= self.config.max_indexed_items {
                break;
            }
            self.by_time.pop();
            self.forget(slot, generation);
        }
        if self.dead_postings > 4096 && self.dead_postings * 2 > self.live_postings {
            self.sweep();
        }
    }

    /// Removes one item from the index (if `slot` still holds that generation of it).
    fn forget(&mut self, slot: u32, generation: u32) {
        let s = &mut self.slots[slot as usize];
        if !(s.alive && s.generation == generation) {
            return;
        }
        s.alive = false;
        let doc = std::mem::take(&mut s.doc);
        self.free.push(slot);
        // No posting matches this generation any more.
        self.meta[slot as usize].generation = u32::MAX;
        let story = std::mem::take(&mut s.story);
        let feed_ix = s.feed;
        if let Some(members) = self.story_slots.get_mut(&*story) {
            members.retain(|&(m, g)| (m, g) != (slot, generation));
            if members.is_empty() {
                self.story_slots.remove(&*story);
            }
        }
        let mut distinct = 0;
        doc.for_each_token(|_| distinct += 1);
        if let Some(stats) = self.feed_stats.get_mut(feed_ix as usize) {
            stats.items = stats.items.saturating_sub(1);
        }
        self.live_postings = self.live_postings.saturating_sub(distinct);
        self.dead_postings += distinct;
    }

    /// Drops every posting of an item no longer indexed, and the posting lists left empty.
    /// Linear in the index's size, and run only when dead postings reach half the live ones, so its
    /// cost per item is constant: postings follow the items indexed, not the items ever seen.
    fn sweep(&mut self) {
        let slots = &self.slots;
        self.postings.retain(|_, list| {
            list.retain(|&(s, g)| {
                let s = &slots[s as usize];
                s.alive && s.generation == g
            });
            list.shrink_to_fit();
            !list.is_empty()
        });
        self.dead_postings = 0;
        let slots = &self.slots;
        for stats in &mut self.feed_stats {
            stats.recent.retain(|&(s, g)| {
                let s = &slots[s as usize];
                s.alive && s.generation == g
            });
        }
        self.postings.shrink_to_fit();
        self.story_slots.shrink_to_fit();
    }

    /// The index of a feed, allocating one for a feed not seen before.
    pub fn feed_index(&mut self, feed: &str) -> u32 {
        if let Some(&ix) = self.feeds.get(feed) {
            return ix;
        }
        let ix = self.feed_stats.len() as u32;
        self.feeds.insert(feed.to_owned(), ix);
        self.feed_stats.push(FeedStats::default());
        ix
    }

    /// Whether token `t` counts as evidence for items of feed `feed_ix` (not its boilerplate).
    fn keeps(&self, feed_ix: u32, t: u32) -> bool {
        self.dropped(feed_ix).binary_search(&t).is_err()
    }

    fn n_for_idf(&self) -> u32 {
        // A floor, so that the first items after a cold start do not treat every word as rare.
        self.docs_seen.max(200)
    }

    fn intern(&mut self, key: u64) -> u32 {
        if let Some(&id) = self.vocab.get(&key) {
            return id;
        }
        let id = self.df.len() as u32;
        self.df.push(0);
        self.vocab.insert(key, id);
        id
    }

    /// The id of a token already interned (for tests).
    #[cfg(test)]
    fn token_id(&self, token: &str) -> Option<u32> {
        self.vocab.get(&text::token_key(token)).copied()
    }

    /// Cleans, tokenises and interns an item's text.
    pub fn make_doc(&mut self, title: &str, text: &str, published: i64) -> Doc {
        self.doc_from(&tokens_of(title, text), published)
    }

    /// Interns prepared tokens into a doc.
    fn doc_from(&mut self, prepared: &Prepared, published: i64) -> Doc {
        let no_body = text::Tokens::default();
        let body_tokens = if prepared.body_ignored {
            &no_body
        } else {
            &prepared.body
        };
        let title_tokens = &prepared.title;
        let mut title_ids: Vec<u32> = Vec::with_capacity(title_tokens.len());
        let mut title_numbers = Vec::new();
        let mut numbers = Vec::new();
        for (tok, key) in title_tokens.keyed() {
            let is_number = tok.starts_with('#');
            let id = self.intern(key);
            if is_number {
                title_numbers.push(id);
                numbers.push(id);
            }
            title_ids.push(id);
        }
        let mut title_pairs: Vec<u64> = title_ids
            .windows(2)
            .map(|w| (u64::from(w[0]) << 32) | u64::from(w[1]))
            .collect();
        let mut body_ids = Vec::with_capacity(body_tokens.len());
        for (tok, key) in body_tokens.keyed() {
            let is_number = tok.starts_with('#');
            let id = self.intern(key);
            if is_number {
                numbers.push(id);
            }
            body_ids.push(id);
        }
        for v in [
            &mut title_ids,
            &mut body_ids,
            &mut title_numbers,
            &mut numbers,
        ] {
            v.sort_unstable();
            v.dedup();
        }
        title_pairs.sort_unstable();
        title_pairs.dedup();
        Doc {
            title: title_ids,
            body: body_ids,
            title_pairs,
            title_numbers,
            numbers,
            published,
            title_date: prepared.title_date.map_or(0, |(m, d)| (m * 32 + d) as u16),
            title_stage: prepared.title_stage,
        }
    }
}

/// [`NearDuplicates::judge`] from the model's probability of `f` (computed once by a caller
/// that keeps it too).
fn judged(model: f64, f: &[f64; N_FEATURES], a: &Doc, b: &Doc) -> f64 {
    let mut probability = model;
    if score::is_body_copy(f, a, b) {
        probability = probability.max(COPY_PROBABILITY);
    }
    if a.title_date != 0 && b.title_date != 0 && a.title_date != b.title_date {
        probability = 0.0;
    }
    if score::stages_differ(a, b) && !score::is_body_copy(f, a, b) {
        probability = probability.min(STAGE_CAP);
    }
    probability
}

/// Inverse document frequency (the BM25 form, never negative): what
/// [`NearDuplicates::weigher`] computes, in the form it was first written (the tests hold one
/// to the other).
#[cfg(test)]
fn idf(n: u32, df: u32) -> f64 {
    let (n, df) = (f64::from(n), f64::from(df));
    (1.0 + (n - df + 0.5).max(0.0) / (df + 0.5)).ln()
}

/// Document frequencies below this have `ln(df + 0.5)` in a table.
const LN_TABLE: usize = 4096;

/// `ln(df + 0.5)`, from a table for the common case (most tokens are rare).
fn ln_df_half(df: u32) -> f64 {
    static TABLE: std::sync::LazyLock<Vec<f64>> = std::sync::LazyLock::new(|| {
        (0..LN_TABLE as u32)
            .map(|df| (f64::from(df) + 0.5).ln())
            .collect()
    });
    match TABLE.get(df as usize) {
        Some(l) => *l,
        None => (f64::from(df) + 0.5).ln(),
    }
}

#[cfg(test)]
mod tests;
