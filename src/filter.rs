//! Keyword filters (`[[feed]] include` / `exclude`): does an item's title or text mention any
//! of a list of words or phrases?
//!
//! Matching is case-insensitive and Unicode-aware: the text and the terms are both NFKC-folded
//! and lowercased, runs of whitespace count as one space, and a term matches where it appears
//! on word boundaries — an edge of the term that is a letter or digit must not touch another
//! letter or digit in the text, so `war` does not match "software" — except for CJK, written
//! without spaces, where any occurrence counts (`지진` matches "강진·지진"). A term in double
//! quotes is the same as without them (a phrase is simply a term with spaces). Only yes/no
//! answers leave here: no offset found in the folded copy is ever applied to the original.
//! Written here because no maintained crate matches on Unicode word boundaries with a CJK
//! exception.

/// A list of terms; matches when any of them does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keywords {
    /// The terms as written (for messages and comparisons).
    pub source: Vec<String>,
    folded: Vec<String>,
}

impl Keywords {
    /// The terms of a `feeds.toml` list; an error names a term that holds nothing to match.
    pub fn parse(terms: &[String]) -> Result<Keywords, String> {
        let mut folded = Vec::with_capacity(terms.len());
        for t in terms {
            let unquoted = t.trim().trim_matches('"');
            let f = fold(unquoted);
            if f.is_empty() {
                return Err(format!("the term {t:?} holds nothing to match"));
            }
            folded.push(f);
        }
        Ok(Keywords {
            source: terms.to_vec(),
            folded,
        })
    }

    /// Whether any term appears in any of `texts`.
    pub fn matches_any(&self, texts: &[&str]) -> bool {
        texts.iter().any(|text| {
            let hay = fold(text);
            self.folded.iter().any(|term| contains_term(&hay, term))
        })
    }
}

/// NFKC, lowercase, whitespace runs as one space, trimmed.
fn fold(s: &str) -> String {
    let lowered = crate::normalise::nfkc_lowercase(s);
    lowered.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0xAC00..=0xD7A3 | 0x1100..=0x11FF | 0x3130..=0x318F | 0x3040..=0x30FF
        | 0x31F0..=0x31FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF)
}

/// A letter or digit that is not CJK: such a character at a term's edge needs a boundary.
fn needs_boundary(c: char) -> bool {
    c.is_alphanumeric() && !is_cjk(c)
}

/// `term` in `hay` (both folded) on word boundaries (see the module docs).
fn contains_term(hay: &str, term: &str) -> bool {
    let (Some(first), Some(last)) = (term.chars().next(), term.chars().last()) else {
        return false;
    };
    let mut from = 0;
    while let Some(i) = hay[from..].find(term) {
        let start = from + i;
        let end = start + term.len();
        let before = hay[..start].chars().next_back();
        let after = hay[end..].chars().next();
        let left_ok = !needs_boundary(first) || before.is_none_or(|c| !c.is_alphanumeric());
        let right_ok = !needs_boundary(last) || after.is_none_or(|c| !c.is_alphanumeric());
        if left_ok && right_ok {
            return true;
        }
        // The next char boundary after `start`.
        from = start + hay[start..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kw(terms: &[&str]) -> Keywords {
        Keywords::parse(&terms.iter().map(|t| t.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn words_match_on_boundaries_cjk_anywhere_and_phrases_in_order() {
        let k = kw(&["earthquake", "\"north korea\"", "지진", "live:"]);
        assert!(k.matches_any(&["Strong EARTHQUAKE hits"]));
        assert!(k.matches_any(&["Ｅａｒｔｈｑｕａｋｅ (full width)"]));
        assert!(
            !k.matches_any(&["Earthquakes aside"]),
            "a word, not a prefix"
        );
        assert!(k.matches_any(&["Talks with North\n  Korea resume"]));
        assert!(!k.matches_any(&["Korea, North and South"]));
        assert!(k.matches_any(&["강진·지진 발생"]));
        assert!(k.matches_any(&["LIVE: election night"]));
        assert!(!k.matches_any(&["delivery of aid"]), "`live` inside a word");
        let war = kw(&["war"]);
        assert!(!war.matches_any(&["software", "award"]));
        assert!(war.matches_any(&["title", "the war's end"]));
    }

    #[test]
    fn a_term_with_nothing_to_match_is_refused() {
        let err = Keywords::parse(&["ok".into(), " \"\" ".into()]).unwrap_err();
        assert!(err.contains("\" \\\"\\\" \""), "{err}");
    }
}
