//! Test harness: a fixture HTTP server on 127.0.0.1:0 that serves feed files with chosen
//! statuses and headers, honours If-None-Match, and counts requests; and helpers to build
//! configs and start the daemon against it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;
use tokio::sync::broadcast;
use wiredesk::Config;
use wiredesk::refresh::{Outcome, RefreshReport};

/// What the fixture server answers on one path.
#[derive(Clone, Debug)]
pub struct Route {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When set, sent as ETag, and a matching If-None-Match gets a 304.
    pub etag: Option<String>,
    /// How the body is sent.
    pub behaviour: Behaviour,
    /// A request header (name, value) without which the answer is 401.
    pub require: Option<(String, String)>,
}

/// Ways a fixture misbehaves on purpose.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Behaviour {
    /// Answers normally.
    #[default]
    Normal,
    /// Accepts the request and never answers.
    Hang,
    /// Sends the headers, then one byte of the body every 200 ms, forever.
    Drip,
    /// Sends an endless body of zeros with no Content-Length.
    Endless,
}

impl Route {
    /// A 200 feed with an ETag derived from its body.
    pub fn feed(body: impl Into<Vec<u8>>) -> Route {
        let body = body.into();
        let etag = format!("\"{:x}\"", fxhash(&body));
        Route {
            status: 200,
            headers: vec![("content-type".into(), "application/rss+xml".into())],
            body,
            etag: Some(etag),
            behaviour: Behaviour::Normal,
            require: None,
        }
    }

    /// A route that misbehaves in the given way.
    pub fn misbehaving(behaviour: Behaviour) -> Route {
        Route {
            behaviour,
            ..Route::status(200)
        }
    }

    /// A plain status with an empty body.
    pub fn status(status: u16) -> Route {
        Route {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            etag: None,
            behaviour: Behaviour::Normal,
            require: None,
        }
    }
}

fn fxhash(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, x| {
        (h ^ u64::from(*x)).wrapping_mul(0x100_0000_01b3)
    })
}

#[derive(Default)]
struct Inner {
    routes: HashMap<String, Route>,
    /// Paths whose feed grows by one item per request (see [`FixtureServer::set_growing`]).
    growing: HashMap<String, String>,
    hits: HashMap<String, usize>,
    not_modified: HashMap<String, usize>,
}

/// The fixture server; it stops when dropped.
pub struct FixtureServer {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FixtureServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FixtureServer {
    pub async fn start() -> FixtureServer {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().fallback(answer).with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FixtureServer { addr, inner, task }
    }

    /// A fixture server already serving `route` at `path`.
    pub async fn with(path: &str, route: Route) -> FixtureServer {
        let server = FixtureServer::start().await;
        server.set(path, route);
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn set(&self, path: &str, route: Route) {
        self.inner.lock().unwrap().routes.insert(path.into(), route);
    }

    /// Serves at `path` a feed that gains a new item with every request: the latest 20 of
    /// items `{prefix}-1` … `{prefix}-N` for the N-th request.
    pub fn set_growing(&self, path: &str, prefix: &str) {
        self.inner
            .lock()
            .unwrap()
            .growing
            .insert(path.into(), prefix.into());
    }

    /// Requests received on `path`.
    pub fn hits(&self, path: &str) -> usize {
        *self.inner.lock().unwrap().hits.get(path).unwrap_or(&0)
    }

    /// 304 answers given on `path`.
    pub fn not_modified(&self, path: &str) -> usize {
        *self
            .inner
            .lock()
            .unwrap()
            .not_modified
            .get(path)
            .unwrap_or(&0)
    }
}

async fn answer(State(state): State<Arc<Mutex<Inner>>>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().to_owned();
    let (route, growing) = {
        let mut inner = state.lock().unwrap();
        *inner.hits.entry(path.clone()).or_default() += 1;
        let growing = inner
            .growing
            .get(&path)
            .cloned()
            .map(|prefix| (prefix, inner.hits[&path]));
        (inner.routes.get(&path).cloned(), growing)
    };
    if let Some((prefix, n)) = growing {
        let items: Vec<(String, String, String)> = (n.saturating_sub(19)..=n)
            .filter(|i| *i > 0)
            .map(|i| {
                (
                    format!("{prefix}-{i}"),
                    format!("{prefix} story number {i}"),
                    format!("https://{prefix}.example/{i}"),
                )
            })
            .collect();
        let refs: Vec<(&str, &str, &str, &str)> = items
            .iter()
            .map(|(g, t, l)| (g.as_str(), t.as_str(), l.as_str(), "x"))
            .collect();
        return Response::builder()
            .status(200)
            .body(Body::from(rss(&prefix, &refs)))
            .unwrap();
    }
    let Some(route) = route else {
        return Response::builder()
            .status(404)
            .body(Body::from("no such fixture"))
            .unwrap();
    };
    if let Some((name, value)) = &route.require
        && headers.get(name.as_str()).and_then(|v| v.to_str().ok()) != Some(value.as_str())
    {
        return Response::builder()
            .status(401)
            .body(Body::from("credentials required"))
            .unwrap();
    }
    match route.behaviour {
        Behaviour::Normal => {}
        Behaviour::Hang => std::future::pending::<()>().await,
        Behaviour::Drip => {
            let stream = futures_util::stream::unfold((), |()| async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                Some((Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"<")), ()))
            });
            return Response::builder()
                .status(200)
                .body(Body::from_stream(stream))
                .unwrap();
        }
        Behaviour::Endless => {
            let chunk = bytes::Bytes::from(vec![b' '; 64 * 1024]);
            let stream =
                futures_util::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
            return Response::builder()
                .status(200)
                .body(Body::from_stream(stream))
                .unwrap();
        }
    }
    if let (Some(etag), Some(inm)) = (&route.etag, headers.get(header::IF_NONE_MATCH))
        && inm.to_str().ok() == Some(etag.as_str())
    {
        *state.lock().unwrap().not_modified.entry(path).or_default() += 1;
        return Response::builder()
            .status(StatusCode::NOT_MODIFIED)
            .header(header::ETAG, etag)
            .body(Body::empty())
            .unwrap();
    }
    let mut b = Response::builder().status(route.status);
    for (k, v) in &route.headers {
        b = b.header(k, v);
    }
    if let Some(etag) = &route.etag {
        b = b.header(header::ETAG, etag);
    }
    b.body(Body::from(route.body)).unwrap()
}

/// An hour before the test process started, as an HTTP date (RFC 2822 form): recent enough
/// that no retention rule leaves fixture items out, and the same for every call.
pub fn recent_date() -> String {
    static DATE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DATE.get_or_init(|| {
        httpdate::fmt_http_date(std::time::SystemTime::now() - Duration::from_secs(3600))
    })
    .clone()
}

/// A date `back` before the test process started, as an HTTP date.
pub fn date_before_start(back: Duration) -> String {
    static START: std::sync::OnceLock<std::time::SystemTime> = std::sync::OnceLock::new();
    let start = *START.get_or_init(std::time::SystemTime::now);
    httpdate::fmt_http_date(start - back)
}

/// An RSS item as `(guid, title, link, description)`.
pub type Item<'a> = (&'a str, &'a str, &'a str, &'a str);

/// An RSS 2.0 document with `(guid, title, link, description)` items.
pub fn rss(title: &str, items: &[(&str, &str, &str, &str)]) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>{title}</title><link>https://example.org/</link><description>d</description>\n"
    );
    for (guid, t, link, desc) in items {
        s.push_str(&format!(
            "<item><guid>{guid}</guid><title>{t}</title><link>{link}</link><description>{desc}</description><pubDate>{}</pubDate></item>\n",
            recent_date()
        ));
    }
    s.push_str("</channel></rss>\n");
    s
}

/// A config whose feeds (id, url) are polled every second, with the database in `dir`.
pub fn config(dir: &Path, feeds: &[(&str, String)]) -> Config {
    let mut text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\ntitle = \"Test desk\"\n[storage]\npath = \"{}\"\n[poll]\nschedule = \"* * * * * *\"\ntimeout = \"5s\"\n",
        dir.join("wiredesk.db").display()
    );
    for (id, url) in feeds {
        text.push_str(&format!(
            "[[feed]]\nid = \"{id}\"\nname = \"{id} News\"\nurl = \"{url}\"\ntags = [\"t-{id}\"]\n"
        ));
    }
    Config::parse(&text, Path::new("test.toml")).expect("test config is valid")
}

/// Refresh reports as they arrive, kept so that waiting for one feed never loses another's.
pub struct Reports {
    rx: broadcast::Receiver<RefreshReport>,
    backlog: Vec<RefreshReport>,
}

impl Reports {
    pub fn new(rx: broadcast::Receiver<RefreshReport>) -> Reports {
        Reports {
            rx,
            backlog: Vec::new(),
        }
    }

    /// The earliest not yet taken report of `feed` that satisfies `pred`, waiting up to 30 s.
    /// Reports of `feed` before it that do not match are dropped.
    pub async fn wait_for(
        &mut self,
        feed: &str,
        pred: impl Fn(&RefreshReport) -> bool,
    ) -> RefreshReport {
        if let Some(i) = self
            .backlog
            .iter()
            .position(|r| r.feed.as_str() == feed && pred(r))
        {
            let r = self.backlog.remove(i);
            self.backlog.retain(|o| o.feed.as_str() != feed);
            return r;
        }
        self.backlog.retain(|o| o.feed.as_str() != feed);
        let fut = async {
            loop {
                match self.rx.recv().await {
                    Ok(r) if r.feed.as_str() == feed && pred(&r) => return r,
                    Ok(r) if r.feed.as_str() != feed => self.backlog.push(r),
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        panic!("lost {n} refresh reports")
                    }
                    Err(e) => panic!("report channel closed: {e}"),
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(30), fut)
            .await
            .unwrap_or_else(|_| panic!("no matching refresh report for {feed} within 30 s"))
    }
}

/// Whether a report is a refresh that stored a body.
pub fn stored(r: &RefreshReport) -> bool {
    matches!(r.outcome, Outcome::Stored(_))
}

/// Whether a report is a failure.
pub fn failed(r: &RefreshReport) -> bool {
    matches!(r.outcome, Outcome::Failed(_))
}

/// GET a path from the daemon.
pub async fn get(addr: SocketAddr, path: &str) -> reqwest::Response {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .expect("daemon answers")
}

/// The body at `path` once `ready` says so; fails the test after 30 s.
pub async fn body_when(addr: SocketAddr, path: &str, ready: impl Fn(&str) -> bool) -> String {
    let wait = async {
        loop {
            let r = get(addr, path).await;
            if r.status() == 200 {
                let body = r.text().await.expect("a body");
                if ready(&body) {
                    return body;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), wait)
        .await
        .unwrap_or_else(|_| panic!("{path} was never ready within 30 s"))
}

/// The body at `path` once it contains `needle` (the merged feeds are rendered after a
/// refresh, not during it); fails the test after 30 s.
pub async fn body_containing(addr: SocketAddr, path: &str, needle: &str) -> String {
    let wait = async {
        loop {
            let body = get(addr, path).await.text().await.expect("a body");
            if body.contains(needle) {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), wait)
        .await
        .unwrap_or_else(|_| panic!("{path} never contained {needle:?} within 30 s"))
}

/// Starts the daemon on a loopback port.
pub async fn start(config: Config) -> (wiredesk::Daemon, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let daemon = wiredesk::Daemon::start(config, listener)
        .await
        .expect("daemon starts");
    (daemon, addr)
}

/// Every stored story of a running daemon.
pub async fn stories(daemon: &wiredesk::Daemon) -> Vec<wiredesk::store::Story> {
    daemon
        .app
        .store
        .call(|db| db.all_stories())
        .await
        .expect("stories read")
}

/// Every feed's health row of a running daemon.
pub async fn health(daemon: &wiredesk::Daemon) -> Vec<wiredesk::store::FeedHealth> {
    daemon
        .app
        .store
        .call(|db| db.feed_health())
        .await
        .expect("health read")
}

/// One integer from a query against a running daemon's database.
pub async fn query_i64(daemon: &wiredesk::Daemon, sql: &'static str) -> i64 {
    daemon
        .app
        .store
        .call(move |db| Ok(db.conn().query_row(sql, [], |r| r.get::<_, i64>(0))?))
        .await
        .expect("query runs")
}

/// Starts the daemon on a loopback port with a receiver of every refresh report since start.
pub async fn start_watched(config: Config) -> (wiredesk::Daemon, SocketAddr, Reports) {
    let (mut daemon, addr) = start(config).await;
    let rx = Reports::new(daemon.reports());
    (daemon, addr, rx)
}

/// A fixture server with one RSS feed per `(id, items)` at `/ID.xml`, and a config polling
/// each of them every second with the database in a new temp dir (kept alive by the caller).
pub async fn serve_feeds(
    feeds: &[(&str, &[Item<'_>])],
) -> (FixtureServer, tempfile::TempDir, Config) {
    let server = FixtureServer::start().await;
    let mut urls = Vec::new();
    for (id, items) in feeds {
        let path = format!("/{id}.xml");
        server.set(&path, Route::feed(rss(&id.to_uppercase(), items)));
        urls.push((*id, server.url(&path)));
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = config(dir.path(), &urls);
    (server, dir, cfg)
}

/// Sends signal `name` (`"HUP"`, `"TERM"`…) to process `pid` with kill(1), which must succeed.
pub fn signal(pid: impl std::fmt::Display, name: &str) {
    let ok = std::process::Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status()
        .expect("kill runs")
        .success();
    assert!(ok, "kill -{name} {pid} failed");
}

/// The daemon binary `bin` (`env!("CARGO_BIN_EXE_wiredesk")`, which only integration tests
/// have) with `--config cfg`, logging at `log` to a piped stderr, stdout dropped, and no
/// systemd state directory inherited from the test's environment.
pub fn daemon_command(bin: &str, cfg: &Path, log: &str) -> std::process::Command {
    let mut c = std::process::Command::new(bin);
    c.env("RUST_LOG", log)
        .env_remove("STATE_DIRECTORY")
        .arg("--config")
        .arg(cfg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    c
}

/// A loopback port that was free a moment ago (for configs that name their listen address).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
