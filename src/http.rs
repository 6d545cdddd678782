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

use crate::daemon::App;
use crate::publish::Rendered;

/// Serves until `shutdown` completes, then finishes the requests in progress.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let router = Router::new()
        .route("/healthz", get(healthz))
        .fallback(document)
        .with_state(app);
    if let Err(e) = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!("HTTP server failed: {e}");
    }
}

async fn healthz(State(app): State<Arc<App>>) -> Response {
    let ping = tokio::time::timeout(Duration::from_secs(5), app.store.call(|db| db.ping())).await;
    match ping {
        Ok(Ok(Ok(()))) => (StatusCode::OK, "ok\n").into_response(),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "database not answering\n").into_response(),
    }
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
    respond(doc, &headers, method == Method::HEAD)
}

/// A 200 with the document, or a 304 when the client's validators match.
fn respond(doc: &Rendered, req: &HeaderMap, head: bool) -> Response {
    let last_modified = httpdate::fmt_http_date(doc.last_modified.into());
    let not_modified = not_modified(doc, req);
    let mut builder = Response::builder()
        .header(header::ETAG, &doc.etag)
        .header(header::LAST_MODIFIED, last_modified)
        .header(header::CACHE_CONTROL, "public, max-age=60");
    if not_modified {
        builder = builder.status(StatusCode::NOT_MODIFIED);
        return builder.body(Body::empty()).unwrap_or_default();
    }
    builder = builder
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, doc.content_type)
        .header(header::CONTENT_LENGTH, doc.body.len());
    let body = if head {
        Body::empty()
    } else {
        Body::from(doc.body.clone())
    };
    builder.body(body).unwrap_or_default()
}

/// RFC 9110 §13.2.2: If-None-Match takes precedence; If-Modified-Since is used only without it.
fn not_modified(doc: &Rendered, req: &HeaderMap) -> bool {
    if let Some(inm) = req.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        return inm
            .split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag.trim_start_matches("W/") == doc.etag);
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
