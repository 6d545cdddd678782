//! WebSub subscribing end to end, against a fixture hub on loopback: a feed naming a hub is
//! subscribed, only the verification wiredesk asked for is answered, pushed content is
//! stored only with a valid signature, leases are renewed, and a feed turned off is
//! unsubscribed.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use wiredesk::Config;

/// A hub that records every (un)subscription request it is sent and answers 202.
struct Hub {
    addr: std::net::SocketAddr,
    asked: Arc<Mutex<Vec<HashMap<String, String>>>>,
}

impl Hub {
    async fn start() -> Hub {
        let asked: Arc<Mutex<Vec<HashMap<String, String>>>> = Arc::default();
        let a = asked.clone();
        let app = axum::Router::new().route(
            "/hub",
            axum::routing::post(move |body: String| {
                let a = a.clone();
                async move {
                    let form: HashMap<String, String> =
                        url::form_urlencoded::parse(body.as_bytes())
                            .into_owned()
                            .collect();
                    a.lock().unwrap().push(form);
                    axum::http::StatusCode::ACCEPTED
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Hub { addr, asked }
    }

    fn url(&self) -> String {
        format!("http://{}/hub", self.addr)
    }

    /// The `n`-th request (from 1) once it has arrived (30 s).
    async fn request(&self, n: usize) -> HashMap<String, String> {
        let wait = async {
            loop {
                if let Some(r) = self.asked.lock().unwrap().get(n - 1) {
                    return r.clone();
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(30), wait)
            .await
            .unwrap_or_else(|_| panic!("the hub got no request #{n} within 30 s"))
    }
}

/// An RSS feed naming `hub` and itself (`topic`), with items `(guid, title)`.
fn feed_doc(hub: &str, topic: &str, items: &[(&str, &str)]) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\"><channel><title>Pushed</title><link>https://p.example/</link><description>d</description><atom:link rel=\"hub\" href=\"{hub}\"/><atom:link rel=\"self\" href=\"{topic}\"/>"
    );
    for (guid, title) in items {
        s.push_str(&format!(
            "<item><guid>{guid}</guid><title>{title}</title><link>https://p.example/{guid}</link><description>About {title}.</description><pubDate>{}</pubDate></item>",
            recent_date()
        ));
    }
    s.push_str("</channel></rss>");
    s
}

fn desk(dir: &Path, addr: std::net::SocketAddr, feed_url: &str, websub: bool) -> Config {
    let text = format!(
        "[server]\nlisten = \"{addr}\"\nbase_url = \"http://{addr}/\"\n[storage]\npath = \"{}\"\n[poll]\nschedule = \"0 0 * * * *\"\nwebsub = {websub}\n[[feed]]\nid = \"pushed\"\nurl = \"{feed_url}\"\n",
        dir.join("wiredesk.db").display()
    );
    Config::parse(&text, Path::new("test.toml")).expect("test config is valid")
}

async fn titled(daemon: &wiredesk::Daemon, title: &'static str) -> i64 {
    daemon
        .app
        .store
        .call(move |db| {
            Ok(db.conn().query_row(
                "SELECT COUNT(*) FROM items WHERE title = ?1",
                [title],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap()
}

async fn state(daemon: &wiredesk::Daemon) -> Option<String> {
    daemon
        .app
        .store
        .call(|db| db.websub_all())
        .await
        .unwrap()
        .first()
        .map(|s| s.state.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_naming_a_hub_is_subscribed_verified_pushed_to_renewed_and_left() {
    let hub = Hub::start().await;
    let server = FixtureServer::start().await;
    let topic = server.url("/pushed.xml");
    server.set(
        "/pushed.xml",
        Route::feed(feed_doc(&hub.url(), &topic, &[("p1", "Polled story")])),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = desk(dir.path(), addr, &topic, true);
    let mut daemon = wiredesk::Daemon::start(cfg.clone(), listener)
        .await
        .unwrap();

    // The first poll finds the hub: a subscription is asked, with a callback under base_url.
    let asked = hub.request(1).await;
    assert_eq!(asked["hub.mode"], "subscribe");
    assert_eq!(asked["hub.topic"], topic);
    let callback = asked["hub.callback"].clone();
    let prefix = format!("http://{addr}/websub/pushed/");
    assert!(callback.starts_with(&prefix), "{callback}");
    let secret = asked["hub.secret"].clone();
    assert!(secret.len() >= 32);

    let client = reqwest::Client::new();
    let verify = |url: &str, mode: &str, topic: &str, challenge: &str| {
        let mut u = url::Url::parse(url).unwrap();
        u.query_pairs_mut()
            .append_pair("hub.mode", mode)
            .append_pair("hub.topic", topic)
            .append_pair("hub.challenge", challenge)
            .append_pair("hub.lease_seconds", "3");
        client.get(u).send()
    };
    // Unsolicited verifications are refused: another token, another topic, another mode,
    // another feed.
    let other_token = format!("{prefix}0000");
    let other_feed = callback.replace("/pushed/", "/other/");
    for (url, mode, t) in [
        (other_token.as_str(), "subscribe", topic.as_str()),
        (callback.as_str(), "subscribe", "http://evil.example/feed"),
        (callback.as_str(), "unsubscribe", topic.as_str()),
        (other_feed.as_str(), "subscribe", topic.as_str()),
    ] {
        let r = verify(url, mode, t, "c-no").await.unwrap();
        assert_eq!(r.status(), 404, "{url} {mode} {t}");
        assert!(!r.text().await.unwrap().contains("c-no"));
    }
    assert_eq!(state(&daemon).await.as_deref(), Some("requested"));
    // The hub's own verification gets its challenge back.
    let r = verify(&callback, "subscribe", &topic, "c-yes")
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "c-yes");
    assert_eq!(state(&daemon).await.as_deref(), Some("active"));

    // Pushed content without a valid signature is ignored.
    let forged = feed_doc(&hub.url(), &topic, &[("f1", "Forged story")]);
    for sig in [
        Some(wiredesk::notify::signature(
            "wrong secret",
            forged.as_bytes(),
        )),
        None,
    ] {
        let mut req = client.post(&callback).body(forged.clone());
        if let Some(sig) = sig {
            req = req.header("x-hub-signature", sig);
        }
        assert_eq!(req.send().await.unwrap().status(), 202);
    }
    assert_eq!(titled(&daemon, "Forged story").await, 0);
    // Signed content is stored like a poll's, and published.
    let pushed = feed_doc(
        &hub.url(),
        &topic,
        &[("p2", "Pushed story"), ("p1", "Polled story")],
    );
    let r = client
        .post(&callback)
        .header("content-type", "application/rss+xml")
        .header(
            "x-hub-signature",
            wiredesk::notify::signature(&secret, pushed.as_bytes()),
        )
        .body(pushed.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(titled(&daemon, "Pushed story").await, 1);
    body_containing(addr, "/feed.atom", "Pushed story").await;
    // A push to a callback that is not a subscription: 410, so a hub stops.
    let r = client
        .post(&other_token)
        .header(
            "x-hub-signature",
            wiredesk::notify::signature(&secret, pushed.as_bytes()),
        )
        .body(pushed)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);
    let metrics = get(addr, "/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("wiredesk_websub_pushes_total{result=\"stored\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("wiredesk_websub_pushes_total{result=\"refused\"} 2"),
        "{metrics}"
    );

    // A 3-second lease is renewed before it ends, on the same callback.
    let renewal = hub.request(2).await;
    assert_eq!(renewal["hub.mode"], "subscribe");
    assert_eq!(renewal["hub.callback"], callback);

    // status shows the subscription.
    let mut out = Vec::new();
    wiredesk::commands::status(cfg.clone(), false, &mut out)
        .await
        .unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("WEBSUB") && out.contains("pushed  active"),
        "{out}"
    );

    // Turned off: the hub is asked to unsubscribe, and that verification is answered.
    daemon
        .reload(desk(dir.path(), addr, &topic, false))
        .await
        .unwrap();
    let leaving = hub.request(3).await;
    assert_eq!(leaving["hub.mode"], "unsubscribe");
    let r = verify(&callback, "unsubscribe", &topic, "c-bye")
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "c-bye");
    assert_eq!(state(&daemon).await, None);
    daemon.stop().await;
}

#[test]
fn websub_without_a_base_url_is_refused_with_its_position() {
    let text = "[poll]\nwebsub = true\n[[feed]]\nid = \"a\"\nurl = \"https://a.example/\"\nwebsub = true\n";
    let e = Config::parse(text, Path::new("feeds.toml")).unwrap_err();
    let at: Vec<(usize, usize)> = e.problems.iter().map(|p| (p.line, p.column)).collect();
    assert_eq!(at, [(2, 10), (6, 10)], "{:?}", e.problems);
    assert!(
        e.problems[0].message.contains("base_url"),
        "{:?}",
        e.problems
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_named_in_link_headers_is_subscribed_at() {
    let hub = Hub::start().await;
    let server = FixtureServer::start().await;
    let topic = server.url("/pushed.xml");
    // The document names no hub: only the response's Link headers do (the self link relative).
    let doc = feed_doc("", "", &[("p1", "Polled story")]).replace(
        "<atom:link rel=\"hub\" href=\"\"/><atom:link rel=\"self\" href=\"\"/>",
        "",
    );
    assert!(!doc.contains("rel=\"hub\""));
    let mut route = Route::feed(doc);
    route.headers.push((
        "link".into(),
        format!("<{}>; rel=\"hub\", </pushed.xml>; rel=\"self\"", hub.url()),
    ));
    server.set("/pushed.xml", route);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let daemon = wiredesk::Daemon::start(desk(dir.path(), addr, &topic, true), listener)
        .await
        .unwrap();
    let asked = hub.request(1).await;
    assert_eq!(asked["hub.mode"], "subscribe");
    assert_eq!(asked["hub.topic"], topic);
    daemon.stop().await;
}
