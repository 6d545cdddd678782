//! Feed bytes in any charset → UTF-8 that feed-rs reads correctly.
//!
//! The encoding is decided as RFC 7303 §3 and the design ask: a byte order mark, then the HTTP
//! `charset` parameter, then the XML declaration's `encoding`, then statistical detection
//! (chardetng) when the bytes are not valid UTF-8, then UTF-8. The text is decoded with
//! encoding_rs and the XML declaration is rewritten to say UTF-8: feed-rs (quick-xml) decodes by
//! the declaration itself, and would turn correct UTF-8 into mojibake if it still said EUC-KR.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE};

/// How the encoding was decided (for logs and status).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Bom,
    Http,
    XmlDeclaration,
    Detected,
    Default,
}

/// The decoded document.
#[derive(Debug)]
pub struct Decoded<'a> {
    pub bytes: Cow<'a, [u8]>,
    pub encoding: &'static str,
    pub source: Source,
    /// Whether some bytes were not valid in the encoding (replaced by U+FFFD).
    pub had_errors: bool,
}

/// Decodes `body` given the response's `Content-Type` header, if any.
pub fn to_utf8<'a>(body: &'a [u8], content_type: Option<&str>) -> Decoded<'a> {
    let (encoding, source) = decide(body, content_type);
    if encoding == UTF_8 && !body.starts_with(b"\xEF\xBB\xBF") && std::str::from_utf8(body).is_ok()
    {
        return Decoded {
            bytes: Cow::Borrowed(body),
            encoding: UTF_8.name(),
            source,
            had_errors: false,
        };
    }
    let (text, had_errors) = match utf32(body) {
        Some(text) => (Cow::Owned(text), false),
        None => {
            let (text, _, had_errors) = encoding.decode(body);
            (text, had_errors)
        }
    };
    let text = rewrite_declaration(&text);
    Decoded {
        bytes: Cow::Owned(text.into_bytes()),
        encoding: encoding.name(),
        source,
        had_errors,
    }
}

fn decide(body: &[u8], content_type: Option<&str>) -> (&'static Encoding, Source) {
    if let Some((enc, _)) = Encoding::for_bom(body) {
        return (enc, Source::Bom);
    }
    if let Some(enc) = content_type.and_then(http_charset) {
        return (enc, Source::Http);
    }
    if let Some(enc) = declared(body) {
        return (enc, Source::XmlDeclaration);
    }
    if let Some(enc) = utf16_without_bom(body) {
        return (enc, Source::Detected);
    }
    if std::str::from_utf8(body).is_ok() {
        return (UTF_8, Source::Default);
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Allow);
    detector.feed(body, true);
    (
        detector.guess(None, chardetng::Utf8Detection::Allow),
        Source::Detected,
    )
}

/// The `charset` parameter of a Content-Type header.
fn http_charset(content_type: &str) -> Option<&'static Encoding> {
    content_type.split(';').skip(1).find_map(|param| {
        let (k, v) = param.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        label(v.trim().trim_matches(['"', '\'']))
    })
}

/// An encoding label, with the aliases feeds use that the WHATWG list lacks. UTF-16 and
/// UTF-32 labels without a BOM are handled by [`utf16_without_bom`] / [`utf32`].
fn label(name: &str) -> Option<&'static Encoding> {
    let lower = name.to_ascii_lowercase();
    let name = match lower.as_str() {
        "utf-32" | "utf-32le" | "utf-32be" | "ucs-4" | "csucs4" => return None,
        "ks_c_5601-1987" | "ksc5601" | "cp949" | "uhc" => "euc-kr",
        "x-sjis" | "sjis" | "cp932" | "ms932" => "shift_jis",
        "cp936" | "ms936" => "gbk",
        "cp950" | "big5-hkscs" => "big5",
        "ucs-2" => "utf-16le",
        other => other,
    };
    Encoding::for_label(name.as_bytes())
}

/// The `encoding` of the XML declaration, read from an ASCII-compatible prefix.
fn declared(body: &[u8]) -> Option<&'static Encoding> {
    let head = &body[..body.len().min(512)];
    let head = std::str::from_utf8(head)
        .ok()
        .map(Cow::Borrowed)
        .unwrap_or_else(|| String::from_utf8_lossy(head))
        .into_owned();
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
    let value = rest[1..].split(quote).next()?;
    let enc = label(value)?;
    // A declaration of UTF-16 in bytes that are ASCII-compatible is a lie: ignore it.
    if enc == UTF_16LE || enc == UTF_16BE {
        return None;
    }
    Some(enc)
}

/// UTF-16 without a BOM: `<` followed or preceded by a zero byte.
fn utf16_without_bom(body: &[u8]) -> Option<&'static Encoding> {
    match body {
        [b'<', 0, b'?' | b'r' | b'f', 0, ..] => Some(UTF_16LE),
        [0, b'<', 0, b'?' | b'r' | b'f', ..] => Some(UTF_16BE),
        _ => None,
    }
}

/// UTF-32 (with or without BOM), which encoding_rs does not decode.
fn utf32(body: &[u8]) -> Option<String> {
    let (big, skip) = match body {
        [0, 0, 0xFE, 0xFF, ..] => (true, 4),
        [0xFF, 0xFE, 0, 0, ..] => (false, 4),
        [0, 0, 0, b'<', ..] => (true, 0),
        [b'<', 0, 0, 0, ..] => (false, 0),
        _ => return None,
    };
    let chunks = body[skip..].chunks_exact(4);
    Some(
        chunks
            .map(|c| {
                let b = [c[0], c[1], c[2], c[3]];
                let n = if big {
                    u32::from_be_bytes(b)
                } else {
                    u32::from_le_bytes(b)
                };
                char::from_u32(n).unwrap_or('\u{FFFD}')
            })
            .collect(),
    )
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
        (
            String::from_utf8(d.bytes.into_owned()).unwrap(),
            d.encoding,
            d.source,
        )
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
        assert_eq!((enc, src), ("EUC-KR", Source::Detected));
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
    fn plain_utf8_is_not_copied() {
        let doc = rss("plain", " encoding=\"utf-8\"");
        let d = to_utf8(doc.as_bytes(), None);
        assert!(matches!(d.bytes, Cow::Borrowed(_)));
    }
}
