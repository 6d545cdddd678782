//! Feed bytes in any charset → UTF-8 that feed-rs reads correctly.
//!
//! The encoding is decided as RFC 7303 §3 and the design ask: a byte order mark, then the HTTP
//! `charset` parameter, then the XML declaration's `encoding`, then statistical detection
//! (chardetng) when the bytes are not valid UTF-8, then UTF-8. The text is decoded with
//! encoding_rs and the XML declaration is rewritten to say UTF-8: feed-rs (quick-xml) decodes by
//! the declaration itself, and would turn correct UTF-8 into mojibake if it still said EUC-KR.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE};

#[rustfmt::skip]
mod tables;

/// How the encoding was decided (for logs and status).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Bom,
    Http,
    XmlDeclaration,
    /// From the byte pattern (UTF-16/32 without a BOM): certain.
    Detected,
    /// Nothing declared it and the bytes are not UTF-8: chardetng's statistical guess.
    Guessed,
    Default,
}

/// The decoded document.
#[derive(Debug)]
pub struct Decoded<'a> {
    /// The document as text (validated once here: its readers need not check it again).
    pub text: Cow<'a, str>,
    pub encoding: &'static str,
    pub source: Source,
    /// Whether some bytes were not valid in the encoding (replaced by U+FFFD).
    pub had_errors: bool,
    /// A charset the HTTP header or the XML declaration named that wiredesk does not know
    /// (the next rule decided instead).
    pub unknown_charset: Option<String>,
}

/// A charset wiredesk can decode.
#[derive(Clone, Copy)]
enum Charset {
    /// One of the WHATWG encodings (encoding_rs).
    Whatwg(&'static Encoding),
    /// UTF-32, which encoding_rs does not decode.
    Utf32 { big_endian: bool },
    /// A single-byte charset outside the WHATWG set (DOS code pages, EBCDIC, Mac…).
    Table(&'static tables::Table),
}

impl Charset {
    fn name(self) -> &'static str {
        match self {
            Charset::Whatwg(e) => e.name(),
            Charset::Utf32 { big_endian: true } => "UTF-32BE",
            Charset::Utf32 { big_endian: false } => "UTF-32LE",
            Charset::Table(t) => t.name,
        }
    }

    /// The text and whether some bytes were not valid (replaced by U+FFFD).
    fn decode(self, body: &[u8]) -> (Cow<'_, str>, bool) {
        match self {
            Charset::Whatwg(e) => {
                let (text, _, had_errors) = e.decode(body);
                (text, had_errors)
            }
            Charset::Utf32 { big_endian } => {
                let (text, had_errors) = decode_utf32(body, big_endian);
                (Cow::Owned(text), had_errors)
            }
            Charset::Table(t) => {
                let mut had_errors = false;
                let text = body
                    .iter()
                    .map(|b| {
                        let c = char::from_u32(u32::from(t.chars[usize::from(*b)]))
                            .unwrap_or('\u{FFFD}');
                        had_errors |= c == '\u{FFFD}';
                        c
                    })
                    .collect();
                (Cow::Owned(text), had_errors)
            }
        }
    }
}

/// The canonical name of a charset label as wiredesk decodes it (`None` if unknown).
pub fn canonical_name(label_text: &str) -> Option<&'static str> {
    label(label_text).map(Charset::name)
}

/// `body` decoded as the charset `label_text` names, whole (no BOM or declaration sniffing);
/// `None` if the label is unknown.
pub fn decode_as(label_text: &str, body: &[u8]) -> Option<String> {
    label(label_text).map(|cs| cs.decode(body).0.into_owned())
}

/// Decodes `body` given the response's `Content-Type` header, if any.
pub fn to_utf8<'a>(body: &'a [u8], content_type: Option<&str>) -> Decoded<'a> {
    let (charset, source) = decide(body, content_type);
    let unknown_charset = unknown_label(body, content_type);
    if matches!(charset, Charset::Whatwg(e) if e == UTF_8)
        && !body.starts_with(b"\xEF\xBB\xBF")
        && let Ok(text) = std::str::from_utf8(body)
    {
        return Decoded {
            text: Cow::Borrowed(text),
            encoding: UTF_8.name(),
            source,
            had_errors: false,
            unknown_charset,
        };
    }
    let (text, had_errors) = charset.decode(body);
    let text = rewrite_declaration(&text);
    Decoded {
        text: Cow::Owned(text),
        encoding: charset.name(),
        source,
        had_errors,
        unknown_charset,
    }
}

/// Decodes an HTML page (an article for `[[feed]] full_text`): BOM, then the HTTP header's
/// charset, then a `<meta charset>` or `<meta http-equiv="Content-Type" content="…charset=…">`
/// in the first 1,024 bytes (the HTML standard's prescan window), then UTF-8 if the bytes are
/// valid, then chardetng's guess. Returns the text and the encoding's name.
pub fn html_to_utf8(body: &[u8], content_type: Option<&str>) -> (String, &'static str) {
    let (charset, source) = decide(body, content_type);
    let charset = match source {
        Source::Bom | Source::Http => charset,
        _ => meta_charset(body)
            .filter(|cs| !matches!(cs, Charset::Utf32 { .. }))
            .map(|cs| match cs {
                // As browsers do: a page cannot declare UTF-16 in ASCII bytes.
                Charset::Whatwg(e) if e == UTF_16LE || e == UTF_16BE => Charset::Whatwg(UTF_8),
                cs => cs,
            })
            .unwrap_or(charset),
    };
    let (text, _) = charset.decode(body);
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(&text).to_owned();
    (text, charset.name())
}

/// The charset a `<meta>` element declares within the first 1,024 bytes, if known. The label
/// is read from an ASCII-lowercased copy and used only as a label (never as an offset).
fn meta_charset(body: &[u8]) -> Option<Charset> {
    let head = body[..body.len().min(1024)].to_ascii_lowercase();
    let head = String::from_utf8_lossy(&head);
    head.split("<meta").skip(1).find_map(|tag| {
        let tag = tag.split('>').next().unwrap_or("");
        let at = tag.find("charset")?;
        let rest = tag[at + "charset".len()..].trim_start().strip_prefix('=')?;
        let rest = rest.trim_start().trim_start_matches(['"', '\'']);
        let value: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
            .collect();
        label(&value)
    })
}

/// The first charset label, in the HTTP header or the XML declaration, that is not known.
fn unknown_label(body: &[u8], content_type: Option<&str>) -> Option<String> {
    let head = String::from_utf8_lossy(&body[..body.len().min(512)]);
    [
        content_type.and_then(http_charset_label),
        declaration_encoding(&head),
    ]
    .into_iter()
    .flatten()
    .find(|l| !l.is_empty() && label(l).is_none())
    .map(str::to_owned)
}

fn decide(body: &[u8], content_type: Option<&str>) -> (Charset, Source) {
    if let Some(big_endian) = utf32_bom(body) {
        return (Charset::Utf32 { big_endian }, Source::Bom);
    }
    if let Some((enc, _)) = Encoding::for_bom(body) {
        return (Charset::Whatwg(enc), Source::Bom);
    }
    if let Some(cs) = content_type.and_then(http_charset) {
        // A UTF-16/32 label says the width; without a BOM the byte order is in the bytes.
        let cs = match (cs, wide_without_bom(body)) {
            (Charset::Whatwg(a), Some(Charset::Whatwg(b)))
                if [a, b].iter().all(|e| *e == UTF_16LE || *e == UTF_16BE) =>
            {
                Charset::Whatwg(b)
            }
            (Charset::Utf32 { .. }, Some(b @ Charset::Utf32 { .. })) => b,
            (cs, _) => cs,
        };
        return (cs, Source::Http);
    }
    if let Some(cs) = ebcdic(body) {
        return (cs, Source::XmlDeclaration);
    }
    if let Some(cs) = declared(body) {
        return (cs, Source::XmlDeclaration);
    }
    if let Some(cs) = wide_without_bom(body) {
        return (cs, Source::Detected);
    }
    if std::str::from_utf8(body).is_ok() {
        return (Charset::Whatwg(UTF_8), Source::Default);
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Allow);
    detector.feed(body, true);
    (
        Charset::Whatwg(detector.guess(None, chardetng::Utf8Detection::Allow)),
        Source::Guessed,
    )
}

/// The `charset` parameter of a Content-Type header, as written.
fn http_charset_label(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (k, v) = param.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches(['"', '\'']).trim())
    })
}

/// The charset a Content-Type header names, if wiredesk knows it.
fn http_charset(content_type: &str) -> Option<Charset> {
    http_charset_label(content_type).and_then(label)
}

/// A charset label: the WHATWG labels, then the names and aliases Python's codecs accept
/// (which is what feeds written for feedparser declare), then a few names seen in old feeds.
/// UTF-16 labels give UTF-16LE (a BOM or the byte pattern decides the order).
fn label(name: &str) -> Option<Charset> {
    let lower = name.trim().to_ascii_lowercase();
    let alias = match lower.as_str() {
        "utf-32" | "utf_32" | "utf32" | "ucs-4" | "ucs4" | "csucs4" | "iso-10646-ucs-4"
        | "utf-32be" | "utf_32_be" => return Some(Charset::Utf32 { big_endian: true }),
        "utf-32le" | "utf_32_le" => return Some(Charset::Utf32 { big_endian: false }),
        "ks_c_5601-1987" | "ksc5601" | "cp949" | "uhc" => "euc-kr",
        "x-sjis" | "sjis" | "cp932" | "ms932" => "shift_jis",
        "cp936" | "ms936" => "gbk",
        "cp950" | "big5-hkscs" => "big5",
        "ucs-2" | "ucs2" | "u16" | "utf16" | "utf_16" | "csunicode" | "iso-10646-ucs-2" => {
            "utf-16le"
        }
        "utf_16_be" => "utf-16be",
        "utf_16_le" => "utf-16le",
        // Windows' "ANSI" names, and Python's `dbcs` (the system ANSI code page, 1252 on a
        // Western Windows).
        "ms-ansi" | "dbcs" | "mbcs" => "windows-1252",
        "ms-ee" => "windows-1250",
        "ms-cyrl" => "windows-1251",
        "ms-greek" => "windows-1253",
        "ms-turk" => "windows-1254",
        "ms-hebr" => "windows-1255",
        "ms-arab" => "windows-1256",
        "winbaltrim" => "windows-1257",
        "mac" | "macroman" | "mac_roman" | "mac-roman" => "macintosh",
        "maccyrillic" | "mac_cyrillic" | "mac-cyrillic" => "x-mac-cyrillic",
        "cp874" | "ms874" => "windows-874",
        other => other,
    };
    // Python spells `windows_1251` what WHATWG spells `windows-1251`.
    let dashed = alias.replace('_', "-");
    if let Some(enc) = Encoding::for_label(alias.as_bytes())
        .or_else(|| Encoding::for_label(dashed.as_bytes()))
        // The WHATWG "replacement" encoding turns a whole document into one U+FFFD: an
        // unknown charset is better handled by the next rules (declaration, detection).
        && enc != encoding_rs::REPLACEMENT
    {
        return Some(Charset::Whatwg(enc));
    }
    let key = python_normalised(alias);
    tables::LABELS
        .binary_search_by(|(l, _)| l.cmp(&key.as_str()))
        .ok()
        .map(|i| Charset::Table(tables::LABELS[i].1))
}

/// A label as Python's `encodings.normalize_encoding` and lower case make it: runs of
/// characters other than letters, digits and `.` become one `_`.
fn python_normalised(label: &str) -> String {
    let mut out = String::with_capacity(label.len());
    let mut pending = false;
    for c in label.chars() {
        if c.is_ascii_alphanumeric() || c == '.' {
            if pending && !out.is_empty() {
                out.push('_');
            }
            pending = false;
            out.push(c.to_ascii_lowercase());
        } else {
            pending = true;
        }
    }
    out
}

/// The `encoding` of the XML declaration, read from an ASCII-compatible prefix.
fn declared(body: &[u8]) -> Option<Charset> {
    let head = &body[..body.len().min(512)];
    let head = String::from_utf8_lossy(head);
    let value = declaration_encoding(&head)?;
    let cs = label(value)?;
    // A declaration of UTF-16/32 in bytes that are ASCII-compatible is a lie: ignore it.
    match cs {
        Charset::Whatwg(e) if e == UTF_16LE || e == UTF_16BE => None,
        Charset::Utf32 { .. } => None,
        // Nor can an EBCDIC charset be declared in ASCII bytes.
        Charset::Table(t) if t.chars[usize::from(b'<')] != u16::from(b'<') => None,
        cs => Some(cs),
    }
}

/// The value of `encoding="…"` in the XML declaration at the start of `head`.
fn declaration_encoding(head: &str) -> Option<&str> {
    let decl_end = head.find("?>")?;
    let decl = &head[..decl_end];
    if !decl.trim_start().starts_with("<?xml") {
        return None;
    }
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    rest[1..].split(quote).next()
}

/// An EBCDIC document: `<?xm` in code page 037 (as XML 1.0 Appendix F detects it); the
/// declaration, read in 037, names the exact EBCDIC variant.
fn ebcdic(body: &[u8]) -> Option<Charset> {
    if !body.starts_with(&[0x4C, 0x6F, 0xA7, 0x94]) {
        return None;
    }
    let (head, _) = Charset::Table(&tables::CP037).decode(&body[..body.len().min(512)]);
    let variant = declaration_encoding(&head).and_then(label);
    Some(match variant {
        Some(Charset::Table(t)) if t.chars[0x4C] == u16::from(b'<') => Charset::Table(t),
        _ => Charset::Table(&tables::CP037),
    })
}

/// UTF-16 or UTF-32 without a BOM, from the zero bytes around the first `<` (XML 1.0
/// Appendix F).
fn wide_without_bom(body: &[u8]) -> Option<Charset> {
    match body {
        [0, 0, 0, b'<', ..] => Some(Charset::Utf32 { big_endian: true }),
        [b'<', 0, 0, 0, ..] => Some(Charset::Utf32 { big_endian: false }),
        [b'<', 0, b'?' | b'r' | b'f', 0, ..] => Some(Charset::Whatwg(UTF_16LE)),
        [0, b'<', 0, b'?' | b'r' | b'f', ..] => Some(Charset::Whatwg(UTF_16BE)),
        _ => None,
    }
}

/// The byte order of a UTF-32 BOM, if the body starts with one.
fn utf32_bom(body: &[u8]) -> Option<bool> {
    match body {
        [0, 0, 0xFE, 0xFF, ..] => Some(true),
        [0xFF, 0xFE, 0, 0, ..] => Some(false),
        _ => None,
    }
}

/// UTF-32 (encoding_rs has no decoder for it), skipping a BOM; invalid code points and a
/// trailing partial unit become U+FFFD.
fn decode_utf32(body: &[u8], big_endian: bool) -> (String, bool) {
    let skip = if utf32_bom(body).is_some() { 4 } else { 0 };
    let chunks = body[skip..].chunks_exact(4);
    let mut had_errors = !chunks.remainder().is_empty();
    let mut text: String = chunks
        .map(|c| {
            let b = [c[0], c[1], c[2], c[3]];
            let n = if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            };
            char::from_u32(n).unwrap_or_else(|| {
                had_errors = true;
                '\u{FFFD}'
            })
        })
        .collect();
    if !(body.len() - skip).is_multiple_of(4) {
        text.push('\u{FFFD}');
    }
    (text, had_errors)
}

/// The text with its XML declaration's encoding (if any) set to UTF-8, and no BOM.
fn rewrite_declaration(text: &str) -> String {
    let text = text.trim_start_matches('\u{FEFF}');
    let Some(end) = text.find("?>") else {
        return text.to_owned();
    };
    let decl = &text[..end];
    if !decl.trim_start().starts_with("<?xml") {
        return text.to_owned();
    }
    match decl.find("encoding") {
        Some(at) => {
            let rest = &decl[at..];
            let value_end = rest
                .char_indices()
                .filter(|(_, c)| *c == '"' || *c == '\'')
                .nth(1)
                .map(|(i, _)| at + i + 1)
                .unwrap_or(end);
            format!("{}encoding=\"utf-8\"{}", &text[..at], &text[value_end..])
        }
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(body: &[u8], ct: Option<&str>) -> (String, &'static str, Source) {
        let d = to_utf8(body, ct);
        (d.text.into_owned(), d.encoding, d.source)
    }

    fn rss(title: &str, decl: &str) -> String {
        format!(
            "<?xml version=\"1.0\"{decl}?><rss version=\"2.0\"><channel><title>{title}</title></channel></rss>"
        )
    }

    #[test]
    fn euc_kr_with_and_without_declaration() {
        let title = "연합뉴스 속보: 북한 미사일 발사";
        let doc = rss(title, " encoding=\"EUC-KR\"");
        let (bytes, _, _) = encoding_rs::EUC_KR.encode(&doc);
        let (text, enc, src) = decode(&bytes, Some("text/xml"));
        assert_eq!((enc, src), ("EUC-KR", Source::XmlDeclaration));
        assert!(text.contains(title));
        assert!(text.contains("encoding=\"utf-8\""), "{text}");
        // No declaration, but an HTTP charset.
        let doc = rss(title, "");
        let (bytes, _, _) = encoding_rs::EUC_KR.encode(&doc);
        let (text, enc, src) = decode(&bytes, Some("application/rss+xml; charset=euc-kr"));
        assert_eq!((enc, src), ("EUC-KR", Source::Http));
        assert!(text.contains(title));
        // Neither: detected.
        let long = format!("{title} {title} 서울 정부는 1일 발표했다 경제 성장률");
        let doc = rss(&long, "");
        let (bytes, _, _) = encoding_rs::EUC_KR.encode(&doc);
        let (text, enc, src) = decode(&bytes, None);
        assert_eq!((enc, src), ("EUC-KR", Source::Guessed));
        assert!(text.contains(&long));
    }

    #[test]
    fn http_charset_overrides_a_lying_declaration() {
        let title = "Новости дня";
        let doc = rss(title, " encoding=\"iso-8859-1\"");
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(&doc);
        let (text, enc, _) = decode(&bytes, Some("text/xml; charset=\"windows-1251\""));
        assert_eq!(enc, "windows-1251");
        assert!(text.contains(title));
    }

    #[test]
    fn shift_jis_big5_gb2312_koi8r() {
        for (enc, label, title) in [
            (encoding_rs::SHIFT_JIS, "Shift_JIS", "共同通信 ニュース"),
            (encoding_rs::BIG5, "Big5", "中央社 新聞"),
            (encoding_rs::GBK, "GB2312", "新华社 新闻"),
            (encoding_rs::KOI8_R, "KOI8-R", "Новости"),
        ] {
            let doc = rss(title, &format!(" encoding=\"{label}\""));
            let (bytes, _, _) = enc.encode(&doc);
            let (text, _, _) = decode(&bytes, None);
            assert!(text.contains(title), "{label}: {text}");
        }
    }

    #[test]
    fn utf16_and_utf32_and_boms() {
        let doc = rss("Θ", " encoding=\"utf-16\"");
        let mut le = vec![0xFF, 0xFE];
        le.extend(doc.encode_utf16().flat_map(|u| u.to_le_bytes()));
        let (text, enc, src) = decode(&le, None);
        assert_eq!((enc, src), ("UTF-16LE", Source::Bom));
        assert!(text.contains("<title>Θ</title>"));
        let be: Vec<u8> = doc.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
        assert!(decode(&be, None).0.contains("<title>Θ</title>"));
        let mut u32be = vec![0, 0, 0xFE, 0xFF];
        u32be.extend(doc.chars().flat_map(|c| (c as u32).to_be_bytes()));
        assert!(decode(&u32be, None).0.contains("<title>Θ</title>"));
        let mut bom8 = b"\xEF\xBB\xBF".to_vec();
        bom8.extend(rss("é", "").as_bytes());
        assert!(decode(&bom8, None).0.starts_with("<?xml"));
    }

    #[test]
    fn dos_ebcdic_and_vietnamese_charsets() {
        // cp437 by its Python alias, windows-1251 by Python's spelling.
        let (text, enc, _) = decode(
            b"<?xml version=\"1.0\" encoding=\"ibm437\"?><t>\x80</t>",
            None,
        );
        assert_eq!(enc, "cp437");
        assert!(text.contains("<t>Ç</t>"), "{text}");
        let (text, _, _) = decode(
            b"<?xml version=\"1.0\" encoding=\"windows_1251\"?><t>\x80</t>",
            None,
        );
        assert!(text.contains("<t>Ђ</t>"), "{text}");
        let (text, enc, _) = decode(
            b"<?xml version=\"1.0\" encoding=\"viscii\"?><t>\x80</t>",
            None,
        );
        assert_eq!(enc, "viscii");
        assert!(text.contains("<t>Ạ</t>"), "{text}");
        // EBCDIC: `<?xml version="1.0" encoding="cp500"?><t>` then 0x80 (Ø) and `</t>`.
        let ascii = "<?xml version=\"1.0\" encoding=\"cp500\"?><t>";
        let mut doc: Vec<u8> = ascii
            .chars()
            .map(|c| {
                let i = tables::CP500
                    .chars
                    .iter()
                    .position(|m| *m == c as u16)
                    .unwrap();
                u8::try_from(i).unwrap()
            })
            .collect();
        doc.push(0x80);
        let (text, enc, _) = decode(&doc, None);
        assert_eq!(enc, "cp500");
        assert!(text.ends_with("<t>Ø"), "{text}");
        assert!(text.contains("encoding=\"utf-8\""), "{text}");
        // A label WHATWG maps to its "replacement" encoding is not used to decode.
        let d = to_utf8(b"<r>caf\xc3\xa9</r>", Some("text/xml; charset=iso-2022-kr"));
        assert_eq!(&*d.text, "<r>café</r>");
    }

    #[test]
    fn an_unknown_charset_is_reported() {
        let doc = rss("x", " encoding=\"klingon-8\"");
        let d = to_utf8(doc.as_bytes(), None);
        assert_eq!(d.unknown_charset.as_deref(), Some("klingon-8"));
        assert_eq!(d.encoding, "UTF-8");
        let plain = rss("x", "");
        let d = to_utf8(plain.as_bytes(), Some("text/xml; charset=\"x-bogus\""));
        assert_eq!(d.unknown_charset.as_deref(), Some("x-bogus"));
        let dos = rss("x", " encoding=\"cp437\"");
        let d = to_utf8(dos.as_bytes(), None);
        assert_eq!(d.unknown_charset, None);
    }

    #[test]
    fn plain_utf8_is_not_copied() {
        let doc = rss("plain", " encoding=\"utf-8\"");
        let d = to_utf8(doc.as_bytes(), None);
        assert!(matches!(d.text, Cow::Borrowed(_)));
    }

    #[test]
    fn html_pages_are_decoded_by_header_then_meta_then_bytes() {
        let (korean, _, _) = encoding_rs::EUC_KR.encode("기준금리 동결");
        let page = |meta: &str| {
            let mut b = format!("<html><head>{meta}<title>t</title></head><body><p>").into_bytes();
            b.extend_from_slice(&korean);
            b.extend_from_slice(b"</p></body></html>");
            b
        };
        for meta in [
            "<meta charset=\"euc-kr\">",
            "<META CHARSET=EUC-KR>",
            "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=euc-kr\">",
        ] {
            let (text, enc) = html_to_utf8(&page(meta), Some("text/html"));
            assert!(text.contains("기준금리 동결"), "{meta}: {text}");
            assert_eq!(enc, "EUC-KR", "{meta}");
        }
        // The header wins over the page's own declaration.
        let (_, enc) = html_to_utf8(
            &page("<meta charset=\"utf-8\">"),
            Some("text/html; charset=euc-kr"),
        );
        assert_eq!(enc, "EUC-KR");
        // A declaration past the first 1,024 bytes is not read; valid UTF-8 stays UTF-8.
        let late = format!(
            "<html>{}<meta charset=\"koi8-r\">é</html>",
            " ".repeat(1100)
        );
        assert_eq!(html_to_utf8(late.as_bytes(), None), (late.clone(), "UTF-8"));
        // A UTF-16 declaration in ASCII bytes is not believed.
        let (text, enc) = html_to_utf8(b"<meta charset=utf-16><p>plain</p>", None);
        assert_eq!(
            (text.as_str(), enc),
            ("<meta charset=utf-16><p>plain</p>", "UTF-8")
        );
    }
}
