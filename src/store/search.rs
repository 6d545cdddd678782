//! Full-text search over every stored item's title and text, with SQLite FTS5.
//!
//! The index is a contentless FTS5 table (`items_fts`, rowid = the item's id) holding each
//! item's tokens as the near-duplicate layer makes them (`dedup::text::tokenise`: lowercased,
//! NFKC, English words stemmed, stopwords dropped, numbers kept, and CJK text as character
//! bigrams — so Korean, Japanese and Chinese, written without spaces, are searchable by any
//! two-character run). Queries are cut the same way. It is kept in step by the store: the
//! ingest writes a new or revised item's row in the same transaction, and a trigger deletes the
//! row of any item deleted (retention, or anything else).

use rusqlite::Connection;

use super::{Db, StoreError, Story};
use crate::dedup::text::tokenise;

/// The text the search index holds for an item.
pub fn index_text(title: &str, text: &str) -> String {
    let mut tokens = tokenise(title);
    tokens.extend(tokenise(text));
    tokens.join(" ")
}

/// A user's query as an FTS5 query: every word must match (AND); a run of text in double
/// quotes must match as a phrase; a word that is CJK text must match as the phrase of its
/// bigrams. `None` when nothing searchable is left (only stopwords or punctuation).
pub fn fts_query(query: &str) -> Option<String> {
    let mut terms: Vec<String> = Vec::new();
    // Outside quotes: each whitespace-separated word is a term; inside: the whole run.
    for (i, part) in query.split('"').enumerate() {
        let runs: Vec<&str> = if i % 2 == 1 {
            vec![part]
        } else {
            part.split_whitespace().collect()
        };
        for run in runs {
            let tokens = tokenise(run);
            if tokens.is_empty() {
                continue;
            }
            // Each token quoted as an FTS5 string (a quote inside doubled): nothing the user
            // types is taken as FTS5 syntax.
            let phrase: Vec<String> = tokens
                .iter()
                .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
                .collect();
            terms.push(phrase.join(" + "));
        }
    }
    (!terms.is_empty()).then(|| terms.join(" AND "))
}

/// Indexes every stored item (after the migration that created the index on an existing
/// database); returns how many.
pub fn backfill(conn: &Connection) -> Result<usize, StoreError> {
    let mut read = conn.prepare("SELECT id, title, text FROM items")?;
    let mut write = conn.prepare("INSERT INTO items_fts (rowid, tokens) VALUES (?1, ?2)")?;
    let mut rows = read.query([])?;
    let mut n = 0;
    while let Some(r) = rows.next()? {
        let (id, title, text): (i64, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
        write.execute(rusqlite::params![id, index_text(&title, &text)])?;
        n += 1;
    }
    Ok(n)
}

impl Db {
    /// Stories with an item matching `query` (see [`fts_query`]), newest first (by their own
    /// date, ties by id): `limit` of them after skipping `offset`. An empty query matches
    /// nothing.
    pub fn search(
        &self,
        query: &str,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<Story>, StoreError> {
        let Some(q) = fts_query(query) else {
            return Ok(Vec::new());
        };
        let (limit, offset) = (limit as i64, offset as i64);
        self.load(
            "SELECT s.id, s.first_seen, s.updated, s.published FROM stories s
             WHERE s.id IN (SELECT i.story_id FROM items_fts JOIN items i ON i.id = items_fts.rowid
                            WHERE items_fts MATCH ?1)
             ORDER BY s.published DESC, s.id DESC LIMIT ?2 OFFSET ?3",
            &[&q as &dyn rusqlite::ToSql, &limit, &offset],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_become_and_of_quoted_terms_and_phrases() {
        assert_eq!(
            fts_query("Quake Japan").as_deref(),
            Some("\"quak\" AND \"japan\"")
        );
        assert_eq!(
            fts_query("\"north korea\" missile").as_deref(),
            Some("\"north\" + \"korea\" AND \"missil\"")
        );
        // CJK: the bigrams of a word, as a phrase.
        assert_eq!(fts_query("북한군").as_deref(), Some("\"북한\" + \"한군\""));
        assert_eq!(fts_query("the of \"\" ,,").as_deref(), None);
        // What SQLite's tokenizer drops is no term (a property test found a lone sound mark
        // searched for and never found).
        assert_eq!(fts_query("\u{3099} ・").as_deref(), None);
        // FTS5 syntax typed by the user is text, never syntax.
        let q = fts_query("a* OR NEAR(b c) -d ^e").unwrap();
        assert!(
            !q.contains('*') && !q.contains('(') && !q.contains('^'),
            "{q}"
        );
    }
}
