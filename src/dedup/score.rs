//! The verification score: a handful of similarity features of two items, combined by a
//! logistic regression whose weights were fitted on labelled pairs (see `examples/dedup_train.rs`
//! and BENCHMARKS.md for how, and how well it does on a set it was not fitted on).
//!
//! Every feature is scale-free (cosines, Jaccards, containments, capped counts), so the score
//! means the same whether the index holds a hundred items or a million.

/// One item, reduced to what matching needs. Token ids come from the index's vocabulary.
#[derive(Clone, Debug, Default)]
pub struct Doc {
    /// Distinct title tokens, sorted.
    pub title: Vec<u32>,
    /// Distinct body tokens, sorted.
    pub body: Vec<u32>,
    /// Hashes of adjacent title-token pairs (phrases), sorted and distinct.
    pub title_pairs: Vec<u64>,
    /// Distinct number tokens in the title, sorted.
    pub title_numbers: Vec<u32>,
    /// Distinct number tokens anywhere, sorted.
    pub numbers: Vec<u32>,
    /// Publication time, Unix seconds.
    pub published: i64,
    /// The (month, day) the headline names, as month × 32 + day; 0 when none.
    pub title_date: u16,
    /// The stages of a story the headline names, a bit set (`text::title_stage`); 0 when none.
    pub title_stage: u16,
}

/// Whether the two headlines each name a stage of a story, and no stage in common: a
/// follow-up, not the same news (`text::title_stage`).
pub fn stages_differ(a: &Doc, b: &Doc) -> bool {
    a.title_stage != 0 && b.title_stage != 0 && a.title_stage & b.title_stage == 0
}

/// Feature names, in the order of [`features`] and [`WEIGHTS`].
pub const FEATURE_NAMES: [&str; 11] = [
    "title_cosine",
    "title_jaccard",
    "body_cosine",
    "all_cosine",
    "title_containment",
    "body_missing",
    "days_apart",
    "shared_numbers",
    "title_number_conflict",
    "title_phrases",
    "body_containment",
];

/// Number of features.
pub const N_FEATURES: usize = FEATURE_NAMES.len();

/// Logistic-regression weights (bias last), fitted by `examples/dedup_train.rs` on both dev sets.
pub const WEIGHTS: [f64; N_FEATURES + 1] = [
    2.761, 2.472, 1.024, 3.439, 2.070, 1.726, -1.837, 1.423, -0.477, 1.092, 1.239, -5.284,
];

/// The features of a pair of docs; `weight` gives a token's weight (its IDF), `keep_a` and
/// `keep_b` say whether a token counts for that doc (per-source boilerplate does not).
pub fn features(
    a: &Doc,
    b: &Doc,
    weight: &dyn Fn(u32) -> f64,
    keep_a: &dyn Fn(u32) -> bool,
    keep_b: &dyn Fn(u32) -> bool,
) -> [f64; N_FEATURES] {
    features_weighted(
        a,
        &Weighted::of(a, weight, keep_a),
        b,
        &Weighted::of(b, weight, keep_b),
    )
}

/// A doc's tokens with their weights, boilerplate dropped: computed once per doc of a lookup
/// (the new item is compared with up to a few dozen others).
pub struct Weighted {
    title: WSet,
    body: WSet,
    all: WSet,
}

/// A sorted set of (token, weight) with its sums.
struct WSet {
    items: Vec<(u32, f64)>,
    sum: f64,
    sq: f64,
}

impl WSet {
    fn empty() -> WSet {
        WSet {
            items: Vec::new(),
            sum: 0.0,
            sq: 0.0,
        }
    }

    fn sums(&mut self) {
        self.sum = self.items.iter().map(|x| x.1).sum();
        self.sq = self.items.iter().map(|x| x.1 * x.1).sum();
    }
}

impl Weighted {
    pub fn of(doc: &Doc, weight: &dyn Fn(u32) -> f64, keep: &dyn Fn(u32) -> bool) -> Weighted {
        let mut w = Weighted::empty();
        w.refill(doc, weight, keep);
        w
    }

    /// Nothing weighed yet (for [`Weighted::refill`]).
    pub fn empty() -> Weighted {
        Weighted {
            title: WSet::empty(),
            body: WSet::empty(),
            all: WSet::empty(),
        }
    }

    /// Weighs `doc` into this one's buffers: a lookup weighs each of its candidates, and
    /// allocating three vectors for each was a tenth of the store thread's time.
    pub fn refill(&mut self, doc: &Doc, weight: &dyn Fn(u32) -> f64, keep: &dyn Fn(u32) -> bool) {
        let weigh = |tokens: &[u32], into: &mut Vec<(u32, f64)>| {
            into.clear();
            into.extend(
                tokens
                    .iter()
                    .filter(|t| keep(**t))
                    .map(|t| (*t, weight(*t))),
            );
        };
        weigh(&doc.title, &mut self.title.items);
        weigh(&doc.body, &mut self.body.items);
        union_into(&self.title.items, &self.body.items, &mut self.all.items);
        self.title.sums();
        self.body.sums();
        self.all.sums();
    }
}

/// [`features`] of two docs already weighed.
pub fn features_weighted(a: &Doc, wa: &Weighted, b: &Doc, wb: &Weighted) -> [f64; N_FEATURES] {
    let (ta, tb, ba, bb) = (&wa.title, &wb.title, &wa.body, &wb.body);
    let body_missing = ba.items.is_empty() || bb.items.is_empty();
    let hours = (a.published - b.published).unsigned_abs() as f64 / 3600.0;
    let shared_numbers = intersection_len(&a.numbers, &b.numbers);
    let conflict = !a.title_numbers.is_empty()
        && !b.title_numbers.is_empty()
        && intersection_len(&a.title_numbers, &b.title_numbers) == 0;
    let title = Overlap::of(ta, tb);
    let body = Overlap::of(ba, bb);
    [
        title.cosine(),
        title.jaccard(),
        if body_missing { 0.0 } else { body.cosine() },
        Overlap::of(&wa.all, &wb.all).cosine(),
        Overlap::of(ta, &wb.all)
            .containment_of_a()
            .max(Overlap::of(tb, &wa.all).containment_of_a()),
        if body_missing { 1.0 } else { 0.0 },
        hours.min(72.0) / 24.0,
        (shared_numbers.min(3) as f64) / 3.0,
        if conflict { 1.0 } else { 0.0 },
        jaccard_u64(&a.title_pairs, &b.title_pairs),
        // The same wire copy under another headline: one body inside the other.
        if body_missing {
            0.0
        } else {
            body.containment_of_a().max(body.containment_of_b())
        },
    ]
}

/// Body texts long enough to carry a copy, one inside the other: the same wire copy under
/// another headline. The model sees few of these in training (headlines dominate short feed
/// items), so this rule states what the product promises outright.
pub fn is_body_copy(f: &[f64; N_FEATURES], a: &Doc, b: &Doc) -> bool {
    const MIN_CONTAINMENT: f64 = 0.8;
    may_be_body_copy(a, b) && f[10] >= MIN_CONTAINMENT
}

/// Whether both docs have bodies long enough for [`is_body_copy`] to say yes.
pub fn may_be_body_copy(a: &Doc, b: &Doc) -> bool {
    a.body.len() >= MIN_COPY_BODY_TOKENS && b.body.len() >= MIN_COPY_BODY_TOKENS
}

/// The fewest distinct body tokens a copy of a body has (shorter bodies are too little to
/// call one a copy of the other).
pub const MIN_COPY_BODY_TOKENS: usize = 12;

/// The probability that two items are the same story.
pub fn probability(f: &[f64; N_FEATURES], weights: &[f64; N_FEATURES + 1]) -> f64 {
    let z = weights[N_FEATURES]
        + f.iter()
            .zip(weights.iter())
            .map(|(x, w)| x * w)
            .sum::<f64>();
    1.0 / (1.0 + (-z).exp())
}

/// The union of two sorted weighted sets (a merge: both are sorted and distinct), into `v`.
fn union_into(a: &[(u32, f64)], b: &[(u32, f64)], v: &mut Vec<(u32, f64)>) {
    v.clear();
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => {
                v.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                v.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                v.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    v.extend_from_slice(&a[i..]);
    v.extend_from_slice(&b[j..]);
}

fn intersection_len(a: &[u32], b: &[u32]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

/// Sums over two sorted weighted sets: what they share and what each holds.
struct Overlap {
    /// Σ w over shared tokens.
    shared: f64,
    /// Σ w² over shared tokens.
    shared_sq: f64,
    sum_a: f64,
    sum_b: f64,
    sq_a: f64,
    sq_b: f64,
}

impl Overlap {
    fn of(wa: &WSet, wb: &WSet) -> Overlap {
        let (a, b) = (&wa.items, &wb.items);
        let mut o = Overlap {
            shared: 0.0,
            shared_sq: 0.0,
            sum_a: wa.sum,
            sum_b: wb.sum,
            sq_a: wa.sq,
            sq_b: wb.sq,
        };
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            match a[i].0.cmp(&b[j].0) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    o.shared += a[i].1;
                    o.shared_sq += a[i].1 * a[i].1;
                    i += 1;
                    j += 1;
                }
            }
        }
        o
    }

    /// Cosine of the two sets, each member's vector entry being its weight.
    fn cosine(&self) -> f64 {
        let norm = (self.sq_a * self.sq_b).sqrt();
        if norm > 0.0 {
            self.shared_sq / norm
        } else {
            0.0
        }
    }

    fn jaccard(&self) -> f64 {
        let union = self.sum_a + self.sum_b - self.shared;
        if union > 0.0 {
            self.shared / union
        } else {
            0.0
        }
    }

    /// The weighted share of `a` that is also in `b`.
    fn containment_of_a(&self) -> f64 {
        if self.sum_a > 0.0 {
            self.shared / self.sum_a
        } else {
            0.0
        }
    }

    fn containment_of_b(&self) -> f64 {
        if self.sum_b > 0.0 {
            self.shared / self.sum_b
        } else {
            0.0
        }
    }
}

/// Jaccard of two sorted, distinct lists (a merge, no hashing).
fn jaccard_u64(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut shared) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                shared += 1;
                i += 1;
                j += 1;
            }
        }
    }
    shared as f64 / (a.len() + b.len() - shared) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(title: &[u32], body: &[u32]) -> Doc {
        Doc {
            title: title.to_vec(),
            body: body.to_vec(),
            ..Doc::default()
        }
    }

    #[test]
    fn identical_docs_score_one_and_disjoint_zero() {
        let w = |_t: u32| 1.0;
        let all = |_t: u32| true;
        let a = doc(&[1, 2, 3], &[4, 5]);
        let f = features(&a, &a, &w, &all, &all);
        assert!((f[0] - 1.0).abs() < 1e-9);
        assert!((f[1] - 1.0).abs() < 1e-9);
        assert!((f[2] - 1.0).abs() < 1e-9);
        assert_eq!(f[5], 0.0);
        let b = doc(&[7, 8], &[]);
        let f = features(&a, &b, &w, &all, &all);
        assert_eq!(f[0], 0.0);
        assert_eq!(f[5], 1.0, "one body is missing");
    }

    #[test]
    fn rare_shared_tokens_weigh_more() {
        let all = |_t: u32| true;
        let w = |t: u32| if t == 1 { 5.0 } else { 1.0 };
        let a = doc(&[1, 2], &[]);
        let b = doc(&[1, 3], &[]);
        let c = doc(&[2, 3], &[]);
        let ab = features(&a, &b, &w, &all, &all)[0];
        let ac = features(&a, &c, &w, &all, &all)[0];
        assert!(ab > ac, "{ab} vs {ac}");
    }

    #[test]
    fn dropped_tokens_do_not_count() {
        let w = |_t: u32| 1.0;
        let all = |_t: u32| true;
        let not_9 = |t: u32| t != 9;
        let a = doc(&[9, 1], &[]);
        let b = doc(&[9, 2], &[]);
        assert!(features(&a, &b, &w, &all, &all)[0] > 0.0);
        assert_eq!(features(&a, &b, &w, &not_9, &not_9)[0], 0.0);
    }

    #[test]
    fn numbers_in_titles_that_disagree_are_a_conflict() {
        let w = |_t: u32| 1.0;
        let all = |_t: u32| true;
        let mut a = doc(&[1], &[]);
        let mut b = doc(&[1], &[]);
        a.title_numbers = vec![10];
        b.title_numbers = vec![11];
        assert_eq!(features(&a, &b, &w, &all, &all)[8], 1.0);
        b.title_numbers = vec![10];
        assert_eq!(features(&a, &b, &w, &all, &all)[8], 0.0);
    }

    #[test]
    fn phrase_jaccard_counts_shared_pairs_by_merge() {
        assert_eq!(jaccard_u64(&[1, 2, 3], &[2, 3, 4]), 0.5);
        assert_eq!(jaccard_u64(&[1, 5], &[2, 6]), 0.0);
        assert_eq!(jaccard_u64(&[7], &[7]), 1.0);
        assert_eq!(jaccard_u64(&[], &[7]), 0.0);
    }

    #[test]
    fn probability_is_monotone_in_similarity() {
        let low = [0.1, 0.1, 0.1, 0.1, 0.1, 0.0, 0.5, 0.0, 0.0, 0.0, 0.1];
        let high = [0.9, 0.8, 0.7, 0.8, 0.9, 0.0, 0.1, 0.3, 0.0, 0.5, 0.8];
        assert!(probability(&high, &WEIGHTS) > probability(&low, &WEIGHTS));
    }
}
