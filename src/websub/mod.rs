//! WebSub publishing (W3C WebSub, "publishers"): every Atom and RSS document names the
//! configured hubs (`[server] websub_hubs`), and when a document changes each hub is sent
//! `hub.mode=publish` with the document's URL, so that subscribers get it pushed instead of
//! polling. Pings follow renders (which are already coalesced and rate-bounded), run in the
//! background and are retried twice; a hub that fails only delays its own pings.

pub mod subscriber;

use std::time::Duration;

/// The delays before the second and third attempt of a ping.
const RETRIES: [Duration; 2] = [Duration::from_secs(5), Duration::from_secs(20)];

/// Tells every hub that the documents at `topics` changed (one request per hub and topic).
pub async fn announce(client: reqwest::Client, hubs: Vec<url::Url>, topics: Vec<String>) {
    let mut pings = tokio::task::JoinSet::new();
    for hub in hubs {
        let (client, topics) = (client.clone(), topics.clone());
        pings.spawn(async move {
            for topic in &topics {
                ping(&client, &hub, topic).await;
            }
        });
    }
    while pings.join_next().await.is_some() {}
}

async fn ping(client: &reqwest::Client, hub: &url::Url, topic: &str) {
    let shown = crate::normalise::redact_url(hub);
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("hub.mode", "publish")
        .append_pair("hub.url", topic)
        .finish();
    for attempt in 0..=RETRIES.len() {
        let sent = client
            .post(hub.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => {
                tracing::debug!(hub = %shown, topic, "WebSub hub told");
                return;
            }
            Ok(r) => {
                tracing::warn!(hub = %shown, topic, status = r.status().as_u16(), "WebSub hub refused a publish ping")
            }
            Err(e) => {
                tracing::warn!(hub = %shown, topic, "WebSub hub not reached: {}", crate::normalise::redact_url_str(&e.to_string()))
            }
        }
        if let Some(delay) = RETRIES.get(attempt) {
            tokio::time::sleep(*delay).await;
        }
    }
}
