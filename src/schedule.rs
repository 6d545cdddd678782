//! Cron schedules: standard 5-field cron from `feeds.toml`, turned into the 6-field form that
//! tokio-cron-scheduler wants, with a stable per-feed offset so that a hundred feeds on
//! `*/5 * * * *` do not all fire in the same second.
//!
//! The offset is derived from the feed id (FNV-1a, stable across releases and machines): the
//! seconds field becomes `id_hash % 60`, and a `*/N` minute field becomes `M-59/N` with
//! `M = id_hash % N`, which spreads feeds over the whole period rather than over one minute.
//! Schedules are evaluated in UTC, so daylight-saving changes never skip or double a poll.

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds};

/// A validated schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// The expression as the operator wrote it.
    source: String,
    /// The 6-field expression handed to the scheduler.
    cron6: String,
}

impl Schedule {
    /// Parses `expr` (5 or 6 fields, or `@hourly`/`@daily`/`@weekly`/`@monthly`), offsetting a
    /// 5-field expression by `key` (the feed id).
    pub fn parse(expr: &str, key: &str) -> Result<Schedule, String> {
        let source = expr.trim().to_owned();
        let expanded = match source.to_ascii_lowercase().as_str() {
            "@hourly" => "0 * * * *".to_owned(),
            "@daily" | "@midnight" => "0 0 * * *".to_owned(),
            "@weekly" => "0 0 * * 0".to_owned(),
            "@monthly" => "0 0 1 * *".to_owned(),
            "@yearly" | "@annually" => "0 0 1 1 *".to_owned(),
            s if s.starts_with('@') => {
                return Err(
                    "unknown nickname: use @hourly, @daily, @weekly, @monthly or @yearly"
                        .to_owned(),
                );
            }
            _ => source.clone(),
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let cron6 = match fields.len() {
            5 => offset_fields(&fields, key),
            6 => fields.join(" "),
            n => {
                return Err(format!(
                    "expected 5 fields (minute hour day month weekday) or 6 (with seconds first), found {n}"
                ));
            }
        };
        parser()
            .parse(&cron6)
            .map_err(|e| format!("{e}").trim_end_matches('.').to_owned())?;
        Ok(Schedule { source, cron6 })
    }

    /// The same schedule for another feed: a 5-field source gets that feed's offset.
    pub fn with_key(&self, key: &str) -> Schedule {
        Schedule::parse(&self.source, key).unwrap_or_else(|_| self.clone())
    }

    /// The expression as written in `feeds.toml`.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The 6-field (seconds first) expression for tokio-cron-scheduler.
    pub fn cron6(&self) -> &str {
        &self.cron6
    }

    /// The first firing strictly after `now`. The expression is parsed again each time, on
    /// purpose: croner's parsed form carries a bit per year up to 5000 (~5 KB), and a schedule
    /// is cloned with its feed's configuration — keeping it cost 75 MB of peak memory at 5,000
    /// feeds (`benches/mem5000.sh`), for a parse of a few microseconds per refresh.
    pub fn next_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let cron: Cron = parser().parse(&self.cron6).ok()?;
        cron.find_next_occurrence(&now, false).ok()
    }
}

/// The parser with the settings tokio-cron-scheduler uses, so that validation here agrees with
/// what the scheduler accepts. Note `dom_and_dow(true)`: when both day-of-month and day-of-week
/// are restricted, both must match (classic cron matches either).
fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Required)
        .dom_and_dow(true)
        .build()
}

/// FNV-1a: a tiny, stable hash (std's hasher may change between releases).
pub fn stable_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn offset_fields(fields: &[&str], key: &str) -> String {
    let h = stable_hash(key);
    let seconds = h % 60;
    let minute = match fields[0].strip_prefix("*/").map(str::parse::<u64>) {
        Some(Ok(step)) if (2..60).contains(&step) => format!("{}-59/{step}", (h / 60) % step),
        _ => fields[0].to_owned(),
    };
    let mut out = vec![seconds.to_string(), minute];
    out.extend(fields[1..].iter().map(|f| (*f).to_owned()));
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn five_fields_get_a_stable_offset() {
        let a = Schedule::parse("*/5 * * * *", "yonhap").unwrap();
        let b = Schedule::parse("*/5 * * * *", "yonhap").unwrap();
        assert_eq!(a, b);
        let h = stable_hash("yonhap");
        assert_eq!(
            a.cron6(),
            format!("{} {}-59/5 * * * *", h % 60, (h / 60) % 5)
        );
        assert_eq!(a.source(), "*/5 * * * *");
    }

    #[test]
    fn offsets_spread_many_feeds() {
        let seconds: std::collections::HashSet<String> = (0..100)
            .map(|i| {
                let s = Schedule::parse("*/5 * * * *", &format!("feed{i}")).unwrap();
                s.cron6().split(' ').take(2).collect::<Vec<_>>().join(" ")
            })
            .collect();
        assert!(
            seconds.len() > 60,
            "only {} distinct firing times",
            seconds.len()
        );
    }

    #[test]
    fn six_fields_are_kept() {
        let s = Schedule::parse("*/2 * * * * *", "x").unwrap();
        assert_eq!(s.cron6(), "*/2 * * * * *");
    }

    #[test]
    fn nicknames_expand() {
        let s = Schedule::parse("@hourly", "x").unwrap();
        assert!(s.cron6().ends_with(" 0 * * * *"), "{}", s.cron6());
    }

    #[test]
    fn bad_expressions_are_refused() {
        assert!(
            Schedule::parse("*/5 * * *", "x")
                .unwrap_err()
                .contains("found 4")
        );
        assert!(Schedule::parse("99 * * * *", "x").is_err());
        assert!(Schedule::parse("@sometimes", "x").is_err());
    }

    #[test]
    fn next_firing_is_in_utc() {
        let s = Schedule::parse("0 30 2 * * *", "x").unwrap();
        let now = Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap();
        let next = s.next_after(now).unwrap();
        assert_eq!(next, Utc.with_ymd_and_hms(2026, 3, 29, 2, 30, 0).unwrap());
    }
}
