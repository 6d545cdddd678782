//! Pure functions that turn what feeds say into what wiredesk compares and republishes:
//! canonical URLs, plain text for matching, sanitised HTML for output, and sane dates.
//! Nothing here does I/O.

use std::cell::RefCell;
use std::sync::OnceLock;

use chrono::{DateTime, Duration, Utc};
use unicode_normalization::UnicodeNormalization;
use url::Url;

/// Query parameters that only track the reader and never change which article a URL names.
const TRACKING_PARAMS: &[&str] = &[
    "fbclid",
    "gclid",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "yclid",
    "twclid",
    "igshid",
    "ocid",
    "cmpid",
    "cmp",
    "mc_cid",
    "mc_eid",
    "_ga",
    "_gl",
    "ref_src",
    "ref_url",
    "s_cid",
    "ito",
    "spm",
    "smid",
    "smtyp",
    "rss",
    "rssfeed",
    "from_rss",
    "feed_id",
    "mkt_tok",
    "icid",
    "xtor",
    "ns_mchannel",
    "ns_source",
    "ns_campaign",
    "ns_linkname",
    "ns_fee",
    "at_medium",
    "at_campaign",
    "at_custom1",
    "at_custom2",
    "at_custom3",
    "at_custom4",
];

/// The canonical form of an article URL: absolute (resolved against `base`), http(s) only,
/// scheme and host lowercased, default port, fragment and tracking parameters dropped.
/// Returns `None` for anything that is not an http(s) URL.
pub fn canonical_url(raw: &str, base: Option<&Url>) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let mut url = match base {
        Some(b) => b.join(raw).ok()?,
        None => Url::parse(raw).ok()?,
    };
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return None;
    }
    url.set_fragment(None);
    // The url crate already lowercases scheme and host and drops the default port.
    if url.query().is_some() {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| !is_tracking_param(k))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    Some(url.to_string())
}

fn is_tracking_param(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.starts_with("utm_") || TRACKING_PARAMS.contains(&key.as_str())
}

/// Query parameters whose values are secrets: shown as `REDACTED` wherever a URL is displayed.
/// Written lower case without punctuation (see [`is_secret_param`]).
const SECRET_PARAMS: &[&str] = &[
    "apikey",
    "xapikey",
    "key",
    "token",
    "accesstoken",
    "authtoken",
    "apitoken",
    "privatetoken",
    "auth",
    "secret",
    "clientsecret",
    "password",
    "passwd",
    "pwd",
    "sig",
    "signature",
    "session",
    "sessionid",
];

/// Whether a query key names a secret: compared without case and without punctuation, so
/// that `apiKey`, `api-key`, `X-API-Key` and a stray `?apikey` all count.
fn is_secret_param(key: &str) -> bool {
    let folded: String = key
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    SECRET_PARAMS.contains(&folded.as_str())
}

/// A URL as it may be shown in logs, errors, status and published output: user and password
/// removed, secret-looking query parameters replaced by `REDACTED`.
pub fn redact_url(url: &Url) -> String {
    let mut u = url.clone();
    if !u.username().is_empty() || u.password().is_some() {
        let _ = u.set_username("");
        let _ = u.set_password(None);
    }
    if let Some(query) = u.query()
        && let Some(redacted) = redact_pairs(query)
    {
        u.set_query(Some(&redacted));
    }
    // Single-page apps carry parameters in the fragment too (`#token=…`).
    if let Some(fragment) = u.fragment()
        && let Some(redacted) = redact_pairs(fragment)
    {
        u.set_fragment(Some(&redacted));
    }
    u.to_string()
}

/// `key=value&…` with the values of secret-looking keys replaced by `REDACTED`; `None` when
/// there is nothing to replace (the text is then left exactly as it was).
fn redact_pairs(pairs: &str) -> Option<String> {
    let is_secret = |k: &str| is_secret_param(k);
    let parsed: Vec<(String, String)> = url::form_urlencoded::parse(pairs.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if !parsed.iter().any(|(k, v)| is_secret(k) && v != "REDACTED") {
        return None;
    }
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &parsed {
        out.append_pair(k, if is_secret(k) { "REDACTED" } else { v });
    }
    Some(out.finish())
}

/// [`redact_url`] for a URL held as text; unparseable text is shown as `(invalid URL)`.
pub fn redact_url_str(url: &str) -> String {
    Url::parse(url)
        .map(|u| redact_url(&u))
        .unwrap_or_else(|_| "(invalid URL)".to_owned())
}

/// Plain text from HTML (or from text that may hold entities): tags removed, `<script>` and
/// `<style>` bodies dropped, block boundaries kept as spaces, entities decoded (twice, for the
/// double-escaped `&amp;quot;` that some feeds carry), Unicode NFKC, whitespace collapsed.
///
/// Hand-written rather than html5ever/ammonia: this runs on every entry of every refresh, must
/// keep word boundaries where block tags stood (ammonia re-serialises `<p>a</p><p>b</p>` as
/// `ab`), and must never fail; a linear scan does all three in a few microseconds.
pub fn html_to_text(html: &str) -> String {
    let stripped = strip_tags(html);
    let once = html_escape::decode_html_entities(&stripped);
    // Double-escaped markup decodes to tags on the first pass; strip those too.
    let text = if once.contains('&') || once.contains('<') {
        let twice = html_escape::decode_html_entities(&once).into_owned();
        if twice.contains('<') {
            strip_tags(&twice)
        } else {
            twice
        }
    } else {
        once.into_owned()
    };
    collapse_whitespace(&nfkc(&text))
}

/// `text` in NFKC, each character lowercased. Most text is NFKC already (feed text is
/// normalised when read; headlines and bodies are cleaned from it): the quick check says so
/// without normalising, and ASCII, Hangul syllables and the main Han block need neither a
/// normalisation table nor a case table (this was a tenth of preparing an item, most of it
/// Korean text's per-character table lookups).
pub fn nfkc_lowercase(text: &str) -> String {
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    if !is_nfkc_quickly(text) {
        return text.nfkc().flat_map(char::to_lowercase).collect();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else if is_stable_and_caseless(c) {
            out.push(c);
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// `text` in NFKC; the quick check spares normalising text that already is (most of it).
pub fn nfkc(text: &str) -> std::borrow::Cow<'_, str> {
    if text.is_ascii() || is_nfkc_quickly(text) {
        return text.into();
    }
    text.nfkc().collect::<String>().into()
}

/// Hangul syllables and the main Han block: each its own NFKC (quick check "yes", combining
/// class 0) and its own lowercase (unit tests check every one). Most Korean text is made of
/// them, so they are known without a table lookup.
fn is_stable_and_caseless(c: char) -> bool {
    matches!(c as u32, 0xAC00..=0xD7A3 | 0x4E00..=0x9FFF)
}

/// Whether Unicode's NFKC quick check says "yes" for `text`: unicode-normalization's
/// `is_nfkc_quick` step for step (a character of combining class 0 ends a run of combining
/// marks; one that is not "yes" decides), with [`is_stable_and_caseless`] characters passed
/// over as it passes over ASCII.
fn is_nfkc_quickly(text: &str) -> bool {
    use unicode_normalization::char::canonical_combining_class;
    let mut last_class = 0u8;
    for c in text.chars() {
        if c.is_ascii() || is_stable_and_caseless(c) {
            last_class = 0;
            continue;
        }
        let class = canonical_combining_class(c);
        if last_class > class && class != 0 {
            return false;
        }
        if unicode_normalization::is_nfkc_quick(std::iter::once(c))
            != unicode_normalization::IsNormalized::Yes
        {
            return false;
        }
        last_class = class;
    }
    true
}

fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let after = &rest[lt + 1..];
        // A `<` is markup only before a comment, declaration or processing instruction, or
        // an element's name; otherwise it is text ("a < b", "x<y matters", "<3").
        let starts_tag = match after.chars().next() {
            Some('!' | '?') => true,
            Some(_) => names_element(after),
            None => false,
        };
        if !starts_tag {
            out.push('<');
            rest = after;
            continue;
        }
        if let Some(comment) = after.strip_prefix("!--") {
            rest = comment.find("-->").map_or("", |i| &comment[i + 3..]);
            continue;
        }
        let Some(gt) = after.find('>') else {
            // An unterminated tag: drop the rest, it is markup debris.
            rest = "";
            break;
        };
        let tag = &after[..gt];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        rest = &after[gt + 1..];
        if (name == "script" || name == "style") && !tag.starts_with('/') {
            // Searched in place (not in a lowercased copy of the rest of the document, which
            // made a document of many `<script>` tags quadratic).
            let close = format!("</{name}");
            rest = find_ascii_ci(rest, &close)
                .and_then(|i| rest[i..].find('>').map(|j| &rest[i + j + 1..]))
                .unwrap_or("");
            continue;
        }
        if is_block(&name) {
            out.push(' ');
        }
    }
    out.push_str(rest);
    out
}

/// The element names of the tags feed text carries: HTML's (current and obsolete), and the SVG
/// and MathML ones seen inline. Sorted (a unit test checks).
#[rustfmt::skip]
const ELEMENTS: &[&str] = &[
    "a", "abbr", "acronym", "address", "applet", "area", "article", "aside", "audio", "b", "base",
    "basefont", "bdi", "bdo", "bgsound", "big", "blink", "blockquote", "body", "br", "button",
    "canvas", "caption", "center", "circle", "cite", "clippath", "code", "col", "colgroup",
    "command", "data", "datagrid", "datalist", "dd", "defs", "del", "desc", "details", "dfn",
    "dialog", "dir", "div", "dl", "dt", "ellipse", "em", "embed", "fieldset", "figcaption",
    "figure", "font", "footer", "foreignobject", "form", "frame", "frameset", "g", "h1", "h2",
    "h3", "h4", "h5", "h6", "head", "header", "hgroup", "hr", "html", "i", "iframe", "image",
    "img", "input", "ins", "isindex", "kbd", "keygen", "label", "layer", "legend", "li", "line",
    "lineargradient", "link", "listing", "m", "main", "map", "mark", "marquee", "mask", "math",
    "menu", "meta", "meter", "mfrac", "mi", "mn", "mo", "mrow", "msub", "msup", "multicol", "nav",
    "nextid", "nobr", "noembed", "noframes", "noscript", "object", "ol", "optgroup", "option",
    "output", "p", "param", "path", "pattern", "picture", "plaintext", "polygon", "polyline",
    "pre", "progress", "q", "radialgradient", "rb", "rect", "rp", "rt", "rtc", "ruby", "s", "samp",
    "script", "search", "section", "select", "slot", "small", "sound", "source", "spacer", "span",
    "stop", "strike", "strong", "style", "sub", "summary", "sup", "svg", "symbol", "table",
    "tbody", "td", "template", "textarea", "tfoot", "th", "thead", "time", "title", "tr", "track",
    "tspan", "tt", "u", "ul", "use", "var", "video", "wbr", "xmp",
];

/// Whether `s` (what follows a `<`) opens or closes an element: a known element name
/// ([`ELEMENTS`]), a custom element's (it has a hyphen) or a namespaced one (`o:p`, as word
/// processors write), then a space, `/`, `>` or the end of the text. A plain-text headline's
/// "x<y" or "<brilliant idea" names none, and is kept.
fn names_element(s: &str) -> bool {
    let s = s.strip_prefix('/').unwrap_or(s);
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == ':'))
        .unwrap_or(s.len());
    let name = &s[..end];
    let ends_name = s[end..]
        .chars()
        .next()
        .is_none_or(|c| c.is_whitespace() || c == '/' || c == '>');
    if !ends_name || !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return false;
    }
    name.contains(['-', ':'])
        || ELEMENTS
            .binary_search(&name.to_ascii_lowercase().as_str())
            .is_ok()
}

/// The byte offset of the first ASCII-case-insensitive occurrence of `needle` (ASCII) in
/// `hay`. Offsets are `hay`'s own: nothing is searched in a transformed copy.
fn find_ascii_ci(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let first = n.first()?.to_ascii_lowercase();
    (0..h.len().saturating_sub(n.len() - 1))
        .find(|&i| h[i].to_ascii_lowercase() == first && h[i..i + n.len()].eq_ignore_ascii_case(n))
}

fn is_block(name: &str) -> bool {
    matches!(
        name,
        "p" | "br"
            | "div"
            | "li"
            | "ul"
            | "ol"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "tr"
            | "td"
            | "th"
            | "table"
            | "blockquote"
            | "figure"
            | "figcaption"
            | "section"
            | "article"
            | "header"
            | "footer"
            | "hr"
            | "img"
            | "pre"
    )
}

/// Runs of whitespace (and control characters) become one space; the ends are trimmed.
pub fn collapse_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() || c.is_control() || c == '\u{feff}' {
            space = !out.is_empty();
        } else {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    out
}

/// The character windows-1252 (as WHATWG and encoding_rs define it) gives byte `b`.
fn cp1252_char(b: u8) -> char {
    let byte = [b];
    let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&byte);
    text.chars().next().unwrap_or('\u{FFFD}')
}

/// The windows-1252 byte of a non-ASCII character, if it has one (C1 controls count as
/// their own byte, as ISO-8859-1 has them).
fn cp1252_byte(c: char) -> Option<u8> {
    let n = u32::from(c);
    if (0x80..=0xFF).contains(&n) {
        return u8::try_from(n).ok();
    }
    let mut buf = [0u8; 4];
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(c.encode_utf8(&mut buf));
    match (&*bytes, unmappable) {
        ([b], false) if *b >= 0x80 => Some(*b),
        _ => None,
    }
}

/// Undoes the two text accidents feeds carry most: UTF-8 that was read as windows-1252 or
/// ISO-8859-1 somewhere upstream and re-encoded ("donâ€™t" → "don’t", "&#226;&#128;&#166;" →
/// "…"), and C1 control characters that stand for windows-1252 punctuation ("don&#146;t" →
/// "don’t", as browsers read them). A run of such characters is replaced only when its bytes
/// form valid UTF-8 with at least one multi-byte sequence, so ordinary Latin-1 text stays as
/// it is. Written here because the Rust crates for this (ports of Python's ftfy) are
/// unmaintained; this is the small, safe part of what ftfy does.
pub fn repair_text(text: &str) -> std::borrow::Cow<'_, str> {
    if !may_need_repair(text) {
        return std::borrow::Cow::Borrowed(text);
    }
    repair_text_slowly(text)
}

/// Whether [`repair_text`] can change `text`: only a C1 control (U+0080–U+009F) or a run
/// holding a UTF-8 lead byte read as windows-1252 (Â–ô, U+00C2–U+00F4) is ever replaced, and
/// in UTF-8 those are the byte pairs C2 80–9F and C3 82–B4. Most text (any ASCII, Korean,
/// curly quotes) has neither, and was copied character by character for nothing: a twentieth
/// of the pool's time in an ingest.
fn may_need_repair(text: &str) -> bool {
    text.as_bytes()
        .windows(2)
        .any(|w| matches!(w, [0xC2, 0x80..=0x9F] | [0xC3, 0x82..=0xB4]))
}

fn repair_text_slowly(text: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    if text.is_ascii() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut run: Vec<u8> = Vec::new();
    let mut run_text = String::new();
    let flush = |run: &mut Vec<u8>, run_text: &mut String, out: &mut String, changed: &mut bool| {
        if run.is_empty() {
            return;
        }
        match std::str::from_utf8(run) {
            Ok(fixed) if fixed.chars().count() < run_text.chars().count() => {
                out.push_str(fixed);
                *changed = true;
            }
            _ => out.push_str(run_text),
        }
        run.clear();
        run_text.clear();
    };
    for c in text.chars() {
        match cp1252_byte(c) {
            Some(b) => {
                run.push(b);
                run_text.push(c);
            }
            None => {
                flush(&mut run, &mut run_text, &mut out, &mut changed);
                out.push(c);
            }
        }
    }
    flush(&mut run, &mut run_text, &mut out, &mut changed);
    // C1 controls left over are windows-1252 punctuation that lost its way.
    // The five bytes windows-1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) stand for
    // nothing and are dropped.
    if out.chars().any(|c| ('\u{80}'..='\u{9F}').contains(&c)) {
        out = out
            .chars()
            .filter_map(|c| match u32::from(c) {
                n @ 0x80..=0x9F => {
                    let mapped = u8::try_from(n).map_or(c, cp1252_char);
                    (!('\u{80}'..='\u{9F}').contains(&mapped)).then_some(mapped)
                }
                _ => Some(c),
            })
            .collect();
        changed = true;
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
    }
}

thread_local! {
    /// The base URL of the [`sanitise_html`] call running on this thread.
    static BASE: RefCell<Option<Url>> = const { RefCell::new(None) };
}

/// A relative URL made absolute against this thread's [`BASE`]; `None` (the attribute
/// dropped) when it cannot be.
fn against_base(url: &str) -> Option<std::borrow::Cow<'_, str>> {
    BASE.with(|b| {
        let joined = b.borrow().as_ref()?.join(url).ok()?;
        Some(std::borrow::Cow::Owned(String::from(joined)))
    })
}

/// HTML safe to republish: no script, style, iframe, event handler or `javascript:` URL;
/// relative URLs made absolute against `base`; links get `rel="noopener noreferrer"`.
pub fn sanitise_html(html: &str, base: Option<&Url>) -> String {
    static DEFAULT: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    // Making a builder (its tag, attribute and URL scheme sets) cost more than most items'
    // cleaning (5 % of the pool's time in an ingest), and a builder per thread cost ~13 MB at
    // 5,000 feeds (the blocking pool grows to hundreds of threads): one builder serves every
    // base, its relative URLs resolved against the base this thread set for this call —
    // `base.join(url)`, as ammonia's `RewriteWithBase` does.
    static WITH_BASE: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    match base {
        Some(base) => {
            BASE.with(|b| *b.borrow_mut() = Some(base.clone()));
            WITH_BASE
                .get_or_init(|| {
                    let mut b = ammonia::Builder::default();
                    b.url_relative(ammonia::UrlRelative::Custom(Box::new(against_base)));
                    b
                })
                .clean(html)
                .to_string()
        }
        None => DEFAULT
            .get_or_init(|| {
                let mut b = ammonia::Builder::default();
                b.url_relative(ammonia::UrlRelative::Deny);
                b
            })
            .clean(html)
            .to_string(),
    }
}

/// A date a feed gave, made usable: missing → `now` (first seen); more than a day in the
/// future (a wrong time zone or a typo) → `now`.
pub fn clamp_date(date: Option<DateTime<Utc>>, now: DateTime<Utc>) -> DateTime<Utc> {
    match date {
        Some(d) if d <= now + Duration::days(1) => d,
        _ => now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn canonical_urls() {
        let cases = [
            (
                "HTTPS://Example.COM:443/a/b?utm_source=rss&id=5&fbclid=x#top",
                Some("https://example.com/a/b?id=5"),
            ),
            (
                "http://example.com:80/x?utm_medium=feed",
                Some("http://example.com/x"),
            ),
            (
                "http://example.com:8080/x",
                Some("http://example.com:8080/x"),
            ),
            (
                "https://e.com/p?ocid=a&cmpid=b&gclid=c",
                Some("https://e.com/p"),
            ),
            ("mailto:a@b.c", None),
            ("javascript:alert(1)", None),
            ("", None),
        ];
        for (input, want) in cases {
            assert_eq!(canonical_url(input, None).as_deref(), want, "{input}");
        }
    }

    #[test]
    fn secrets_are_redacted() {
        let u = Url::parse("https://user:pw@wire.example/feed?apikey=abc&section=world").unwrap();
        assert_eq!(
            redact_url(&u),
            "https://wire.example/feed?apikey=REDACTED&section=world"
        );
    }

    #[test]
    fn relative_links_resolve_against_the_feed() {
        let base = Url::parse("https://news.example.org/rss/all.xml").unwrap();
        assert_eq!(
            canonical_url("/story/1?utm_campaign=x", Some(&base)).as_deref(),
            Some("https://news.example.org/story/1")
        );
    }

    #[test]
    fn element_names_are_sorted_lowercase_and_distinct() {
        assert!(ELEMENTS.windows(2).all(|w| w[0] < w[1]));
        assert!(
            ELEMENTS
                .iter()
                .all(|e| e.bytes().all(|b| !b.is_ascii_uppercase()))
        );
    }

    #[test]
    fn text_from_html() {
        let cases = [
            ("<p>One</p><p>Two</p>", "One Two"),
            ("a < b &amp; c", "a < b & c"),
            ("<script>alert(1)</script>Hi<style>p{}</style>!", "Hi!"),
            ("Tom &amp;quot;Jr&amp;quot; said", "Tom \"Jr\" said"),
            ("&lt;b&gt;bold&lt;/b&gt; text", "bold text"),
            ("caf&eacute; &rsquo;s", "café ’s"),
            ("ＡＢＣ１２３", "ABC123"),
            ("<!-- hidden -->shown", "shown"),
            ("broken <a href=", "broken"),
            // A `<` before no element's name is text, wherever it is.
            ("x<y matters", "x<y matters"),
            (
                "Profits <5% and <brilliant ideas",
                "Profits <5% and <brilliant ideas",
            ),
            ("a <B>bold</B> move<br/>next", "a bold move next"),
            (
                "Word<o:p></o:p> and <my-widget x=1>hi</my-widget>",
                "Word and hi",
            ),
            ("if a<b then", "if a"),
            ("&lt;i&gt;Titanic&lt;/i&gt; at 25", "Titanic at 25"),
            ("  many\n\n spaces\t", "many spaces"),
        ];
        for (input, want) in cases {
            assert_eq!(html_to_text(input), want, "{input}");
        }
    }

    #[test]
    fn sanitising_removes_active_content() {
        let base = Url::parse("https://e.com/feed").unwrap();
        let out = sanitise_html(
            r#"<p onclick="x()">Hi <a href="javascript:alert(1)">x</a><script>bad()</script><img src="/i.png"><iframe src="https://e.com"></iframe></p>"#,
            Some(&base),
        );
        assert!(!out.contains("onclick"), "{out}");
        assert!(!out.contains("javascript"), "{out}");
        assert!(!out.contains("script"), "{out}");
        assert!(!out.contains("iframe"), "{out}");
        assert!(out.contains(r#"src="https://e.com/i.png""#), "{out}");
    }

    /// Text of fewer than `n` characters, drawn from each of the ranges (and any character)
    /// with equal weight (a regex's alternation of classes would be one class, drawn from by
    /// size: all but never Hangul or Latin-1).
    fn chars_from(
        ranges: &[(char, char)],
        n: usize,
    ) -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::strategy::{Strategy, Union};
        let each: Vec<_> = ranges
            .iter()
            .map(|&(a, b)| proptest::char::range(a, b).boxed())
            .chain([proptest::arbitrary::any::<char>().boxed()])
            .collect();
        proptest::collection::vec(Union::new(each), 0..n).prop_map(|v| v.into_iter().collect())
    }

    /// Latin-1, windows-1252's punctuation and letters, Hangul, ASCII.
    const REPAIR_RANGES: &[(char, char)] = &[
        ('a', 'z'),
        (' ', ' '),
        ('\u{80}', '\u{ff}'),
        ('\u{152}', '\u{161}'),
        ('\u{2013}', '\u{2026}'),
        ('\u{20ac}', '\u{20ac}'),
        ('가', '힣'),
    ];

    /// `text`'s UTF-8 read as windows-1252: the mojibake [`repair_text`] undoes.
    fn mojibake(text: &str) -> String {
        text.bytes()
            .map(|b| {
                if b < 0x80 {
                    char::from(b)
                } else {
                    cp1252_char(b)
                }
            })
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn text_the_quick_check_passes_over_needs_no_repair(
            before in chars_from(REPAIR_RANGES, 8),
            broken in chars_from(&[('\u{80}', '\u{7ff}'), ('\u{f0000}', '\u{10ffff}')], 4),
            after in chars_from(REPAIR_RANGES, 4),
        ) {
            let s = format!("{before}{}{after}", mojibake(&broken));
            if !may_need_repair(&s) {
                proptest::prop_assert_eq!(repair_text_slowly(&s), s.as_str());
            }
        }
    }

    #[test]
    fn hangul_syllables_and_main_han_are_their_own_nfkc_and_lowercase() {
        for c in ('\u{AC00}'..='\u{D7A3}').chain('\u{4E00}'..='\u{9FFF}') {
            assert!(is_stable_and_caseless(c));
            let alone = c.to_string();
            assert_eq!(
                unicode_normalization::is_nfkc_quick(alone.chars()),
                unicode_normalization::IsNormalized::Yes,
                "U+{:04X}",
                u32::from(c)
            );
            assert_eq!(unicode_normalization::char::canonical_combining_class(c), 0);
            assert_eq!(alone.nfkc().collect::<String>(), alone);
            assert_eq!(c.to_lowercase().collect::<String>(), alone);
        }
    }

    #[test]
    fn marks_out_of_canonical_order_are_reordered_around_hangul_too() {
        // U+0305 (class 230) before U+0316 (class 220), each "yes" alone: only the order says no.
        for s in ["a\u{305}\u{316}", "가\u{305}\u{316}한", "\u{305}\u{316}"] {
            assert!(!is_nfkc_quickly(s), "{s:?}");
            assert_eq!(nfkc_lowercase(s), nfkc_lowercase_reference(s));
            assert_ne!(nfkc(s), s);
        }
        assert!(is_nfkc_quickly("a\u{316}\u{305}가"));
    }

    /// `nfkc_lowercase` as it was before its shortcuts: the property's reference.
    fn nfkc_lowercase_reference(text: &str) -> String {
        if unicode_normalization::is_nfkc_quick(text.chars())
            == unicode_normalization::IsNormalized::Yes
        {
            return text.chars().flat_map(char::to_lowercase).collect();
        }
        text.nfkc().flat_map(char::to_lowercase).collect()
    }

    proptest::proptest! {
        #[test]
        fn nfkc_and_lowercasing_give_what_they_gave_before_their_shortcuts(
            s in chars_from(&[
                ('A', 'z'),
                ('0', '9'),
                (' ', ' '),
                ('가', '힣'),
                ('一', '鿿'),
                ('\u{300}', '\u{36f}'),   // combining marks, in and out of order
                ('\u{1100}', '\u{11ff}'), // conjoining jamo
                ('\u{3099}', '\u{309a}'), // kana voicing marks
                ('\u{f900}', '\u{faff}'), // compatibility ideographs
                ('\u{ff00}', '\u{ffef}'), // full- and half-width forms
                ('À', 'ſ'),
                ('Σ', 'ω'),
                ('ẞ', 'ẞ'),
            ], 24),
        ) {
            proptest::prop_assert_eq!(nfkc_lowercase(&s), nfkc_lowercase_reference(&s));
            let quick = unicode_normalization::is_nfkc_quick(s.chars()) == unicode_normalization::IsNormalized::Yes;
            proptest::prop_assert_eq!(is_nfkc_quickly(&s), quick);
            let want: String = if quick { s.clone() } else { s.nfkc().collect() };
            proptest::prop_assert_eq!(nfkc(&s), want.as_str());
        }
    }

    #[test]
    fn every_character_s_mojibake_and_every_c1_control_is_looked_at() {
        // Exhaustive where the property test samples: each sequence repair_text can undo
        // begins with a lead byte, and every lead byte is some character's.
        for c in (0x80..=0x10FFFF).filter_map(char::from_u32) {
            let s = mojibake(&c.to_string());
            assert!(may_need_repair(&s), "U+{:04X} as {s:?}", u32::from(c));
        }
        for c in '\u{80}'..='\u{9f}' {
            assert!(may_need_repair(&c.to_string()), "U+{:04X}", u32::from(c));
        }
    }

    #[test]
    fn the_quick_check_sees_what_needs_repair() {
        for broken in ["donâ€™t", "â\u{80}¦", "don\u{92}t", "CafÃ© au lait", "Ã´"] {
            assert!(may_need_repair(broken), "{broken}");
            assert_ne!(repair_text(broken), broken);
        }
        // Latin-1 letters (Ñ, é) may begin a sequence and are looked at; these cannot.
        for fine in [
            "plain",
            "한국어 기사",
            "“quoted” — dash",
            "£5 ¼ °C ©",
            "ÿ ü",
        ] {
            assert!(!may_need_repair(fine), "{fine}");
        }
        for looked_at in ["Ñandú", "naïve café"] {
            assert!(may_need_repair(looked_at), "{looked_at}");
            assert_eq!(repair_text(looked_at), looked_at);
        }
    }

    /// What ammonia's own `RewriteWithBase` makes of `html`: the shared builder's reference.
    fn with_ammonia_s_base(html: &str, base: &Url) -> String {
        ammonia::Builder::default()
            .url_relative(ammonia::UrlRelative::RewriteWithBase(base.clone()))
            .clean(html)
            .to_string()
    }

    #[test]
    fn relative_urls_resolve_as_ammonia_s_rewrite_with_base_does() {
        let base = Url::parse("https://news.example/world/2026/story.html?x=1#top").unwrap();
        for href in [
            "a.html",
            "../up.html",
            "/root",
            "//other.example/p",
            "?q=1",
            "#frag",
            "",
            " ",
            "https://abs.example/",
            "javascript:alert(1)",
            "data:text/html,x",
            "http://[bad",
            "%zz",
            "a b c",
            "\\back\\slash",
            "mailto:a@b.c",
            "./x/../y",
        ] {
            let html = format!(r#"<a href="{href}">l</a><img src="{href}">"#);
            assert_eq!(
                sanitise_html(&html, Some(&base)),
                with_ammonia_s_base(&html, &base),
                "{href:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn any_url_resolves_as_with_ammonia_s_base(
            href in chars_from(&[('a', 'z'), ('.', '/'), (':', ':'), ('?', '?'), ('#', '#'), ('%', '%'), ('가', '힣')], 16),
            path in chars_from(&[('a', 'z'), ('/', '/')], 8),
        ) {
            let base = Url::parse(&format!("https://e.example/{path}")).unwrap();
            let html = format!(r#"<a href="{href}">l</a>"#);
            proptest::prop_assert_eq!(sanitise_html(&html, Some(&base)), with_ammonia_s_base(&html, &base));
        }
    }

    #[test]
    fn each_item_s_links_are_made_absolute_against_its_own_base() {
        // One builder per thread serves every base: none may keep an earlier item's.
        let html = r#"<a href="story.html">x</a> <img src="/i.png">"#;
        for (base, link, image) in [
            (
                "https://a.example/news/",
                "https://a.example/news/story.html",
                "https://a.example/i.png",
            ),
            (
                "https://b.example/x/y",
                "https://b.example/x/story.html",
                "https://b.example/i.png",
            ),
            (
                "https://a.example/news/",
                "https://a.example/news/story.html",
                "https://a.example/i.png",
            ),
        ] {
            let out = sanitise_html(html, Some(&Url::parse(base).unwrap()));
            assert!(out.contains(&format!(r#"href="{link}""#)), "{base}: {out}");
            assert!(out.contains(&format!(r#"src="{image}""#)), "{base}: {out}");
        }
        // Without a base, relative URLs are dropped, whatever the thread's builder last held.
        let out = sanitise_html(html, None);
        assert!(!out.contains("example"), "{out}");
    }

    #[test]
    fn dates_are_clamped() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let past = Utc.with_ymd_and_hms(2025, 12, 31, 0, 0, 0).unwrap();
        let future = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(clamp_date(Some(past), now), past);
        assert_eq!(clamp_date(Some(future), now), now);
        assert_eq!(clamp_date(None, now), now);
    }

    #[test]
    fn mojibake_and_c1_punctuation_are_repaired() {
        assert_eq!(repair_text("donâ€™t"), "don’t");
        assert_eq!(repair_text("â\u{80}¦"), "…");
        assert_eq!(repair_text("don\u{92}t"), "don’t");
        assert_eq!(repair_text("CafÃ© au lait"), "Café au lait");
        // Ordinary Latin-1 and other scripts are left alone.
        for fine in [
            "Café, naïve, Ñandú",
            "São Paulo — 5 °C",
            "북한 미사일 발사",
            "Новости",
            "£5 ©",
        ] {
            assert_eq!(repair_text(fine), fine);
        }
    }
}
