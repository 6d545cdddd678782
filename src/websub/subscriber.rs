//! WebSub subscribing (W3C WebSub §5–7, "subscribers"): a feed with `websub` on whose
//! response's `Link` headers or, failing those, whose document name a hub and its own URL
//! (`rel="hub"`, `rel="self"`) is subscribed at the hub,
//! with a callback under `[server] base_url` (`/websub/FEED_ID/TOKEN`) and an HMAC secret of
//! its own. The hub's intent verification is answered only for what wiredesk asked (token,
//! topic and mode must match), content is accepted only with a valid `X-Hub-Signature`, and
//! leases are renewed before they end. Polling goes on at the feed's schedule whatever the
//! hub does: pushes only bring news sooner.
//!
//! The decisions are pure ([`plan`], [`verify`], [`signature_valid`]); the state lives in the
//! store (`store::websub`), so restarts keep answering and renewing.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ring::hmac;
use url::Url;

use crate::config::FeedId;
use crate::parse::WebSubLinks;
use crate::store::websub::Subscription;

/// The lease asked for (hubs choose; many give less).
pub const LEASE_ASKED: i64 = 7 * 86_400;
/// A lease granted is taken as at least this and at most a year.
const LEASE_BOUNDS: (i64, i64) = (1, 365 * 86_400);
/// A request the hub never verified, or a failed one, is asked again after this.
const ASK_AGAIN_SECS: i64 = 3600;
/// A renewal is asked when this share of the lease is left (at most a day before its end).
const RENEW_SHARE: i64 = 5;

/// What a feed's subscription needs now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Ask the hub for a (new) subscription: new token and secret.
    Subscribe(WebSubLinks),
    /// Ask the hub again for the subscription in force, before its lease ends.
    Renew,
    /// The feed no longer wants pushes: ask the hub to stop.
    Unsubscribe,
    /// An unsubscription the hub never verified: forget it.
    Forget,
    Nothing,
}

/// What to do for a feed's subscription: `wants` is the feed's `websub` setting (with
/// `[server] base_url` given), `links` what its last parsed document named (if parsed since
/// the start), `sub` the stored subscription.
pub fn plan(
    wants: bool,
    links: Option<&WebSubLinks>,
    sub: Option<&Subscription>,
    now: DateTime<Utc>,
) -> Action {
    let asked_secs = sub.map_or(i64::MAX, |s| (now - s.requested).num_seconds());
    if !wants {
        return match sub {
            None => Action::Nothing,
            Some(s) if s.state == "unsubscribing" && asked_secs >= ASK_AGAIN_SECS => Action::Forget,
            Some(s) if s.state == "unsubscribing" => Action::Nothing,
            Some(_) => Action::Unsubscribe,
        };
    }
    let Some(sub) = sub else {
        return links.map_or(Action::Nothing, |l| Action::Subscribe(l.clone()));
    };
    // The document names another hub or topic now: subscribe there.
    if let Some(l) = links
        && (l.hub != sub.hub || l.topic != sub.topic)
    {
        return Action::Subscribe(l.clone());
    }
    let again = || {
        Action::Subscribe(WebSubLinks {
            hub: sub.hub.clone(),
            topic: sub.topic.clone(),
        })
    };
    match sub.state.as_str() {
        "active" => {
            let (Some(until), Some(lease)) = (sub.lease_until, sub.lease_seconds) else {
                return again();
            };
            let renew_at = until - chrono::Duration::seconds(renew_margin(lease));
            let asked_since = sub.requested >= renew_at;
            if now >= until {
                again()
            } else if now >= renew_at && !(asked_since && asked_secs < ASK_AGAIN_SECS) {
                Action::Renew
            } else {
                Action::Nothing
            }
        }
        // Requested, failed or unsubscribing (wanted again): ask again after a while.
        _ if asked_secs >= ASK_AGAIN_SECS => again(),
        "unsubscribing" => again(),
        _ => Action::Nothing,
    }
}

/// When [`plan`] next has something to do for this subscription (for the maintenance loop).
pub fn next_due(sub: &Subscription) -> DateTime<Utc> {
    let asked_again = sub.requested + chrono::Duration::seconds(ASK_AGAIN_SECS);
    match (sub.state.as_str(), sub.lease_until, sub.lease_seconds) {
        ("active", Some(until), Some(lease)) => {
            let renew_at = until - chrono::Duration::seconds(renew_margin(lease));
            if sub.requested >= renew_at {
                asked_again.min(until)
            } else {
                renew_at
            }
        }
        _ => asked_again,
    }
}

/// How long before a lease ends its renewal is asked: its last fifth, at least half of it up
/// to a minute (short leases), at most a day.
fn renew_margin(lease: i64) -> i64 {
    (lease / RENEW_SHARE).max((lease / 2).min(60)).min(86_400)
}

/// The callback a hub calls for `feed`: `BASE/websub/FEED_ID/TOKEN`.
pub fn callback(base: &Url, feed: &FeedId, token: &str) -> Option<Url> {
    base.join(&format!("websub/{}/{}", feed.as_str(), token))
        .ok()
}

/// `n` random bytes as hex (tokens and secrets).
pub fn random_hex(n: usize) -> String {
    use ring::rand::SecureRandom as _;
    let mut bytes = vec![0u8; n];
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        // The system's random source failing is not something to go on without.
        panic!("the system random source failed");
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether an `X-Hub-Signature` header (`sha1=HEX`, `sha256=HEX`, `sha384=HEX`, `sha512=HEX`)
/// is the HMAC of `body` with `secret`. Compared in constant time; anything else is false.
pub fn signature_valid(header: Option<&str>, secret: &str, body: &[u8]) -> bool {
    let Some((method, hex)) = header.and_then(|h| h.trim().split_once('=')) else {
        return false;
    };
    let algorithm = match method.trim().to_ascii_lowercase().as_str() {
        "sha1" => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        "sha256" => hmac::HMAC_SHA256,
        "sha384" => hmac::HMAC_SHA384,
        "sha512" => hmac::HMAC_SHA512,
        _ => return false,
    };
    let Some(tag) = decode_hex(hex.trim()) else {
        return false;
    };
    let key = hmac::Key::new(algorithm, secret.as_bytes());
    hmac::verify(&key, body, &tag).is_ok()
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 256 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect()
}

/// Whether `token` is the subscription's (compared as digests, so timing tells nothing).
pub fn token_matches(sub: &Subscription, token: &str) -> bool {
    let a = ring::digest::digest(&ring::digest::SHA256, sub.token.as_bytes());
    let b = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    a.as_ref() == b.as_ref()
}

/// What an intent verification (the hub's GET of the callback) asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verified {
    /// Answer 200 with the challenge: the subscription is active for this many seconds.
    Subscribed { challenge: String, lease: i64 },
    /// Answer 200 with the challenge: the unsubscription is confirmed.
    Unsubscribed { challenge: String },
    /// The hub refused the subscription (answer 200, empty).
    Denied { reason: String },
    /// Not something wiredesk asked for: answer 404.
    Refused,
}

/// Decides an intent verification from its query parameters, for the subscription whose
/// callback it came to (the token already matched).
pub fn verify(sub: &Subscription, query: &HashMap<String, String>) -> Verified {
    let get = |k: &str| query.get(k).map(String::as_str).unwrap_or_default();
    if get("hub.topic") != sub.topic {
        return Verified::Refused;
    }
    let challenge = get("hub.challenge");
    match get("hub.mode") {
        "subscribe"
            if matches!(sub.state.as_str(), "requested" | "active") && !challenge.is_empty() =>
        {
            let lease = get("hub.lease_seconds")
                .parse::<i64>()
                .unwrap_or(LEASE_ASKED)
                .clamp(LEASE_BOUNDS.0, LEASE_BOUNDS.1);
            Verified::Subscribed {
                challenge: challenge.to_owned(),
                lease,
            }
        }
        "unsubscribe" if sub.state == "unsubscribing" && !challenge.is_empty() => {
            Verified::Unsubscribed {
                challenge: challenge.to_owned(),
            }
        }
        "denied" if sub.state == "requested" => Verified::Denied {
            reason: crate::parse::truncate_on_char_boundary(get("hub.reason"), 200).to_owned(),
        },
        _ => Verified::Refused,
    }
}

/// Asks `hub` to (un)subscribe `callback` to `topic`. Any 2xx is taken (202: the hub verifies
/// later). The secret is sent with a subscription.
pub async fn ask(
    client: &reqwest::Client,
    hub: &str,
    mode: &str,
    topic: &str,
    callback: &Url,
    secret: &str,
) -> Result<(), String> {
    let shown = crate::normalise::redact_url_str(hub);
    let body = {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("hub.mode", mode)
            .append_pair("hub.topic", topic)
            .append_pair("hub.callback", callback.as_str());
        if mode == "subscribe" {
            form.append_pair("hub.lease_seconds", &LEASE_ASKED.to_string())
                .append_pair("hub.secret", secret);
        }
        form.finish()
    };
    let sent = client
        .post(hub)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body)
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(format!(
            "hub {shown} answered HTTP {} to {mode}",
            r.status().as_u16()
        )),
        Err(e) => Err(format!(
            "hub {shown} not reached: {}",
            crate::normalise::redact_url_str(&e.to_string())
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(secs)
    }

    fn links(hub: &str) -> WebSubLinks {
        WebSubLinks {
            hub: hub.into(),
            topic: "https://f.example/rss".into(),
        }
    }

    fn sub(state: &str, requested: i64, lease: Option<(i64, i64)>) -> Subscription {
        Subscription {
            feed: "f".into(),
            hub: "https://hub.example/".into(),
            topic: "https://f.example/rss".into(),
            token: "tok".into(),
            secret: "sec".into(),
            state: state.into(),
            requested: t(requested),
            lease_seconds: lease.map(|l| l.0),
            lease_until: lease.map(|l| t(l.1)),
            last_error: None,
        }
    }

    #[test]
    fn plans_follow_the_subscriptions_life() {
        let hub = "https://hub.example/";
        // Nothing known yet; then the document names a hub.
        assert_eq!(plan(true, None, None, t(0)), Action::Nothing);
        assert_eq!(
            plan(true, Some(&links(hub)), None, t(0)),
            Action::Subscribe(links(hub))
        );
        // Waiting for the hub's verification: nothing, then asked again after an hour.
        let asked = sub("requested", 0, None);
        assert_eq!(
            plan(true, Some(&links(hub)), Some(&asked), t(60)),
            Action::Nothing
        );
        assert_eq!(
            plan(true, None, Some(&asked), t(3600)),
            Action::Subscribe(links(hub))
        );
        // Active with a 1,000 s lease until t=1000: renewed in its last fifth, once.
        let active = sub("active", 0, Some((1000, 1000)));
        assert_eq!(plan(true, None, Some(&active), t(700)), Action::Nothing);
        assert_eq!(plan(true, None, Some(&active), t(850)), Action::Renew);
        let renewing = sub("active", 850, Some((1000, 1000)));
        assert_eq!(plan(true, None, Some(&renewing), t(900)), Action::Nothing);
        assert_eq!(
            plan(true, None, Some(&renewing), t(1000)),
            Action::Subscribe(links(hub))
        );
        // The document names another hub: subscribe there.
        let other = links("https://other.example/");
        assert_eq!(
            plan(true, Some(&other), Some(&active), t(10)),
            Action::Subscribe(other)
        );
        // Turned off: unsubscribe, then forget an unsubscription never verified.
        assert_eq!(plan(false, None, Some(&active), t(10)), Action::Unsubscribe);
        let leaving = sub("unsubscribing", 10, None);
        assert_eq!(plan(false, None, Some(&leaving), t(20)), Action::Nothing);
        assert_eq!(plan(false, None, Some(&leaving), t(4000)), Action::Forget);
        assert_eq!(plan(false, None, None, t(0)), Action::Nothing);
        // Failed: asked again after an hour.
        let failed = sub("failed", 0, None);
        assert_eq!(plan(true, None, Some(&failed), t(10)), Action::Nothing);
        assert_eq!(
            plan(true, None, Some(&failed), t(3600)),
            Action::Subscribe(links(hub))
        );
        assert_eq!(next_due(&failed), t(3600));
        assert_eq!(next_due(&active), t(800));
    }

    #[test]
    fn verifications_are_answered_only_for_what_was_asked() {
        let q = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let topic = "https://f.example/rss";
        let asked = sub("requested", 0, None);
        let ok = q(&[
            ("hub.mode", "subscribe"),
            ("hub.topic", topic),
            ("hub.challenge", "c1"),
            ("hub.lease_seconds", "600"),
        ]);
        assert_eq!(
            verify(&asked, &ok),
            Verified::Subscribed {
                challenge: "c1".into(),
                lease: 600
            }
        );
        let wrong_topic = q(&[
            ("hub.mode", "subscribe"),
            ("hub.topic", "https://x.example/"),
            ("hub.challenge", "c"),
        ]);
        assert_eq!(verify(&asked, &wrong_topic), Verified::Refused);
        let unsub = q(&[
            ("hub.mode", "unsubscribe"),
            ("hub.topic", topic),
            ("hub.challenge", "c"),
        ]);
        assert_eq!(
            verify(&asked, &unsub),
            Verified::Refused,
            "never asked to unsubscribe"
        );
        assert_eq!(
            verify(&sub("unsubscribing", 0, None), &unsub),
            Verified::Unsubscribed {
                challenge: "c".into()
            }
        );
        let no_challenge = q(&[("hub.mode", "subscribe"), ("hub.topic", topic)]);
        assert_eq!(verify(&asked, &no_challenge), Verified::Refused);
        let denied = q(&[
            ("hub.mode", "denied"),
            ("hub.topic", topic),
            ("hub.reason", "no"),
        ]);
        assert_eq!(
            verify(&asked, &denied),
            Verified::Denied {
                reason: "no".into()
            }
        );
        assert_eq!(verify(&sub("failed", 0, None), &ok), Verified::Refused);
    }

    #[test]
    fn signatures_are_checked_by_their_method() {
        let body = b"<feed/>";
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"s3cret");
        let hex: String = hmac::sign(&key, body)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(signature_valid(
            Some(&format!("sha256={hex}")),
            "s3cret",
            body
        ));
        assert!(signature_valid(
            Some(&format!("SHA256={}", hex.to_uppercase())),
            "s3cret",
            body
        ));
        assert!(!signature_valid(
            Some(&format!("sha256={hex}")),
            "other",
            body
        ));
        assert!(!signature_valid(
            Some(&format!("sha256={hex}")),
            "s3cret",
            b"<feed>x</feed>"
        ));
        assert!(!signature_valid(
            Some(&format!("md5={hex}")),
            "s3cret",
            body
        ));
        assert!(!signature_valid(Some("sha256=zz"), "s3cret", body));
        assert!(!signature_valid(Some("sha256"), "s3cret", body));
        assert!(!signature_valid(None, "s3cret", body));
        let key1 = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, b"s3cret");
        let hex1: String = hmac::sign(&key1, body)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(signature_valid(
            Some(&format!("sha1={hex1}")),
            "s3cret",
            body
        ));
    }

    #[test]
    fn callbacks_live_under_the_base_url() {
        let base = Url::parse("https://news.example.org/desk/").unwrap();
        let cb = callback(&base, &FeedId("yonhap".into()), "abc").unwrap();
        assert_eq!(
            cb.as_str(),
            "https://news.example.org/desk/websub/yonhap/abc"
        );
        assert_eq!(random_hex(16).len(), 32);
        assert_ne!(random_hex(16), random_hex(16));
    }
}
