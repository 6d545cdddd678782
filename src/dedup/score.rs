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

impl Doc {
    /// The doc's distinct tokens, title and body together, in ascending order, each given to
    /// `f`: a merge of its two sorted lists (no copy, no sort).
    pub fn for_each_token(&self, mut f: impl FnMut(u32)) {
        let (a, b) = (&self.title, &self.body);
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            match a[i].cmp(&b[j]) {
                std::cmp::Ordering::Less => {
                    f(a[i]);
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    f(b[j]);
                    j += 1;
                }
                std::cmp::Ordering::Equal => {
                    f(a[i]);
                    i += 1;
                    j += 1;
                }
            }
        }
        a[i..].iter().chain(&b[j..]).for_each(|&t| f(t));
    }
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

/// A doc's tokens with their weights, boilerplate dropped: the new item's, once per lookup (each
/// candidate is then weighed as it is compared, by [`features_probed`]), or both docs' of a
/// pair for [`features`].
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
    /// `doc` weighed by `weight`, leaving out the tokens of `dropped` (sorted).
    pub fn of(doc: &Doc, weight: impl Fn(u32) -> f64, dropped: &[u32]) -> Weighted {
        let mut w = Weighted::empty();
        w.refill(doc, weight, dropped);
        w
    }

    /// Nothing weighed yet (for [`Weighted::refill`]).
    fn empty() -> Weighted {
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

    /// Weighs `doc` into this one's buffers, leaving out the tokens of `dropped` (sorted).
    /// Generic over `weight` and filtered by a merge with the sorted `dropped`, so that no
    /// token costs an indirect call or a hash lookup.
    fn refill(&mut self, doc: &Doc, weight: impl Fn(u32) -> f64, dropped: &[u32]) {
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
    let sums = |w: &WSet| (w.sum, w.sq);
    combine(
        a,
        wa,
        b,
        Sides {
            title: sums(&wb.title),
            body: sums(&wb.body),
            all: (wb.all.sum, wb.all.sq),
            body_empty: wb.body.items.is_empty(),
        },
        Shared::of(&wa.all, &wb.all),
    )
}

/// What the features need of the other doc `b`, weighed: Σ w and Σ w² of its title, body and
/// both, and whether its body is empty once its boilerplate is dropped.
struct Sides {
    title: (f64, f64),
    body: (f64, f64),
    all: (f64, f64),
    body_empty: bool,
}

/// The features from what `a` (weighed as `wa`) and `b` (its [`Sides`]) hold and share.
fn combine(a: &Doc, wa: &Weighted, b: &Doc, sb: Sides, shared: Shared) -> [f64; N_FEATURES] {
    let (ta, ba) = (&wa.title, &wa.body);
    let body_missing = ba.items.is_empty() || sb.body_empty;
    let hours = (a.published - b.published).unsigned_abs() as f64 / 3600.0;
    let shared_numbers = intersection_len(&a.numbers, &b.numbers);
    let conflict = !a.title_numbers.is_empty()
        && !b.title_numbers.is_empty()
        && intersection_len(&a.title_numbers, &b.title_numbers) == 0;
    let title = shared.title.with(ta.sum, ta.sq, sb.title.0, sb.title.1);
    let body = shared.body.with(ba.sum, ba.sq, sb.body.0, sb.body.1);
    let all = shared.all.with(wa.all.sum, wa.all.sq, sb.all.0, sb.all.1);
    let title_a_in_b = shared.title_a.with(ta.sum, ta.sq, sb.all.0, sb.all.1);
    let title_b_in_a = shared
        .title_b
        .with(sb.title.0, sb.title.1, wa.all.sum, wa.all.sq);
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

/// A lookup's weighed tokens as a small open-addressing table (token → where it occurs in the
/// new item, and its weight), built once per lookup, so that each candidate is weighed and
/// compared with the new item in one pass over its own tokens ([`features_probed`]) instead of
/// being weighed into buffers and then merged with the item's (a merge of two sorted lists
/// branches unpredictably at every token; a probe of a table this small mostly lands on the
/// token or an empty slot at once). Written here, not taken from a hash map crate: the key is
/// a dense `u32` id that a multiply spreads well enough, the table is built once and only read,
/// and a general map's hashing and entry layout cost more than the probe itself.
pub struct Probe {
    /// (token, flags, weight); flags 0 marks an empty slot (a stored token is in the title, the
    /// body or both, never neither).
    slots: Vec<(u32, u8, f64)>,
    shift: u32,
}

impl Probe {
    /// The table of a weighed doc's tokens (title and body).
    pub fn of(w: &Weighted) -> Probe {
        let n = w.all.items.len();
        // At most half full: a miss (most of a candidate's tokens) ends within a probe or two.
        let capacity = (2 * n).next_power_of_two().max(16);
        let mut probe = Probe {
            slots: vec![(0, 0, 0.0); capacity],
            shift: 32 - capacity.trailing_zeros(),
        };
        let mask = capacity - 1;
        for &(t, weight, flags) in &w.all.items {
            let mut i = probe.home(t);
            while probe.slots[i].1 != 0 {
                i = (i + 1) & mask;
            }
            probe.slots[i] = (t, flags, weight);
        }
        probe
    }

    fn home(&self, t: u32) -> usize {
        // Fibonacci hashing: the top bits of the product, spread over the whole table.
        (t.wrapping_mul(0x9E37_79B9) >> self.shift) as usize
    }

    /// Where `t` occurs in the doc (0 when nowhere) and its weight there.
    #[inline]
    fn get(&self, t: u32) -> (u8, f64) {
        let mask = self.slots.len() - 1;
        let mut i = self.home(t);
        loop {
            let (key, flags, weight) = self.slots[i];
            if flags == 0 {
                return (0, 0.0);
            }
            if key == t {
                return (flags, weight);
            }
            i = (i + 1) & mask;
        }
    }
}

/// [`features_weighted`] of the doc `a` (weighed as `wa`, its tokens in `probe`) and `b`,
/// weighing `b` as `Weighted::refill` would (`weight`, its boilerplate `dropped`), in one pass
/// over `b`'s tokens: every sum is added in token order from the same start as there, and a
/// shared token counts with `a`'s weight as in `Shared::of`, so the features are the same to
/// the last bit (a property test holds the two together).
pub fn features_probed(
    a: &Doc,
    wa: &Weighted,
    probe: &Probe,
    b: &Doc,
    weight: impl Fn(u32) -> f64,
    dropped: &[u32],
) -> [f64; N_FEATURES] {
    let mut shared = Shared::empty();
    // As `refill` (title, body) and `union_into` (all) start their sums.
    let (mut title, mut body, mut all) = ((0.0, 0.0), (0.0, 0.0), (-0.0, -0.0));
    let mut body_empty = true;
    let (bt, bb) = (&b.title, &b.body);
    let (mut i, mut j, mut d) = (0, 0, 0);
    loop {
        // The union of b's title and body in token order, each token with where it occurs: the
        // walk of `Doc::for_each_token`, written out here because this loop is the lookup's
        // hottest, and its state kept in a closure's captures made lookups ~7 % slower
        // (`lookup_bench`, 10 alternating runs).
        let (t, fb) = match (bt.get(i), bb.get(j)) {
            (Some(&x), Some(&y)) if x < y => {
                i += 1;
                (x, IN_TITLE)
            }
            (Some(&x), Some(&y)) if x > y => {
                j += 1;
                (y, IN_BODY)
            }
            (Some(&x), Some(_)) => {
                i += 1;
                j += 1;
                (x, IN_TITLE | IN_BODY)
            }
            (Some(&x), None) => {
                i += 1;
                (x, IN_TITLE)
            }
            (None, Some(&y)) => {
                j += 1;
                (y, IN_BODY)
            }
            (None, None) => break,
        };
        while d < dropped.len() && dropped[d] < t {
            d += 1;
        }
        if dropped.get(d) == Some(&t) {
            continue;
        }
        let w = weight(t);
        if fb & IN_TITLE != 0 {
            title.0 += w;
            title.1 += w * w;
        }
        if fb & IN_BODY != 0 {
            body.0 += w;
            body.1 += w * w;
            body_empty = false;
        }
        all.0 += w;
        all.1 += w * w;
        let (fa, wa_t) = probe.get(t);
        if fa != 0 {
            shared.add(wa_t, fa, fb);
        }
    }
    combine(
        a,
        wa,
        b,
        Sides {
            title,
            body,
            all,
            body_empty,
        },
        shared,
    )
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
    fn empty() -> Shared {
        Shared {
            title: SharedSums::default(),
            body: SharedSums::default(),
            all: SharedSums::default(),
            title_a: SharedSums::default(),
            title_b: SharedSums::default(),
        }
    }

    /// Counts a token both docs hold, of weight `w`, where it occurs in a (`fa`) and b (`fb`).
    #[inline]
    fn add(&mut self, w: f64, fa: u8, fb: u8) {
        self.all.add(w);
        if fa & IN_TITLE != 0 {
            self.title_a.add(w);
            if fb & IN_TITLE != 0 {
                self.title.add(w);
            }
        }
        if fb & IN_TITLE != 0 {
            self.title_b.add(w);
        }
        if fa & fb & IN_BODY != 0 {
            self.body.add(w);
        }
    }

    fn of(a: &AllSet, b: &AllSet) -> Shared {
        let mut s = Shared::empty();
        let (a, b) = (&a.items, &b.items);
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            match a[i].0.cmp(&b[j].0) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    s.add(a[i].1, a[i].2, b[j].2);
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

    /// `features_probed` against `features_weighted`, bit for bit.
    fn probed_and_merged(a: &Doc, b: &Doc, w: impl Fn(u32) -> f64 + Copy, da: &[u32], db: &[u32]) {
        let wa = Weighted::of(a, w, da);
        let merged = features_weighted(a, &wa, b, &Weighted::of(b, w, db));
        let probed = features_probed(a, &wa, &Probe::of(&wa), b, w, db);
        for (i, (x, y)) in probed.iter().zip(merged.iter()).enumerate() {
            assert!(
                x.to_bits() == y.to_bits(),
                "feature {i} ({}): probed {x} vs merged {y}",
                FEATURE_NAMES[i]
            );
        }
    }

    #[test]
    fn a_probe_finds_every_token_among_colliding_ones() {
        // Tokens that share a home slot (multiples of a power of two above the table's bits)
        // and tokens at the ends of the range: each found with its own flags and weight.
        let a = doc(
            &[0, 1 << 28, 2 << 28, 3 << 28, u32::MAX],
            &[5, 1 << 28, 1 << 29, u32::MAX - 1],
        );
        let wa = Weighted::of(&a, |t| f64::from(t % 97) + 0.5, &[]);
        let probe = Probe::of(&wa);
        for &(t, weight, flags) in &wa.all.items {
            assert_eq!(probe.get(t), (flags, weight), "token {t}");
        }
        for t in [2, 4 << 28, 6, u32::MAX - 2] {
            assert_eq!(probe.get(t).0, 0, "token {t} is not in the doc");
        }
        let b = doc(&[7, 1 << 28, u32::MAX], &[0, 5, 2 << 28, u32::MAX - 1]);
        probed_and_merged(&a, &b, |t| f64::from(t % 97) + 0.5, &[], &[]);
        probed_and_merged(&a, &b, |t| f64::from(t % 97) + 0.5, &[5], &[0, 7]);
        probed_and_merged(&doc(&[], &[]), &b, |_| 1.0, &[], &[]);
        probed_and_merged(&a, &doc(&[], &[]), |_| 1.0, &[], &[]);
    }

    proptest::proptest! {
        #[test]
        fn a_probed_candidate_gets_the_features_of_the_merges(
            ta in proptest::collection::vec(0u32..300, 0..16),
            ba in proptest::collection::vec(0u32..300, 0..200),
            tb in proptest::collection::vec(0u32..300, 0..16),
            bb in proptest::collection::vec(0u32..300, 0..200),
            da in proptest::collection::vec(0u32..300, 0..20),
            db in proptest::collection::vec(0u32..300, 0..20),
            spread in proptest::sample::select(vec![1u32, 1 << 10, 1 << 22, 0x9E37_79B9]),
            hours in 0i64..100,
        ) {
            // Ids spread over the u32 range too (products wrap), so that homes collide.
            let ids = |v: Vec<u32>| sorted(v.into_iter().map(|t| t.wrapping_mul(spread)).collect());
            let w = |t: u32| 0.125 + f64::from(t % 13) * 0.37;
            let a = Doc { title: ids(ta), body: ids(ba), ..Doc::default() };
            let b = Doc { title: ids(tb), body: ids(bb), published: hours * 3600, ..Doc::default() };
            probed_and_merged(&a, &b, w, &ids(da), &ids(db));
        }
    }

    proptest::proptest! {
        #[test]
        fn a_doc_s_tokens_are_the_sorted_union_of_its_title_and_body(
            title in proptest::collection::vec(proptest::num::u32::ANY, 0..20),
            body in proptest::collection::vec(0u32..64, 0..80),
        ) {
            let (title, body) = (sorted(title), sorted(body));
            let union: std::collections::BTreeSet<u32> = title.iter().chain(&body).copied().collect();
            let mut seen = Vec::new();
            doc(&title, &body).for_each_token(|t| seen.push(t));
            proptest::prop_assert_eq!(seen, union.into_iter().collect::<Vec<u32>>());
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
