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

/// The features of a pair of docs; `weight` gives a token's weight (its IDF), `dropped_a` and
/// `dropped_b` (sorted) are the tokens that do not count for that doc (its source's
/// boilerplate).
pub fn features(
    a: &Doc,
    b: &Doc,
    weight: impl Fn(u32) -> f64,
    dropped_a: &[u32],
    dropped_b: &[u32],
) -> [f64; N_FEATURES] {
    features_weighted(
        a,
        &Weighted::of(a, &weight, dropped_a),
        b,
        &Weighted::of(b, &weight, dropped_b),
    )
}

/// A doc's tokens with their weights, boilerplate dropped: computed once per doc of a lookup
/// (the new item is compared with up to a few dozen others).
pub struct Weighted {
    title: WSet,
    body: WSet,
    /// Title and body together, each token flagged [`IN_TITLE`] and/or [`IN_BODY`]: one merge
    /// of two docs' `all` sets gives every overlap the features need.
    all: AllSet,
}

const IN_TITLE: u8 = 1;
const IN_BODY: u8 = 2;

/// The union of a doc's weighted title and body, each token with where it occurs.
struct AllSet {
    items: Vec<(u32, f64, u8)>,
    sum: f64,
    sq: f64,
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
}

impl Weighted {
    pub fn of(doc: &Doc, weight: impl Fn(u32) -> f64, dropped: &[u32]) -> Weighted {
        let mut w = Weighted::empty();
        w.refill(doc, weight, dropped);
        w
    }

    /// Nothing weighed yet (for [`Weighted::refill`]).
    pub fn empty() -> Weighted {
        Weighted {
            title: WSet::empty(),
            body: WSet::empty(),
            all: AllSet {
                items: Vec::new(),
                sum: 0.0,
                sq: 0.0,
            },
        }
    }

    /// Weighs `doc` into this one's buffers, leaving out the tokens of `dropped` (sorted): a
    /// lookup weighs each of its candidates, and allocating three vectors for each was a tenth
    /// of the store thread's time. Generic over `weight` and filtered by a merge with the
    /// sorted `dropped`, so that no token costs an indirect call or a hash lookup (this loop
    /// runs for every token of every candidate).
    pub fn refill(&mut self, doc: &Doc, weight: impl Fn(u32) -> f64, dropped: &[u32]) {
        let weigh = |tokens: &[u32], into: &mut WSet| {
            into.items.clear();
            let (mut sum, mut sq) = (0.0, 0.0);
            let mut d = 0;
            for &t in tokens {
                while d < dropped.len() && dropped[d] < t {
                    d += 1;
                }
                if dropped.get(d) == Some(&t) {
                    continue;
                }
                let w = weight(t);
                sum += w;
                sq += w * w;
                into.items.push((t, w));
            }
            into.sum = sum;
            into.sq = sq;
        };
        weigh(&doc.title, &mut self.title);
        weigh(&doc.body, &mut self.body);
        union_into(&self.title.items, &self.body.items, &mut self.all);
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
    let shared = Shared::of(&wa.all, &wb.all);
    let title = shared.title.with(ta.sum, ta.sq, tb.sum, tb.sq);
    let body = shared.body.with(ba.sum, ba.sq, bb.sum, bb.sq);
    let all = shared
        .all
        .with(wa.all.sum, wa.all.sq, wb.all.sum, wb.all.sq);
    let title_a_in_b = shared.title_a.with(ta.sum, ta.sq, wb.all.sum, wb.all.sq);
    let title_b_in_a = shared.title_b.with(tb.sum, tb.sq, wa.all.sum, wa.all.sq);
    [
        title.cosine(),
        title.jaccard(),
        if body_missing { 0.0 } else { body.cosine() },
        all.cosine(),
        title_a_in_b
            .containment_of_a()
            .max(title_b_in_a.containment_of_a()),
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

/// The union of a doc's sorted weighted title and body (a merge: both are sorted and
/// distinct), into `all`, each token flagged with where it occurs, with its sums added in token
/// order as the merge goes (two more passes over the union were a tenth of weighing a
/// candidate).
fn union_into(a: &[(u32, f64)], b: &[(u32, f64)], all: &mut AllSet) {
    let v = &mut all.items;
    v.clear();
    // `Iterator::sum` of f64 starts from -0.0, as these do: every sum is what it was.
    let (mut sum, mut sq) = (-0.0, -0.0);
    let mut push = |t: u32, w: f64, flags: u8| {
        v.push((t, w, flags));
        sum += w;
        sq += w * w;
    };
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => {
                push(a[i].0, a[i].1, IN_TITLE);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                push(b[j].0, b[j].1, IN_BODY);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                push(a[i].0, a[i].1, IN_TITLE | IN_BODY);
                i += 1;
                j += 1;
            }
        }
    }
    for &(t, w) in &a[i..] {
        push(t, w, IN_TITLE);
    }
    for &(t, w) in &b[j..] {
        push(t, w, IN_BODY);
    }
    all.sum = sum;
    all.sq = sq;
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

/// Σ w and Σ w² over the tokens two sets share.
#[derive(Clone, Copy, Default)]
struct SharedSums {
    shared: f64,
    shared_sq: f64,
}

impl SharedSums {
    fn add(&mut self, w: f64) {
        self.shared += w;
        self.shared_sq += w * w;
    }

    fn with(self, sum_a: f64, sq_a: f64, sum_b: f64, sq_b: f64) -> Overlap {
        Overlap {
            shared: self.shared,
            shared_sq: self.shared_sq,
            sum_a,
            sum_b,
            sq_a,
            sq_b,
        }
    }
}

/// What two docs share, per pair of their sets: titles, bodies, all, a's title in b's all, b's
/// title in a's all. One merge of the two `all` sets finds every shared token with where it
/// occurs on each side; each sum adds the shared tokens in token order, as a merge of the two
/// sets alone would (the figures are the same to the last bit).
struct Shared {
    title: SharedSums,
    body: SharedSums,
    all: SharedSums,
    title_a: SharedSums,
    title_b: SharedSums,
}

impl Shared {
    fn of(a: &AllSet, b: &AllSet) -> Shared {
        let mut s = Shared {
            title: SharedSums::default(),
            body: SharedSums::default(),
            all: SharedSums::default(),
            title_a: SharedSums::default(),
            title_b: SharedSums::default(),
        };
        let (a, b) = (&a.items, &b.items);
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            match a[i].0.cmp(&b[j].0) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    let (w, fa, fb) = (a[i].1, a[i].2, b[j].2);
                    s.all.add(w);
                    if fa & IN_TITLE != 0 {
                        s.title_a.add(w);
                        if fb & IN_TITLE != 0 {
                            s.title.add(w);
                        }
                    }
                    if fb & IN_TITLE != 0 {
                        s.title_b.add(w);
                    }
                    if fa & fb & IN_BODY != 0 {
                        s.body.add(w);
                    }
                    i += 1;
                    j += 1;
                }
            }
        }
        s
    }
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
        let a = doc(&[1, 2, 3], &[4, 5]);
        let f = features(&a, &a, w, &[], &[]);
        assert!((f[0] - 1.0).abs() < 1e-9);
        assert!((f[1] - 1.0).abs() < 1e-9);
        assert!((f[2] - 1.0).abs() < 1e-9);
        assert_eq!(f[5], 0.0);
        let b = doc(&[7, 8], &[]);
        let f = features(&a, &b, w, &[], &[]);
        assert_eq!(f[0], 0.0);
        assert_eq!(f[5], 1.0, "one body is missing");
    }

    #[test]
    fn rare_shared_tokens_weigh_more() {
        let w = |t: u32| if t == 1 { 5.0 } else { 1.0 };
        let a = doc(&[1, 2], &[]);
        let b = doc(&[1, 3], &[]);
        let c = doc(&[2, 3], &[]);
        let ab = features(&a, &b, w, &[], &[])[0];
        let ac = features(&a, &c, w, &[], &[])[0];
        assert!(ab > ac, "{ab} vs {ac}");
    }

    #[test]
    fn dropped_tokens_do_not_count() {
        let w = |_t: u32| 1.0;
        let a = doc(&[9, 1], &[]);
        let b = doc(&[9, 2], &[]);
        assert!(features(&a, &b, w, &[], &[])[0] > 0.0);
        assert_eq!(features(&a, &b, w, &[9], &[9])[0], 0.0);
    }

    #[test]
    fn numbers_in_titles_that_disagree_are_a_conflict() {
        let w = |_t: u32| 1.0;
        let mut a = doc(&[1], &[]);
        let mut b = doc(&[1], &[]);
        a.title_numbers = vec![10];
        b.title_numbers = vec![11];
        assert_eq!(features(&a, &b, w, &[], &[])[8], 1.0);
        b.title_numbers = vec![10];
        assert_eq!(features(&a, &b, w, &[], &[])[8], 0.0);
    }

    /// The features as first written: each overlap by its own pass over two sets, kept here as
    /// the reference for the fused merge of [`features_weighted`].
    fn reference(a: &Doc, b: &Doc, w: &dyn Fn(u32) -> f64, da: &[u32], db: &[u32]) -> Vec<f64> {
        use std::collections::BTreeSet;
        let set = |v: &[u32], d: &[u32]| -> BTreeSet<u32> {
            v.iter().copied().filter(|t| !d.contains(t)).collect()
        };
        let (ta, ba, tb, bb) = (
            set(&a.title, da),
            set(&a.body, da),
            set(&b.title, db),
            set(&b.body, db),
        );
        let aa: BTreeSet<u32> = ta.union(&ba).copied().collect();
        let ab: BTreeSet<u32> = tb.union(&bb).copied().collect();
        let sum = |s: &BTreeSet<u32>| s.iter().map(|t| w(*t)).sum::<f64>();
        let sq = |s: &BTreeSet<u32>| s.iter().map(|t| w(*t) * w(*t)).sum::<f64>();
        let over = |x: &BTreeSet<u32>, y: &BTreeSet<u32>| {
            let shared: BTreeSet<u32> = x.intersection(y).copied().collect();
            Overlap {
                shared: sum(&shared),
                shared_sq: sq(&shared),
                sum_a: sum(x),
                sum_b: sum(y),
                sq_a: sq(x),
                sq_b: sq(y),
            }
        };
        let missing = ba.is_empty() || bb.is_empty();
        let body = over(&ba, &bb);
        let title = over(&ta, &tb);
        let hours = (a.published - b.published).unsigned_abs() as f64 / 3600.0;
        let conflict = !a.title_numbers.is_empty()
            && !b.title_numbers.is_empty()
            && intersection_len(&a.title_numbers, &b.title_numbers) == 0;
        vec![
            title.cosine(),
            title.jaccard(),
            if missing { 0.0 } else { body.cosine() },
            over(&aa, &ab).cosine(),
            over(&ta, &ab)
                .containment_of_a()
                .max(over(&tb, &aa).containment_of_a()),
            if missing { 1.0 } else { 0.0 },
            hours.min(72.0) / 24.0,
            (intersection_len(&a.numbers, &b.numbers).min(3) as f64) / 3.0,
            if conflict { 1.0 } else { 0.0 },
            jaccard_u64(&a.title_pairs, &b.title_pairs),
            if missing {
                0.0
            } else {
                body.containment_of_a().max(body.containment_of_b())
            },
        ]
    }

    fn sorted(v: Vec<u32>) -> Vec<u32> {
        let s: std::collections::BTreeSet<u32> = v.into_iter().collect();
        s.into_iter().collect()
    }

    proptest::proptest! {
        #[test]
        fn one_merge_gives_the_features_of_separate_passes(
            ta in proptest::collection::vec(0u32..48, 0..12),
            ba in proptest::collection::vec(0u32..48, 0..40),
            tb in proptest::collection::vec(0u32..48, 0..12),
            bb in proptest::collection::vec(0u32..48, 0..40),
            da in proptest::collection::vec(0u32..48, 0..6),
            db in proptest::collection::vec(0u32..48, 0..6),
            hours in 0i64..100,
        ) {
            let w = |t: u32| 0.25 + f64::from(t % 7) * 0.6;
            let a = Doc { title: sorted(ta), body: sorted(ba), ..Doc::default() };
            let b = Doc { title: sorted(tb), body: sorted(bb), published: hours * 3600, ..Doc::default() };
            let (da, db) = (sorted(da), sorted(db));
            let fused = features(&a, &b, w, &da, &db);
            let plain = reference(&a, &b, &w, &da, &db);
            for (i, (x, y)) in fused.iter().zip(plain.iter()).enumerate() {
                // Equal values (a sum of nothing may be 0 or -0: the same to every feature).
                proptest::prop_assert!(x == y, "feature {} ({}): {} vs {}", i, FEATURE_NAMES[i], x, y);
            }
        }
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
