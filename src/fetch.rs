//! HTTP: the only module that talks to the network.
//!
//! One shared reqwest client (rustls with the ring provider), conditional GET with the stored
//! validators (RFC 9110 §13: `If-None-Match`, `If-Modified-Since` → 304), connect, read and total
//! timeouts, a global and a per-host concurrency limit, and a size cap on the body as received
//! and again as decompressed (so a gzip bomb ends as [`FetchError::TooLarge`], not as memory
//! growth). Content codings are decoded here, not by reqwest, so that a server that lies about
//! them (`Content-Encoding: gzip` on a plain body, raw deflate for zlib, a truncated stream) is
//! read as a lenient reader would, with a warning, instead of failing the feed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::Url;

use crate::config::PollConfig;
use crate::cpu::CpuGate;
use crate::model::Validators;
use crate::normalise::redact_url;

/// Why a fetch failed. The variant decides the back-off; the message is shown to operators
/// and never contains credentials.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("timed out fetching {url}")]
    Timeout { url: String },
    #[error("cannot connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("HTTP {status} from {url}")]
    Status {
        url: String,
        status: u16,
        /// From `Retry-After` (RFC 9110 §10.2.3) on 429 and 503.
        retry_after: Option<Duration>,
    },
    #[error("body from {url} is larger than the {limit}-byte limit")]
    TooLarge { url: String, limit: u64 },
    #[error("fetching {url}: {reason}")]
    Other { url: String, reason: String },
}

impl FetchError {
    /// The HTTP status, when the server answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// How long the server asked us to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// A successful fetch.
#[derive(Debug)]
pub enum Fetched {
    /// 304: the feed has not changed since the validators we sent; with the minimum interval
    /// its cache headers ask for, if any.
    NotModified(Option<Duration>),
    /// A new body (boxed: it is large next to the 304 case).
    Body(Box<Body>),
}

/// A body with what the response said about it.
#[derive(Debug)]
pub struct Body {
    pub status: u16,
    /// The URL after redirects.
    pub final_url: Url,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// The `Content-Type` header, for the charset.
    pub content_type: Option<String>,
    /// `Cache-Control: max-age` or `Expires`, as a minimum interval before the next fetch.
    pub min_interval: Option<Duration>,
    /// Where the feed moved, when every redirect on the way was permanent (301/308).
    pub moved_to: Option<Url>,
    /// The body, decoded from its content coding.
    pub bytes: Vec<u8>,
    /// Something about the body a lenient reader let pass (a wrong content coding).
    pub warning: Option<String>,
    /// The `Link` header values (RFC 8288), where WebSub publishers name their hub and topic
    /// first (`parse::websub_links_from_headers`); at most [`MAX_LINK_HEADERS`].
    pub links: Vec<String>,
}

/// `Link` header values kept from a response, at most.
pub const MAX_LINK_HEADERS: usize = 16;

/// Redirects followed at most.
pub const MAX_REDIRECTS: usize = 10;

/// The shared HTTP client with its limits.
pub struct Fetcher {
    client: reqwest::Client,
    global: Arc<Semaphore>,
    /// Refreshes between fetch and store (see [`Fetcher::refresh_slot`]).
    in_flight: Arc<Semaphore>,
    per_host: Mutex<HashMap<String, Arc<Semaphore>>>,
    per_host_limit: usize,
    max_body: u64,
    /// The refreshes' CPU work, a few jobs at once.
    cpu: CpuGate,
}

impl Fetcher {
    /// Builds the client from `[poll]`.
    pub fn new(poll: &PollConfig) -> anyhow::Result<Fetcher> {
        // reqwest is built without a default crypto provider (ring builds far faster than
        // aws-lc); install ring once per process. An error means one is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .user_agent(poll.user_agent.clone())
            .connect_timeout(poll.connect_timeout)
            .timeout(poll.timeout)
            .read_timeout(poll.timeout.min(Duration::from_secs(20)))
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(30))
            .build()?;
        Ok(Fetcher {
            client,
            global: Arc::new(Semaphore::new(poll.concurrency)),
            in_flight: Arc::new(Semaphore::new(poll.concurrency)),
            per_host: Mutex::new(HashMap::new()),
            per_host_limit: poll.per_host,
            max_body: poll.max_body_bytes,
            cpu: CpuGate::for_this_machine(),
        })
    }

    /// Where the refreshes run their CPU work: decompressing (here), parsing, preparing text
    /// and reading article pages.
    pub fn cpu(&self) -> &CpuGate {
        &self.cpu
    }

    /// The HTTP client (for requests that are not feed fetches: WebSub pings).
    pub fn client(&self) -> reqwest::Client {
        self.client.clone()
    }

    /// A place among the refreshes in flight (`[poll] concurrency` of them), held from before
    /// the fetch until the store has run the write of the entries.
    pub async fn refresh_slot(&self) -> OwnedSemaphorePermit {
        self.in_flight
            .clone()
            .acquire_owned()
            .await
            .expect("the refresh semaphore is never closed")
    }

    async fn permits(&self, url: &Url) -> (OwnedSemaphorePermit, Option<OwnedSemaphorePermit>) {
        let host_sem = url.host_str().map(|h| {
            let mut map = self.per_host.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(h.to_ascii_lowercase())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_host_limit)))
                .clone()
        });
        // Take the host's permit first so a busy host does not hold global slots while waiting.
        let host = match host_sem {
            Some(s) => s.acquire_owned().await.ok(),
            None => None,
        };
        let global = self
            .global
            .clone()
            .acquire_owned()
            .await
            .expect("the global semaphore is never closed");
        (global, host)
    }

    /// GETs `url`, conditionally when `validators` are for this same URL.
    pub async fn fetch(
        &self,
        url: &Url,
        extra_headers: &[(String, String)],
        validators: &Validators,
    ) -> Result<Fetched, FetchError> {
        self.fetch_limited(url, extra_headers, validators, self.max_body)
            .await
    }

    /// GETs an article page (`[[feed]] full_text`): the same client, limits, redirects and
    /// decoding as a feed fetch (the page's host shares the feed's per-host budget), no
    /// credentials or validators, and a body of at most `limit` bytes (and `max_body_bytes`).
    pub async fn fetch_page(&self, url: &Url, limit: u64) -> Result<Box<Body>, FetchError> {
        let limit = limit.min(self.max_body);
        match self
            .fetch_limited(url, &[], &Validators::default(), limit)
            .await?
        {
            Fetched::Body(body) => Ok(body),
            Fetched::NotModified(_) => Err(FetchError::Status {
                url: redact_url(url),
                status: 304,
                retry_after: None,
            }),
        }
    }

    async fn fetch_limited(
        &self,
        url: &Url,
        extra_headers: &[(String, String)],
        validators: &Validators,
        limit: u64,
    ) -> Result<Fetched, FetchError> {
        let _permits = self.permits(url).await;
        let shown = redact_url(url);
        let (resp, moved_to) = self
            .follow_redirects(url, extra_headers, validators, &shown)
            .await?;
        let status = resp.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified(min_interval(
                resp.headers(),
                Utc::now(),
            )));
        }
        if !status.is_success() {
            let retry_after = match status {
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                    retry_after(resp.headers(), Utc::now())
                }
                _ => None,
            };
            return Err(FetchError::Status {
                url: shown,
                status: status.as_u16(),
                retry_after,
            });
        }
        let headers = resp.headers().clone();
        let final_url = resp.url().clone();
        let raw = self.read_capped(resp, &shown, limit).await?;
        let text_header = |name: header::HeaderName| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (bytes, warning) = self
            .decode(raw, text_header(header::CONTENT_ENCODING), &shown, limit)
            .await?;
        Ok(Fetched::Body(Box::new(Body {
            status: status.as_u16(),
            final_url,
            etag: text_header(header::ETAG),
            last_modified: text_header(header::LAST_MODIFIED),
            content_type: text_header(header::CONTENT_TYPE),
            min_interval: min_interval(&headers, Utc::now()),
            moved_to,
            bytes,
            warning,
            links: headers
                .get_all(header::LINK)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .take(MAX_LINK_HEADERS)
                .map(str::to_owned)
                .collect(),
        })))
    }

    /// Sends the request and follows redirects hop by hop (not by reqwest, to see each hop):
    /// loops are reported as such, and a chain of permanent redirects (301/308, RFC 9110
    /// §15.4) is returned as where the feed moved, so that the daemon can poll the new URL and
    /// tell the operator. The feed's own headers (credentials) go only to its configured host.
    async fn follow_redirects(
        &self,
        url: &Url,
        extra_headers: &[(String, String)],
        validators: &Validators,
        shown: &str,
    ) -> Result<(reqwest::Response, Option<Url>), FetchError> {
        let mut current = url.clone();
        let mut visited = vec![current.clone()];
        let mut all_permanent = true;
        let mut moved_to: Option<Url> = None;
        loop {
            let mut req = self
                .client
                .get(current.clone())
                .header(
                    header::ACCEPT,
                    "application/atom+xml, application/rss+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8",
                )
                .header(header::ACCEPT_ENCODING, "gzip, deflate, br");
            if current.host_str() == url.host_str() {
                for (name, value) in extra_headers {
                    req = req.header(name.as_str(), value.as_str());
                }
            }
            // The stored URL is redacted (the database keeps no credential): compare so.
            if validators.url.as_deref() == Some(redact_url(&current).as_str()) {
                if let Some(etag) = &validators.etag {
                    req = req.header(header::IF_NONE_MATCH, etag);
                }
                if let Some(lm) = &validators.last_modified {
                    req = req.header(header::IF_MODIFIED_SINCE, lm);
                }
            }
            let resp = req.send().await.map_err(|e| classify(e, shown))?;
            let status = resp.status();
            if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
                return Ok((resp, moved_to));
            }
            let next = resp
                .headers()
                .get(header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| current.join(l).ok())
                .ok_or_else(|| FetchError::Other {
                    url: shown.to_owned(),
                    reason: format!(
                        "HTTP {} redirect without a usable Location",
                        status.as_u16()
                    ),
                })?;
            all_permanent &= matches!(status.as_u16(), 301 | 308);
            if all_permanent {
                moved_to = Some(next.clone());
            }
            if visited.contains(&next) {
                let chain: Vec<String> = visited.iter().chain([&next]).map(redact_url).collect();
                return Err(FetchError::Other {
                    url: shown.to_owned(),
                    reason: format!("redirect loop: {}", chain.join(" → ")),
                });
            }
            if visited.len() > MAX_REDIRECTS {
                return Err(FetchError::Other {
                    url: shown.to_owned(),
                    reason: format!("more than {MAX_REDIRECTS} redirects"),
                });
            }
            visited.push(next.clone());
            current = next;
        }
    }

    /// The body as received, streamed and refused as soon as it passes the size cap (and at
    /// once when its declared length does).
    async fn read_capped(
        &self,
        mut resp: reqwest::Response,
        shown: &str,
        limit: u64,
    ) -> Result<Vec<u8>, FetchError> {
        let too_large = || FetchError::TooLarge {
            url: shown.to_owned(),
            limit,
        };
        if resp.content_length().is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| classify(e, shown))? {
            if bytes.len() as u64 + chunk.len() as u64 > limit {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    /// The body decoded from its content coding, capped again after decoding (no gzip bombs).
    /// Decompression is CPU work (up to the cap): off the async workers, like parsing. A body
    /// sent as it is (most) is handed on without that hop.
    async fn decode(
        &self,
        raw: Vec<u8>,
        coding: Option<String>,
        shown: &str,
        max: u64,
    ) -> Result<(Vec<u8>, Option<String>), FetchError> {
        if is_identity(coding.as_deref()) {
            return Ok((raw, None));
        }
        let decoded = self
            .cpu
            .run(move || decode_body(raw, coding.as_deref(), max))
            .await
            .map_err(|e| FetchError::Other {
                url: shown.to_owned(),
                reason: format!("decompressing the body failed: {e}"),
            })?;
        decoded.map_err(|e| match e {
            DecodeError::TooLarge => FetchError::TooLarge {
                url: shown.to_owned(),
                limit: max,
            },
            DecodeError::Unsupported(c) => FetchError::Other {
                url: shown.to_owned(),
                reason: format!("unsupported Content-Encoding {c:?}"),
            },
        })
    }
}

#[derive(Debug, PartialEq)]
enum DecodeError {
    TooLarge,
    Unsupported(String),
}

/// No content coding: none sent, an empty one, or `identity` (in any case, padded).
fn is_identity(coding: Option<&str>) -> bool {
    coding
        .map(str::trim)
        .is_none_or(|c| c.is_empty() || c.eq_ignore_ascii_case("identity"))
}

/// Decodes a body from its `Content-Encoding` (RFC 9110 §8.4), never to more than `max` bytes.
/// Leniently, as feed readers must: a body that is not in the coding it claims is taken as it
/// is, `deflate` may be raw deflate as well as zlib, and a truncated stream gives what it
/// holds; each such case comes back with a warning for the feed's status.
fn decode_body(
    raw: Vec<u8>,
    coding: Option<&str>,
    max: u64,
) -> Result<(Vec<u8>, Option<String>), DecodeError> {
    use std::io::Read;
    if is_identity(coding) {
        return Ok((raw, None));
    }
    let coding = coding
        .map(|c| c.trim().to_ascii_lowercase())
        .unwrap_or_default();
    /// Reads a decoder to its end or to `max + 1` bytes; `Ok(false)` when the stream broke.
    fn drain(r: impl Read, max: u64, out: &mut Vec<u8>) -> Result<bool, DecodeError> {
        let ok = r.take(max + 1).read_to_end(out).is_ok();
        if out.len() as u64 > max {
            return Err(DecodeError::TooLarge);
        }
        Ok(ok)
    }
    let attempt = |which: &str| -> Result<(Vec<u8>, bool), DecodeError> {
        let mut out = Vec::new();
        let ok = match which {
            "gzip" => drain(flate2::read::MultiGzDecoder::new(&raw[..]), max, &mut out)?,
            "zlib" => drain(flate2::read::ZlibDecoder::new(&raw[..]), max, &mut out)?,
            "deflate" => drain(flate2::read::DeflateDecoder::new(&raw[..]), max, &mut out)?,
            _ => drain(brotli::Decompressor::new(&raw[..], 8192), max, &mut out)?,
        };
        Ok((out, ok))
    };
    let candidates: &[&str] = match coding.as_str() {
        "gzip" | "x-gzip" => &["gzip"],
        "deflate" => &["zlib", "deflate"],
        "br" => &["br"],
        other => return Err(DecodeError::Unsupported(other.to_owned())),
    };
    // A broken stream's output is kept only if it looks like the start of a document: a
    // decoder fed bytes that were never compressed can emit noise before it gives up.
    let looks_like_a_document = |b: &[u8]| {
        let b = b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b);
        b.iter()
            .find(|c| !c.is_ascii_whitespace())
            .is_some_and(|c| matches!(c, b'<' | b'{'))
    };
    for which in candidates {
        let (out, complete) = attempt(which)?;
        if complete {
            return Ok((out, None));
        }
        if looks_like_a_document(&out) {
            return Ok((
                out,
                Some(format!(
                    "the {coding}-compressed body was cut short; read what arrived"
                )),
            ));
        }
    }
    Ok((
        raw,
        Some(format!(
            "Content-Encoding says {coding} but the body is not; read as sent"
        )),
    ))
}

fn classify(e: reqwest::Error, url: &str) -> FetchError {
    let url = url.to_owned();
    if e.is_timeout() {
        FetchError::Timeout { url }
    } else if e.is_connect() {
        FetchError::Connect {
            url,
            reason: root_cause(&e),
        }
    } else {
        FetchError::Other {
            url,
            reason: root_cause(&e),
        }
    }
}

/// The innermost error's message: reqwest's own top-level message repeats the URL (which may
/// hold credentials) and says little.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    let msg = cur.to_string();
    if msg.is_empty() {
        "unknown error".to_owned()
    } else {
        msg
    }
}

/// `Cache-Control: max-age` (RFC 9111 §5.2.2.1), else `Expires` (§5.3), as an interval.
pub fn min_interval(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let max_age = headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|d| {
            let (k, v) = d.trim().split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("max-age")
                .then(|| v.trim().trim_matches('"').parse::<u64>().ok())
                .flatten()
        });
    if let Some(secs) = max_age {
        return Some(Duration::from_secs(secs));
    }
    let expires = headers.get(header::EXPIRES)?.to_str().ok()?;
    let when: DateTime<Utc> = httpdate::parse_http_date(expires).ok()?.into();
    (when - now).to_std().ok()
}

/// `Retry-After` as delta-seconds or an HTTP-date (RFC 9110 §10.2.3).
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let v = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when: DateTime<Utc> = httpdate::parse_http_date(v).ok()?.into();
    Some((when - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use reqwest::header::HeaderValue;

    #[test]
    fn content_codings_are_decoded_leniently_and_capped() {
        use std::io::Write;
        let doc = b"<rss version=\"2.0\"><channel><title>x</title></channel></rss>".to_vec();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&doc).unwrap();
        let gz = gz.finish().unwrap();
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        zlib.write_all(&doc).unwrap();
        let zlib = zlib.finish().unwrap();
        let mut raw =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        raw.write_all(&doc).unwrap();
        let raw = raw.finish().unwrap();
        let mut br = Vec::new();
        brotli::BrotliCompress(&mut &doc[..], &mut br, &Default::default()).unwrap();
        for (coding, body) in [
            (None, doc.clone()),
            (Some("identity"), doc.clone()),
            (Some("gzip"), gz.clone()),
            (Some("x-gzip"), gz.clone()),
            (Some("deflate"), zlib),
            (Some("deflate"), raw),
            (Some("br"), br),
        ] {
            assert_eq!(
                decode_body(body, coding, 1 << 20),
                Ok((doc.clone(), None)),
                "{coding:?}"
            );
        }
        // Said gzip, sent plain: read as sent, with a warning.
        let (out, warning) = decode_body(doc.clone(), Some("gzip"), 1 << 20).unwrap();
        assert_eq!(out, doc);
        assert!(warning.unwrap().contains("not"));
        let (out, warning) = decode_body(doc.clone(), Some("deflate"), 1 << 20).unwrap();
        assert_eq!(out, doc);
        assert!(warning.is_some());
        // Cut short: what arrived.
        let (out, warning) =
            decode_body(gz[..gz.len() - 12].to_vec(), Some("gzip"), 1 << 20).unwrap();
        assert!(doc.starts_with(&out) && !out.is_empty(), "{out:?}");
        assert!(warning.unwrap().contains("cut short"));
        // Over the cap once decoded.
        assert_eq!(
            decode_body(gz, Some("gzip"), 10),
            Err(DecodeError::TooLarge)
        );
        assert_eq!(
            decode_body(doc, Some("compress"), 1 << 20),
            Err(DecodeError::Unsupported("compress".into()))
        );
    }

    #[test]
    fn cache_headers_give_a_minimum_interval() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let mut h = HeaderMap::new();
        assert_eq!(min_interval(&h, now), None);
        h.insert(
            header::EXPIRES,
            HeaderValue::from_static("Thu, 01 Jan 2026 00:05:00 GMT"),
        );
        assert_eq!(min_interval(&h, now), Some(Duration::from_secs(300)));
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=900"),
        );
        assert_eq!(min_interval(&h, now), Some(Duration::from_secs(900)));
    }

    #[test]
    fn retry_after_in_both_forms() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let mut h = HeaderMap::new();
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(120)));
        h.insert(
            header::RETRY_AFTER,
            HeaderValue::from_static("Thu, 01 Jan 2026 00:10:00 GMT"),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(600)));
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now), None);
    }
}
