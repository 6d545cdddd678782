//! `[[notify]]`: one message per story entering an `[[output]]`, per target, exactly once from
//! the reader's point of view. The render loop notes each output's stories in the store
//! (`Db::note_output_stories`: what is owed lives in SQLite, so a restart re-sends nothing
//! delivered and loses nothing owed); here one task per target sends what is owed, retries
//! failures with a growing delay, and never waits on another target.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::json;

use crate::app::App;
use crate::config::{NotifyConfig, NotifyFormat};
use crate::normalise::redact_url_str;
use crate::store::Story;

/// The first retry's delay; each failure doubles it, up to [`MAX_RETRY`].
pub const RETRY_BASE: Duration = Duration::from_secs(5);
/// The longest delay between two attempts of one message.
pub const MAX_RETRY: Duration = Duration::from_secs(3600);
/// How long one delivery may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// How often a target looks for due messages when nothing wakes it.
const IDLE_LOOK: Duration = Duration::from_secs(30);

/// A message's body, its content type, and the title header some services want.
pub struct Message {
    pub body: Vec<u8>,
    pub content_type: &'static str,
    pub title: Option<String>,
}

/// The message for `story` entering `output`, shaped for `format`.
pub fn message(format: NotifyFormat, output: &str, story: &Story) -> Message {
    let rep = story.representative();
    let link = rep.link.as_deref().map(redact_url_str);
    let outlets = crate::publish::outlet_members(story);
    let names: Vec<&str> = outlets.iter().map(|m| m.feed_name.as_str()).collect();
    let line = format!(
        "{} ({} outlet{}: {})",
        rep.title,
        outlets.len(),
        if outlets.len() == 1 { "" } else { "s" },
        names.join(", ")
    );
    match format {
        NotifyFormat::Json => Message {
            body: json!({
                "output": output,
                "story": story.id.0,
                "title": rep.title,
                "link": link,
                "outlet_count": outlets.len(),
                "outlets": outlets.iter().map(|m| json!({
                    "feed": m.feed,
                    "name": m.feed_name,
                    "link": m.link.as_deref().map(redact_url_str),
                })).collect::<Vec<_>>(),
                "published": story.published.to_rfc3339(),
            })
            .to_string()
            .into_bytes(),
            content_type: "application/json",
            title: None,
        },
        NotifyFormat::Slack => Message {
            body: json!({
                "text": match &link {
                    Some(l) => format!("<{l}|{}> ({} outlets: {})", slack_escape(&rep.title), outlets.len(), slack_escape(&names.join(", "))),
                    None => slack_escape(&line),
                }
            })
            .to_string()
            .into_bytes(),
            content_type: "application/json",
            title: None,
        },
        NotifyFormat::Ntfy => Message {
            body: match &link {
                Some(l) => format!("{line}\n{l}"),
                None => line.clone(),
            }
            .into_bytes(),
            content_type: "text/plain; charset=utf-8",
            title: Some(output.to_owned()),
        },
        NotifyFormat::Matrix => Message {
            body: json!({
                "msgtype": "m.text",
                "body": match &link {
                    Some(l) => format!("{line} {l}"),
                    None => line.clone(),
                },
            })
            .to_string()
            .into_bytes(),
            content_type: "application/json",
            title: None,
        },
    }
}

/// Slack's mrkdwn needs `&`, `<` and `>` escaped.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `sha256=` and the hex HMAC-SHA256 of `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, body);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// The delay before attempt `attempts + 1` of a message.
pub fn retry_delay(attempts: i64) -> Duration {
    let exp = u32::try_from(attempts.clamp(0, 16)).unwrap_or(16);
    RETRY_BASE.saturating_mul(1 << exp).min(MAX_RETRY)
}

/// Starts a delivery task for every configured target that has none (at start, and after a
/// reload adds one). A task ends when its target leaves the config.
pub fn ensure_running(app: &Arc<App>) {
    for target in app.config().notify.iter() {
        if app.notify_claim(&target.id) {
            let app = app.clone();
            let id = target.id.clone();
            app.tasks.clone().spawn(async move { run(app, id).await });
        }
    }
}

/// One target's delivery loop.
async fn run(app: Arc<App>, id: String) {
    let client = match reqwest::Client::builder()
        .timeout(TIMEOUT)
        .user_agent(app.config().poll.user_agent.clone())
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(notify = %id, "cannot build the HTTP client: {e}");
            app.notify_release(&id);
            return;
        }
    };
    let mut wake = app.notify_wake.subscribe();
    loop {
        let Some(target) = app.config().notify.iter().find(|t| t.id == id).cloned() else {
            app.notify_release(&id);
            return;
        };
        let mut more = false;
        let tid = target.id.clone();
        let owed = app
            .store
            .read(move |db| db.owed_messages(&tid, Utc::now(), 20))
            .await
            .unwrap_or_default();
        for o in &owed {
            more = true;
            deliver(&app, &client, &target, o).await;
        }
        if more {
            continue;
        }
        // Until the next retry is due, a render notes new stories, or a while has passed.
        let tid = target.id.clone();
        let next = app
            .store
            .read(move |db| db.next_owed(&tid))
            .await
            .ok()
            .flatten();
        let rest = next.map_or(IDLE_LOOK, |at| {
            (at - Utc::now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(IDLE_LOOK)
        });
        tokio::select! {
            _ = wake.changed() => {}
            _ = tokio::time::sleep(rest.max(Duration::from_millis(200))) => {}
            _ = app.hard_stop.cancelled() => return,
        }
    }
}

/// Sends one owed message and records the outcome.
async fn deliver(
    app: &App,
    client: &reqwest::Client,
    target: &NotifyConfig,
    owed: &crate::store::Owed,
) {
    let sid = owed.story_id.clone();
    let story = match app.store.read(move |db| db.story(&sid)).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(notify = %target.id, "reading a story to send: {e}");
            return;
        }
    };
    let (tid, sid, outlets) = (target.id.clone(), owed.story_id.clone(), owed.outlets);
    let Some(story) = story else {
        // Pruned before it could be sent: nothing left to say.
        let _ = app
            .store
            .call(move |db| db.message_sent(&tid, &sid, outlets, Utc::now()))
            .await;
        return;
    };
    let msg = message(target.format, &target.output, &story);
    let mut req = client
        .post(target.url.clone())
        .header(reqwest::header::CONTENT_TYPE, msg.content_type);
    if let Some(t) = &msg.title {
        req = req.header("Title", t.as_str());
    }
    if let Some(secret) = &target.secret {
        req = req.header("X-Wiredesk-Signature", signature(secret, &msg.body));
    }
    let result = req.body(msg.body).send().await;
    let failure = match result {
        Ok(r) if r.status().is_success() => None,
        Ok(r) => Some(format!("HTTP {}", r.status().as_u16())),
        // The error may carry the URL: say what kind of failure it was, not where.
        Err(e) if e.is_timeout() => Some("timed out".to_owned()),
        Err(e) if e.is_connect() => Some("could not connect".to_owned()),
        Err(_) => Some("the request failed".to_owned()),
    };
    match failure {
        None => {
            let _ = app
                .store
                .call(move |db| db.message_sent(&tid, &sid, outlets, Utc::now()))
                .await;
            tracing::info!(notify = %target.id, story = %owed.story_id, "notification sent");
        }
        Some(why) => {
            let delay = retry_delay(owed.attempts);
            tracing::warn!(
                notify = %target.id,
                story = %owed.story_id,
                retry_in_s = delay.as_secs(),
                "notification not delivered: {why}"
            );
            let next = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
            let _ = app
                .store
                .call(move |db| db.message_failed(&tid, &sid, &why, next))
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_rfc_4231_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn retries_double_up_to_an_hour() {
        assert_eq!(retry_delay(0), RETRY_BASE);
        assert_eq!(retry_delay(1), RETRY_BASE * 2);
        assert_eq!(retry_delay(40), MAX_RETRY);
        assert_eq!(retry_delay(-3), RETRY_BASE);
    }
}
