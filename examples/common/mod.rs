//! Shared by the dedup examples: reading a labelled set (`items.jsonl`, `pairs.jsonl`).
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;

#[derive(Deserialize, Clone, Debug)]
pub struct Item {
    pub id: String,
    pub snapshot: String,
    pub source: String,
    pub guid: Option<String>,
    pub link: Option<String>,
    pub title: String,
    #[serde(default)]
    pub summary: String,
    pub published: Option<String>,
}

#[derive(Deserialize, Clone, Debug)]
pub struct Pair {
    pub a: String,
    pub b: String,
    pub label: u8,
    pub kind: String,
}

fn read_jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> anyhow::Result<Vec<T>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), i + 1))
        })
        .collect()
}

/// A labelled set: its items by id and its pairs.
pub struct LabelledSet {
    pub name: String,
    pub items: HashMap<String, Item>,
    pub pairs: Vec<Pair>,
}

impl LabelledSet {
    pub fn load(dir: &Path) -> anyhow::Result<LabelledSet> {
        let items: Vec<Item> = read_jsonl(&dir.join("items.jsonl"))?;
        let pairs: Vec<Pair> = read_jsonl(&dir.join("pairs.jsonl"))?;
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(LabelledSet {
            name,
            items: items.into_iter().map(|i| (i.id.clone(), i)).collect(),
            pairs,
        })
    }
}

/// The capture time at the start of a snapshot folder name (`20220801T001109Z_…`).
pub fn snapshot_time(name: &str) -> Option<DateTime<Utc>> {
    let stamp = name.get(..16)?;
    NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|n| n.and_utc())
}

/// A feed date as found in `items.jsonl` (RFC 3339 or RFC 2822).
pub fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_rfc2822(s))
        .ok()
        .map(|d| d.with_timezone(&Utc))
}
