//! Plain values handed between the stages, defined here so that each stage imports them
//! downwards rather than from a neighbour: a feed's last good fetch ([`Validators`], read by
//! `fetch` for conditional GET and written by `store`), and the content digests that entry
//! keys, revisions and story ids are made of.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// The validators and hash of the last good fetch, for conditional GET.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Validators {
    pub url: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub body_hash: Option<String>,
    /// The feed's state for back-off: failures in a row and when the next attempt is due.
    pub consecutive_failures: u32,
    pub next_attempt: Option<DateTime<Utc>>,
}

/// Hex SHA-256 of the parts, each followed by a NUL separator (so ("ab","c") ≠ ("a","bc")).
pub fn hex_digest(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    let d = h.finalize();
    d.iter().take(16).map(|b| format!("{b:02x}")).collect()
}
