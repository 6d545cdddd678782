//! The HTTP server: rendered documents from memory with ETag / Last-Modified and 304s
//! (RFC 9110 §13), plus `/healthz`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};

use crate::app::App;
use crate::publish::Rendered;

/// The longest one connection is kept, however busy: a client that stops reading a response
/// must not hold its slot for ever (hyper has no write timeout).
const CONNECTION_LIFETIME: Duration = Duration::from_secs(300);
/// How long requests in progress may run on after a shutdown request.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Serves until `shutdown` completes, then finishes the requests in progress (within a bound).
///
/// An accept loop of our own rather than `axum::serve`, which sets no timeouts: every
/// connection gets hyper's header-read timeout (`[server] header_timeout`, which hyper also
/// applies to a kept-alive connection waiting for its next request) and a lifetime bound, and
/// at most `[server] max_connections` are served at once — so idle or half-sent connections
/// can neither pile up nor exhaust the process's file descriptors.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let server = app.config().server.clone();
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/", get(index))
        .route("/search", get(search_page))
        .route("/search.atom", get(search_feed))
        .route("/search.rss", get(search_feed))
        .route("/search.json", get(search_feed))
        .route("/metrics", get(metrics))
        .route(
            "/websub/{feed}/{token}",
            get(websub_verify)
                .post(websub_push)
                .layer(axum::extract::DefaultBodyLimit::max(
                    usize::try_from(app.config().poll.max_body_bytes).unwrap_or(usize::MAX),
                )),
        )
        .fallback(document)
        .layer(axum::middleware::from_fn_with_state(app.clone(), count))
        .layer(axum::middleware::from_fn(contain_panics))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(app.clone());
    let slots = Arc::new(tokio::sync::Semaphore::new(server.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    // Out of file descriptors, say: wait a moment rather than spin.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            app.metrics.connection_refused();
            drop(stream);
            continue;
        };
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(server.header_timeout)
            .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = tokio::time::timeout(CONNECTION_LIFETIME, conn).await;
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("HTTP connections still open at shutdown were closed");
    }
}

/// Security headers: every answer says no MIME sniffing; every HTML answer (the page) also
/// forbids framing, sends no referrer to the outlets it links to, and carries a
/// Content-Security-Policy that allows no script at all. (The feeds, served to readers many
/// times a minute, are spared the HTML-only headers: a 304 stays small.)
async fn security_headers(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut resp = next.run(req).await;
    let html = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|t| t.starts_with("text/html"));
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !html {
        return resp;
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Ok(csp) = HeaderValue::from_str(crate::publish::content_security_policy()) {
        h.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    resp
}

/// A panic while answering one request (a bug of ours that some request or stored text
/// reached) fails that request only, with a 500; the server and other requests carry on.
async fn contain_panics(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use futures_util::FutureExt as _;
    let path = req.uri().path().to_owned();
    match std::panic::AssertUnwindSafe(next.run(req))
        .catch_unwind()
        .await
    {
        Ok(resp) => resp,
        Err(payload) => {
            tracing::error!(
                path = %crate::parse::truncate_on_char_boundary(&path, 200),
                "internal error while answering a request: {}",
                crate::store::panic_message(payload.as_ref())
            );
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
        }
    }
}

/// Counts every answer by route and status.
async fn count(
    State(app): State<Arc<App>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let route = crate::metrics::route_label(req.uri().path());
    let resp = next.run(req).await;
    app.metrics.http(route, resp.status().as_u16());
    resp
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let counts = app
        .store
        .read(|db| -> Result<_, crate::store::StoreError> {
            let (stories, items) = db.counts()?;
            let health = db.feed_health()?;
            let enabled = health.iter().filter(|h| h.enabled).count();
            let failing = health
                .iter()
                .filter(|h| h.enabled && h.consecutive_failures > 0)
                .count();
            let notify = db.notify_summary()?;
            let owed: i64 = notify.iter().map(|n| n.owed).sum();
            let sent: i64 = notify.iter().map(|n| n.sent).sum();
            Ok((stories, items, enabled, failing, owed, sent))
        })
        .await;
    let Ok((stories, items, feeds, failing, owed, sent)) = counts else {
        return (StatusCode::SERVICE_UNAVAILABLE, "database not answering\n").into_response();
    };
    let text = app.metrics.render_text(&[
        ("wiredesk_stories", "Stories stored.", stories as f64),
        ("wiredesk_items", "Items stored.", items as f64),
        ("wiredesk_feeds", "Enabled feeds.", feeds as f64),
        (
            "wiredesk_feeds_failing",
            "Enabled feeds whose last refresh failed.",
            failing as f64,
        ),
        (
            "wiredesk_notifications_owed",
            "[[notify]] messages not yet delivered.",
            owed as f64,
        ),
        (
            "wiredesk_notifications_sent",
            "[[notify]] messages delivered.",
            sent as f64,
        ),
    ]);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// `200 ok` while the store is alive and making progress (answered at once, not queued
/// behind a catch-up's refreshes), else 503 with the reason.
/// A WebSub hub's intent verification: the challenge for what wiredesk asked, else 404.
async fn websub_verify(
    State(app): State<Arc<App>>,
    axum::extract::Path((feed, token)): axum::extract::Path<(String, String)>,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    match app.websub_verify(&feed, &token, &query).await {
        Some(challenge) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            challenge,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Content a WebSub hub pushed: 202 once read (also when ignored for a bad signature, as the
/// specification suggests, so that signatures cannot be probed), 410 for a subscription that
/// does not exist (the hub should stop).
async fn websub_push(
    State(app): State<Arc<App>>,
    axum::extract::Path((feed, token)): axum::extract::Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let signature = text("x-hub-signature");
    let content_type = text("content-type");
    match app
        .websub_push(
            &feed,
            &token,
            signature.as_deref(),
            content_type,
            body.to_vec(),
        )
        .await
    {
        Ok(_) => StatusCode::ACCEPTED.into_response(),
        Err(()) => StatusCode::GONE.into_response(),
    }
}

async fn healthz(State(app): State<Arc<App>>) -> Response {
    match app.store.health() {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
    }
}

/// The HTML page, rendered per request (it shows the sources' health, which changes with every
/// refresh; it is for people, not for feed readers polling every minute).
async fn index(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let page = match page_param(uri.query()) {
        Ok(page) => page,
        Err(reason) => return (StatusCode::BAD_REQUEST, format!("{reason}\n")).into_response(),
    };
    let config = app.config();
    // `?tag=world`: the page of one tag's stories; an unknown tag is a 404.
    let tag = uri.query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "tag")
            .map(|(_, v)| v.into_owned())
    });
    if let Some(t) = &tag
        && !config.tags().contains(t)
    {
        return (StatusCode::NOT_FOUND, "no such tag\n").into_response();
    }
    let size = crate::publish::PAGE_SIZE;
    let offset = (page - 1).saturating_mul(size);
    let wanted = tag.clone();
    let read = app
        .store
        .read(move |db| {
            Ok((
                db.stories_page(size + 1, offset, wanted.as_deref())?,
                db.feed_health()?,
            ))
        })
        .await;
    let Ok((stories, health)) = read else {
        return (StatusCode::SERVICE_UNAVAILABLE, "database not answering\n").into_response();
    };
    let view = PageView {
        page,
        tag,
        query: None,
    };
    page_response(&config, stories, health, view, &headers, method).await
}

/// Which page `/` or `/search` shows: its number, and its tag or query.
struct PageView {
    page: usize,
    tag: Option<String>,
    query: Option<String>,
}

/// The page of `stories` (read one past [`crate::publish::PAGE_SIZE`], to know whether there
/// is more) with the sources' `health`, rendered and compressed off the async workers.
async fn page_response(
    config: &crate::config::Config,
    mut stories: Vec<crate::store::Story>,
    health: Vec<crate::store::FeedHealth>,
    view: PageView,
    headers: &HeaderMap,
    method: Method,
) -> Response {
    let size = crate::publish::PAGE_SIZE;
    let more = stories.len() > size;
    stories.truncate(size);
    let ctx = crate::publish::PageContext {
        now: Utc::now(),
        page: view.page,
        more,
        tag: view.tag,
        query: view.query,
        outputs: output_links(config),
        tags: config
            .feeds
            .iter()
            .map(|f| (f.id.0.clone(), f.tags.clone()))
            .collect(),
    };
    let title = config.server.title.clone();
    // Made for this request: compressed only the way this client accepts, brotli at a fast
    // quality (compressing the page both ways at quality 9 was most of its 27 ms).
    let (br, gz) = (accepts(headers, "br"), accepts(headers, "gzip"));
    match tokio::task::spawn_blocking(move || {
        crate::publish::render_page(&title, &stories, &health, &ctx)
            .compressed(gz && !br, br.then_some(5))
    })
    .await
    {
        Ok(page) => respond(&page, headers, method == Method::HEAD, 0),
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// The `page` query parameter of `/`: absent (page 1) or a whole number from 1 to 10,000.
/// The `q` query parameter, trimmed and bounded; a reason for a 400 when it is missing or
/// holds nothing searchable.
fn search_param(query: Option<&str>) -> Result<String, String> {
    let q = query
        .into_iter()
        .flat_map(|q| url::form_urlencoded::parse(q.as_bytes()))
        .find(|(k, _)| k == "q")
        .map(|(_, v)| crate::parse::truncate_on_char_boundary(v.trim(), 200).to_owned())
        .unwrap_or_default();
    if crate::store::search::fts_query(&q).is_none() {
        return Err("give q: a word of two letters or more to search for".to_owned());
    }
    Ok(q)
}

/// `/search?q=…`: the page of stories matching a query (paged like `/`). Without `q`, the page
/// with its search box and no results.
async fn search_page(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let page = match page_param(uri.query()) {
        Ok(page) => page,
        Err(reason) => return (StatusCode::BAD_REQUEST, format!("{reason}\n")).into_response(),
    };
    let raw_q = uri.query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "q")
            .map(|(_, v)| v.into_owned())
    });
    let query = match (raw_q.as_deref(), search_param(uri.query())) {
        (None, _) | (Some(""), _) => String::new(),
        (Some(_), Ok(q)) => q,
        (Some(_), Err(reason)) => {
            return (StatusCode::BAD_REQUEST, format!("{reason}\n")).into_response();
        }
    };
    let config = app.config();
    let size = crate::publish::PAGE_SIZE;
    let offset = (page - 1).saturating_mul(size);
    let q = query.clone();
    let read = app
        .store
        .read(move |db| {
            let stories = if q.is_empty() {
                Vec::new()
            } else {
                db.search(&q, size + 1, offset)?
            };
            Ok((stories, db.feed_health()?))
        })
        .await;
    let Ok((stories, health)) = read else {
        return (StatusCode::SERVICE_UNAVAILABLE, "database not answering\n").into_response();
    };
    let view = PageView {
        page,
        tag: None,
        query: Some(query),
    };
    page_response(&config, stories, health, view, &headers, method).await
}

/// `/search.atom?q=…` (and `.rss`, `.json`): a search a reader can subscribe to.
async fn search_feed(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let query = match search_param(uri.query()) {
        Ok(q) => q,
        Err(reason) => return (StatusCode::BAD_REQUEST, format!("{reason}\n")).into_response(),
    };
    let size = app.config().server.feed_size;
    let limit = match limit_param(uri.query()) {
        Ok(limit) => limit.unwrap_or(size).min(size),
        Err(reason) => return (StatusCode::BAD_REQUEST, format!("{reason}\n")).into_response(),
    };
    let ext = uri.path().rsplit('.').next().unwrap_or("");
    match app.render_search(ext, &query, limit).await {
        Some(doc) => respond(&doc, &headers, method == Method::HEAD, app.max_age()),
        None => (StatusCode::SERVICE_UNAVAILABLE, "database not answering\n").into_response(),
    }
}

/// The `[[output]]`s as the page links them.
fn output_links(config: &crate::config::Config) -> Vec<(String, String)> {
    config
        .outputs
        .iter()
        .map(|o| (o.id.clone(), o.title.clone()))
        .collect()
}

fn page_param(query: Option<&str>) -> Result<usize, String> {
    Ok(number_param(query, "page", 1, 10_000)?.unwrap_or(1))
}

async fn document(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let outputs = app.outputs();
    let Some(doc) = outputs.get(uri.path()) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    if method != Method::GET && method != Method::HEAD {
        let mut r = (StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n").into_response();
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let head = method == Method::HEAD;
    let max_age = app.max_age();
    // `?limit=N` below the configured size: rendered for this request (bounded by the size).
    let limit = match limit_param(uri.query()) {
        Ok(limit) => limit,
        Err(reason) => return (StatusCode::BAD_REQUEST, format!("{reason}\n")).into_response(),
    };
    if let Some(limit) = limit.filter(|l| *l < app.config().server.feed_size)
        && let Some(doc) = app.render_limited(uri.path(), limit.max(1)).await
    {
        return respond(&doc, &headers, head, max_age);
    }
    respond(doc, &headers, head, max_age)
}

/// The `limit` query parameter: absent, or a whole number of at least 1; anything else is a
/// one-line reason for a 400 (a reader asking for `?limit=abc` should hear so, not get the
/// whole feed). Other parameters (cache busters) are ignored.
fn limit_param(query: Option<&str>) -> Result<Option<usize>, String> {
    number_param(query, "limit", 1, usize::MAX)
}

/// Query parameter `name` as a whole number from `min` to `max`: `None` when absent, a
/// one-line reason for a 400 when it is anything else.
fn number_param(
    query: Option<&str>,
    name: &str,
    min: usize,
    max: usize,
) -> Result<Option<usize>, String> {
    let Some((_, value)) = query
        .into_iter()
        .flat_map(|q| url::form_urlencoded::parse(q.as_bytes()))
        .find(|(k, _)| k == name)
    else {
        return Ok(None);
    };
    match value.trim().parse::<usize>() {
        Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
        _ if max == usize::MAX => Err(format!(
            "invalid {name} {:?}: a whole number of at least {min} is expected",
            crate::parse::truncate_on_char_boundary(&value, 40)
        )),
        _ => Err(format!(
            "invalid {name} {:?}: a whole number from {min} to {max} is expected",
            crate::parse::truncate_on_char_boundary(&value, 40)
        )),
    }
}

/// A 200 with the document, or a 304 when the client's validators match.
fn respond(doc: &Rendered, req: &HeaderMap, head: bool, max_age: u64) -> Response {
    let last_modified = httpdate::fmt_http_date(doc.last_modified.into());
    let not_modified = not_modified(doc, req);
    // Brotli when accepted (smaller), else gzip, else identity. Each representation has its
    // own strong ETag (RFC 9110 §8.8.3).
    let (encoded, coding) = match (
        doc.brotli.as_ref().filter(|_| accepts(req, "br")),
        doc.gzip.as_ref().filter(|_| accepts(req, "gzip")),
    ) {
        (Some(br), _) => (Some(br), "br"),
        (None, Some(gz)) => (Some(gz), "gzip"),
        _ => (None, ""),
    };
    let etag = match encoded {
        Some(_) => coded_etag(&doc.etag, coding),
        None => doc.etag.clone(),
    };
    let mut builder = Response::builder()
        .header(header::ETAG, &etag)
        .header(header::LAST_MODIFIED, last_modified)
        .header(header::CACHE_CONTROL, format!("public, max-age={max_age}"))
        .header(header::VARY, "Accept-Encoding");
    if not_modified {
        builder = builder.status(StatusCode::NOT_MODIFIED);
        return builder.body(Body::empty()).unwrap_or_default();
    }
    let bytes = encoded.unwrap_or(&doc.body).clone();
    builder = builder
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, doc.content_type)
        .header(header::CONTENT_LENGTH, bytes.len());
    if encoded.is_some() {
        builder = builder.header(header::CONTENT_ENCODING, coding);
    }
    let body = if head {
        Body::empty()
    } else {
        Body::from(bytes)
    };
    builder.body(body).unwrap_or_default()
}

fn coded_etag(etag: &str, coding: &str) -> String {
    format!("{}-{coding}\"", etag.trim_end_matches('"'))
}

/// Whether the client accepts a content coding (RFC 9110 §12.5.3), `q=0` meaning no.
fn accepts(req: &HeaderMap, coding: &str) -> bool {
    req.get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let q_zero = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case(coding) || name == "*") && !q_zero
        })
}

/// RFC 9110 §13.2.2: If-None-Match takes precedence; If-Modified-Since is used only without it.
fn not_modified(doc: &Rendered, req: &HeaderMap) -> bool {
    if let Some(inm) = req.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        let gz = coded_etag(&doc.etag, "gzip");
        let br = coded_etag(&doc.etag, "br");
        return inm.split(',').map(str::trim).any(|tag| {
            let tag = tag.trim_start_matches("W/");
            tag == "*" || tag == doc.etag || tag == gz || tag == br
        });
    }
    if let Some(ims) = req
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
    {
        let ims: DateTime<Utc> = ims.into();
        return doc.last_modified.timestamp() <= ims.timestamp();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn doc() -> Rendered {
        Rendered::new(
            "<feed/>".into(),
            "application/atom+xml",
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        )
    }

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn a_bad_page_is_a_400_with_a_reason() {
        assert_eq!(page_param(None), Ok(1));
        assert_eq!(page_param(Some("page=3")), Ok(3));
        for bad in ["page=0", "page=x", "page=99999"] {
            assert!(
                page_param(Some(bad))
                    .unwrap_err()
                    .starts_with("invalid page")
            );
        }
    }

    #[test]
    fn a_bad_limit_is_a_400_with_a_reason() {
        assert_eq!(limit_param(None), Ok(None));
        assert_eq!(limit_param(Some("_=123")), Ok(None));
        assert_eq!(limit_param(Some("limit=5&_=1")), Ok(Some(5)));
        for bad in ["limit=abc", "limit=0", "limit=-1", "limit=", "limit=1e3"] {
            let reason = limit_param(Some(bad)).unwrap_err();
            assert!(reason.starts_with("invalid limit"), "{bad}: {reason}");
            assert!(!reason.contains('\n'));
        }
    }

    #[tokio::test]
    async fn every_answer_carries_the_security_headers() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let router = Router::new()
            .route(
                "/",
                get(|| async {
                    (
                        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                        "<p>page",
                    )
                }),
            )
            .route(
                "/feed.atom",
                get(|| async { ([(header::CONTENT_TYPE, "application/atom+xml")], "<feed/>") }),
            )
            .layer(axum::middleware::from_fn(security_headers));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, router).await });
        let feed = reqwest::get(format!("http://{addr}/feed.atom"))
            .await
            .unwrap();
        assert_eq!(feed.headers()["x-content-type-options"], "nosniff");
        assert!(feed.headers().get("content-security-policy").is_none());
        let r = reqwest::get(format!("http://{addr}/")).await.unwrap();
        let h = r.headers();
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["referrer-policy"], "no-referrer");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.starts_with("default-src 'none'; style-src 'sha256-"),
            "{csp}"
        );
        assert!(!csp.contains("script-src"), "no script is allowed: {csp}");
        server.abort();
    }

    #[tokio::test]
    async fn a_panicking_request_gets_a_500_and_the_server_carries_on() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        async fn boom() -> &'static str {
            panic!("a handler bug")
        }
        let router = Router::new()
            .route("/boom", get(boom))
            .route("/ok", get(|| async { "fine" }))
            .layer(axum::middleware::from_fn(contain_panics));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, router).await });
        let client = reqwest::Client::new();
        let boom = client
            .get(format!("http://{addr}/boom"))
            .send()
            .await
            .unwrap();
        assert_eq!(boom.status(), 500);
        assert_eq!(boom.text().await.unwrap(), "internal error\n");
        for _ in 0..2 {
            let ok = client
                .get(format!("http://{addr}/ok"))
                .send()
                .await
                .unwrap();
            assert_eq!(ok.text().await.unwrap(), "fine");
        }
        server.abort();
    }

    #[test]
    fn gzip_is_negotiated() {
        let h = |v: &str| headers(&[(header::ACCEPT_ENCODING, v)]);
        assert!(accepts(&h("gzip, deflate, br"), "gzip"));
        assert!(accepts(&h("br;q=1.0, gzip;q=0.8"), "gzip"));
        assert!(!accepts(&h("gzip;q=0"), "gzip"));
        assert!(!accepts(&h("identity"), "gzip"));
        assert!(!accepts(&HeaderMap::new(), "gzip"));
        let r = respond(&doc(), &h("gzip, br"), false, 300);
        assert_eq!(
            r.headers()[header::CONTENT_ENCODING],
            "br",
            "brotli preferred"
        );
        let d = doc();
        let r = respond(&d, &h("gzip"), false, 300);
        assert_eq!(r.headers()[header::CACHE_CONTROL], "public, max-age=300");
        assert_eq!(r.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(r.headers()[header::VARY], "Accept-Encoding");
        let gz_etag = r.headers()[header::ETAG].to_str().unwrap().to_owned();
        assert_ne!(gz_etag, d.etag);
        // Either representation's ETag revalidates.
        assert!(not_modified(
            &d,
            &headers(&[(header::IF_NONE_MATCH, &gz_etag)])
        ));
    }

    #[test]
    fn validators_decide_304() {
        let d = doc();
        assert!(!not_modified(&d, &HeaderMap::new()));
        assert!(not_modified(
            &d,
            &headers(&[(header::IF_NONE_MATCH, &d.etag)])
        ));
        let list = format!("\"x\", W/{}", d.etag);
        assert!(not_modified(
            &d,
            &headers(&[(header::IF_NONE_MATCH, &list)])
        ));
        assert!(!not_modified(
            &d,
            &headers(&[(header::IF_NONE_MATCH, "\"other\"")])
        ));
        assert!(not_modified(
            &d,
            &headers(&[(header::IF_MODIFIED_SINCE, "Thu, 01 Jan 2026 00:00:00 GMT")])
        ));
        assert!(!not_modified(
            &d,
            &headers(&[(header::IF_MODIFIED_SINCE, "Wed, 31 Dec 2025 23:59:59 GMT")])
        ));
        // If-None-Match wins over If-Modified-Since.
        assert!(!not_modified(
            &d,
            &headers(&[
                (header::IF_NONE_MATCH, "\"other\""),
                (header::IF_MODIFIED_SINCE, "Thu, 01 Jan 2026 00:00:00 GMT")
            ])
        ));
    }
}
