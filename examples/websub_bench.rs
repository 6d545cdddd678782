//! WebSub push latency (issue #16): how long from a hub's POST of new content until the item
//! is in `/feed.atom`, against the floor of observing it (a GET of the unchanged document) in
//! the same run.
//!
//! ```sh
//! cargo run --release --example websub_bench [-- PUSHES]     # 50 by default
//! ```
//!
//! Everything on loopback in one process: a feed server whose feed names a hub and itself, a
//! hub that records the subscription request, and the daemon (release build, a temp database,
//! polling hourly so that only pushes bring news). The bench answers the daemon's intent
//! verification as the hub would, then pushes PUSHES signed documents, each with one new item
//! on top of the earlier ones, and times each from just before the POST until a GET of
//! `/feed.atom` (polled every 2 ms) carries the new title. Exits non-zero when a push never
//! shows up within 10 s, or the median is a second or more.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn feed_doc(hub: &str, topic: &str, items: usize) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\"><channel><title>Bench</title><link>https://b.example/</link><description>d</description><atom:link rel=\"hub\" href=\"{hub}\"/><atom:link rel=\"self\" href=\"{topic}\"/>"
    );
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    for i in (0..items).rev() {
        s.push_str(&format!(
            "<item><guid>b{i}</guid><title>Pushed headline number {i} about topic {}</title><link>https://b.example/{i}</link><description>Body {i} of a pushed story with words {}.</description><pubDate>{date}</pubDate></item>",
            i * 7919 % 1000,
            i * 104_729 % 10_000
        ));
    }
    s.push_str("</channel></rss>");
    s
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let pushes: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50);
    let _ = rustls::crypto::ring::default_provider().install_default();

    // The hub: records the subscription request.
    let asked: Arc<Mutex<Vec<HashMap<String, String>>>> = Arc::default();
    let a = asked.clone();
    let hub_app = axum::Router::new().route(
        "/hub",
        axum::routing::post(move |body: String| {
            let a = a.clone();
            async move {
                let form = url::form_urlencoded::parse(body.as_bytes())
                    .into_owned()
                    .collect();
                a.lock().unwrap().push(form);
                axum::http::StatusCode::ACCEPTED
            }
        }),
    );
    let hub_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hub = format!("http://{}/hub", hub_listener.local_addr()?);
    tokio::spawn(async move { axum::serve(hub_listener, hub_app).await });

    // The feed: one item, naming the hub and itself.
    let feed_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let topic = format!("http://{}/feed.xml", feed_listener.local_addr()?);
    let doc = feed_doc(&hub, &topic, 1);
    let feed_app = axum::Router::new().route(
        "/feed.xml",
        axum::routing::get(move || {
            let doc = doc.clone();
            async move { ([("content-type", "application/rss+xml")], doc) }
        }),
    );
    tokio::spawn(async move { axum::serve(feed_listener, feed_app).await });

    let dir = tempfile::tempdir()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let text = format!(
        "[server]\nlisten = \"{addr}\"\nbase_url = \"http://{addr}/\"\n[storage]\npath = \"{}\"\n[poll]\nschedule = \"0 0 * * * *\"\nwebsub = true\n[[feed]]\nid = \"bench\"\nurl = \"{topic}\"\n",
        dir.path().join("w.db").display()
    );
    let config = wiredesk::Config::parse(&text, std::path::Path::new("bench.toml"))
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let daemon = wiredesk::Daemon::start(config, listener).await?;

    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let request = loop {
        if let Some(r) = asked.lock().unwrap().first().cloned() {
            break r;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "no subscription request within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let callback = request["hub.callback"].clone();
    let secret = request["hub.secret"].clone();
    let mut verify = url::Url::parse(&callback)?;
    verify
        .query_pairs_mut()
        .append_pair("hub.mode", "subscribe")
        .append_pair("hub.topic", &topic)
        .append_pair("hub.challenge", "bench")
        .append_pair("hub.lease_seconds", "86400");
    let answer = client.get(verify).send().await?.text().await?;
    anyhow::ensure!(answer == "bench", "verification not answered: {answer:?}");

    let feed_atom = format!("http://{addr}/feed.atom");
    // Baseline: observing an unchanged document.
    let mut floor = Vec::new();
    for _ in 0..pushes {
        let t = Instant::now();
        client.get(&feed_atom).send().await?.bytes().await?;
        floor.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let mut latency = Vec::new();
    for i in 1..=pushes {
        let doc = feed_doc(&hub, &topic, i + 1);
        let want = format!("Pushed headline number {i} about");
        let t = Instant::now();
        let status = client
            .post(&callback)
            .header("content-type", "application/rss+xml")
            .header(
                "x-hub-signature",
                wiredesk::notify::signature(&secret, doc.as_bytes()),
            )
            .body(doc)
            .send()
            .await?
            .status();
        anyhow::ensure!(status == 202, "push {i} answered {status}");
        loop {
            let body = client.get(&feed_atom).send().await?.text().await?;
            if body.contains(&want) {
                break;
            }
            anyhow::ensure!(
                t.elapsed() < Duration::from_secs(10),
                "push {i} not in /feed.atom within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        latency.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    daemon.stop().await;
    floor.sort_by(f64::total_cmp);
    latency.sort_by(f64::total_cmp);
    println!("| figure ({pushes} pushes) | median | p90 | max |");
    println!("|---|---|---|---|");
    println!(
        "| hub POST → item in /feed.atom | {:.1} ms | {:.1} ms | {:.1} ms |",
        percentile(&latency, 0.5),
        percentile(&latency, 0.9),
        percentile(&latency, 1.0)
    );
    println!(
        "| baseline: GET of the unchanged /feed.atom | {:.2} ms | {:.2} ms | {:.2} ms |",
        percentile(&floor, 0.5),
        percentile(&floor, 0.9),
        percentile(&floor, 1.0)
    );
    anyhow::ensure!(
        percentile(&latency, 0.5) < 1000.0,
        "median push latency is a second or more"
    );
    Ok(())
}
