//! The verification score: a handful of similarity features of two items, combined by a
//! logistic regression whose weights were fitted on labelled pairs (see `examples/dedup_train.rs`
//! and BENCHMARKS.md for how, and how well it does on a set it was not fitted on).
//!
//! Every feature is scale-free (cosines, Jaccards, containments, capped counts), so the score
//! means the same whether the index holds a hundred items or a million.

use std::collections::HashSet;

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
}

/// Feature names, in the order of [`features`] and [`WEIGHTS`].
pub const FEATURE_NAMES: [&str; 10] = [
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
];

/// Number of features.
pub const N_FEATURES: usize = FEATURE_NAMES.len();

/// Logistic-regression weights (bias last), fitted by `examples/dedup_train.rs` on both dev sets.
pub const WEIGHTS: [f64; N_FEATURES + 1] = [
    3.185, 3.223, 2.685, 3.167, 1.868, -0.382, -1.546, 0.481, -0.301, 0.518, -5.028,
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
    let ta: Vec<u32> = a.title.iter().copied().filter(|t| keep_a(*t)).collect();
    let tb: Vec<u32> = b.title.iter().copied().filter(|t| keep_b(*t)).collect();
    let ba: Vec<u32> = a.body.iter().copied().filter(|t| keep_a(*t)).collect();
    let bb: Vec<u32> = b.body.iter().copied().filter(|t| keep_b(*t)).collect();
    let all_a = union(&ta, &ba);
    let all_b = union(&tb, &bb);
    let body_missing = ba.is_empty() || bb.is_empty();
    let hours = (a.published - b.published).unsigned_abs() as f64 / 3600.0;
    let shared_numbers = intersection_len(&a.numbers, &b.numbers);
    let conflict = !a.title_numbers.is_empty()
        && !b.title_numbers.is_empty()
        && intersection_len(&a.title_numbers, &b.title_numbers) == 0;
    [
        cosine(&ta, &tb, weight),
        weighted_jaccard(&ta, &tb, weight),
        if body_missing {
            0.0
        } else {
            cosine(&ba, &bb, weight)
        },
        cosine(&all_a, &all_b, weight),
        containment(&ta, &all_b, weight).max(containment(&tb, &all_a, weight)),
        if body_missing { 1.0 } else { 0.0 },
        hours.min(72.0) / 24.0,
        (shared_numbers.min(3) as f64) / 3.0,
        if conflict { 1.0 } else { 0.0 },
        jaccard_u64(&a.title_pairs, &b.title_pairs),
    ]
}

/// The probability that two items are the same story.
pub fn probability(f: &[f64; N_FEATURES], weights: &[f64; N_FEATURES + 1]) -> f64 {
    let z = weights[N_FEATURES]
        + f.iter()
            .zip(weights.iter())
            .map(|(x, w)| x * w)
            .sum::<f64>();
    1.0 / (1.0 + (-z).exp())
}

fn union(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut v: Vec<u32> = a.iter().chain(b.iter()).copied().collect();
    v.sort_unstable();
    v.dedup();
    v
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

/// Σ w over shared tokens, and Σ w over each side (sets are sorted and distinct).
fn overlap(a: &[u32], b: &[u32], weight: &dyn Fn(u32) -> f64) -> (f64, f64, f64) {
    let (mut i, mut j) = (0, 0);
    let (mut shared, mut wa, mut wb) = (0.0, 0.0, 0.0);
    while i < a.len() || j < b.len() {
        if j >= b.len() || (i < a.len() && a[i] < b[j]) {
            wa += weight(a[i]);
            i += 1;
        } else if i >= a.len() || b[j] < a[i] {
            wb += weight(b[j]);
            j += 1;
        } else {
            let w = weight(a[i]);
            shared += w;
            wa += w;
            wb += w;
            i += 1;
            j += 1;
        }
    }
    (shared, wa, wb)
}

/// Cosine of two sets with weighted members (each member's vector entry is its weight).
fn cosine(a: &[u32], b: &[u32], weight: &dyn Fn(u32) -> f64) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let sq = |s: &[u32]| s.iter().map(|t| weight(*t).powi(2)).sum::<f64>().sqrt();
    let dot: f64 = {
        let (mut i, mut j, mut d) = (0, 0, 0.0);
        while i < a.len() && j < b.len() {
            match a[i].cmp(&b[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    d += weight(a[i]).powi(2);
                    i += 1;
                    j += 1;
                }
            }
        }
        d
    };
    let norm = sq(a) * sq(b);
    if norm > 0.0 { dot / norm } else { 0.0 }
}

fn weighted_jaccard(a: &[u32], b: &[u32], weight: &dyn Fn(u32) -> f64) -> f64 {
    let (shared, wa, wb) = overlap(a, b, weight);
    let union = wa + wb - shared;
    if union > 0.0 { shared / union } else { 0.0 }
}

/// The weighted share of `a` that is also in `b`.
fn containment(a: &[u32], b: &[u32], weight: &dyn Fn(u32) -> f64) -> f64 {
    let (shared, wa, _) = overlap(a, b, weight);
    if wa > 0.0 { shared / wa } else { 0.0 }
}

fn jaccard_u64(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let sa: HashSet<&u64> = a.iter().collect();
    let shared = b.iter().filter(|x| sa.contains(x)).count();
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
    fn probability_is_monotone_in_similarity() {
        let low = [0.1, 0.1, 0.1, 0.1, 0.1, 0.0, 0.5, 0.0, 0.0, 0.0];
        let high = [0.9, 0.8, 0.7, 0.8, 0.9, 0.0, 0.1, 0.3, 0.0, 0.5];
        assert!(probability(&high, &WEIGHTS) > probability(&low, &WEIGHTS));
    }
}
