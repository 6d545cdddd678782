//! Property tests: every pure function that sees feed text, fed hostile Unicode.
//!
//! Feed text is hostile: the generators mix characters whose lowercase has another UTF-8
//! length (ẞ, Ⱥ, İ, the Kelvin sign), combining marks, RTL and bidi controls, NUL, C0 and C1
//! controls, noncharacters, very long words, markup and entities, and the very phrases, tails
//! and datelines the code looks for, at random places. The properties: no panic, and each
//! function's own promise (normal forms, bounds, idempotence where it claims it).
//!
//! `cargo test` runs a small number of cases (64 per property, or `PROPTEST_CASES`);
//! `.ci/run` runs the long count.

use std::path::Path;

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use url::Url;

use wiredesk::dedup::text::{
    clean_body, clean_title, is_link_list, is_rolling_format, title_stage, tokenise,
};
use wiredesk::normalise::{
    canonical_url, collapse_whitespace, html_to_text, redact_url, repair_text, sanitise_html,
};

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(64);
    ProptestConfig {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    }
}

/// Pieces of hostile text: what breaks byte offsets, what confuses parsers, and what the code
/// itself looks for.
const FRAGMENTS: &[&str] = &[
    // Lowercase or uppercase of another UTF-8 length, or of several characters.
    "ẞ",
    "Ⱥ",
    "Ⱦ",
    "İ",
    "\u{212A}",
    "\u{212B}",
    "ſ",
    "ΐ",
    "ﬃ",
    "ǅ",
    "ᾼ",
    "ῼ",
    "Σ",
    "ς",
    // Combining marks, RTL text and bidi controls, zero-width characters.
    "\u{301}",
    "e\u{301}",
    "\u{20DD}",
    "\u{202E}",
    "\u{2066}",
    "\u{2069}",
    "\u{200F}",
    "\u{200D}",
    "שלום",
    "مرحبا",
    // NUL, C0 and C1 controls, BOM, replacement and noncharacters.
    "\0",
    "\u{1}",
    "\u{8}",
    "\u{1B}",
    "\u{7F}",
    "\u{80}",
    "\u{85}",
    "\u{92}",
    "\u{9F}",
    "\u{FEFF}",
    "\u{FFFD}",
    "\u{FFFE}",
    "\u{FFFF}",
    "\u{10FFFF}",
    // Other scripts and symbols.
    "북한",
    "한",
    "\u{1100}\u{1161}\u{11A8}",
    "東京",
    "ロイター",
    "ＡＢＣ１２３",
    "😀",
    "👩\u{200D}👩\u{200D}👧",
    "①",
    "½",
    // Markup and entities.
    "<",
    ">",
    "&",
    "<p>",
    "</p>",
    "<div>",
    "<script>",
    "</SCRIPT>",
    "<style>",
    "<!--",
    "-->",
    "<a href=\"javascript:alert(1)\">",
    "<img src=x onerror=alert(1)>",
    "&amp;",
    "&lt;b&gt;",
    "&amp;quot;",
    "&#0;",
    "&#xD800;",
    "&#X41;",
    "&nbsp;",
    "&eacute;",
    "&",
    "]]>",
    "<![CDATA[",
    // What the dedup and text code looks for.
    "read more",
    "READ MORE",
    "Read More",
    "Advertisement",
    "Send to",
    "ⓒ",
    "©",
    "기사보기",
    "(Yonhap)",
    "(YONHAP)",
    "(END)",
    "(end)",
    "(연합뉴스)",
    "(終)",
    "SEOUL, April 5 (Yonhap) -- ",
    "WASHINGTON (AP) — ",
    "[서울=뉴시스] 홍길동 기자 = ",
    "(서울=연합뉴스) ",
    "[東京 ２１日 ロイター] - ",
    "By Robin Martin of RNZ ",
    " - Reuters",
    " | Yonhap News Agency",
    " — BBC News",
    "[속보]",
    "BREAKING:",
    "LIVE -",
    "live:",
    "kim@yna.co.kr",
    "1,897.3",
    "33.1%",
    " -- ",
    "=",
    "[",
    "]",
    "(",
    ")",
    "【",
    "】",
    // URLs.
    "http://",
    "https://Example.COM:443/",
    "?utm_source=x&",
    "#frag",
    "user:pw@",
    "?apikey=s",
    "javascript:",
    "data:text/html,",
    "%",
    "%zz",
    "//",
    "\\",
    // Whitespace of every kind.
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "\u{A0}",
    "\u{3000}",
    "\u{2028}",
];

/// Hostile text: fragments and arbitrary characters at random places, sometimes a very long
/// word.
fn hostile() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        6 => proptest::sample::select(FRAGMENTS).prop_map(str::to_owned),
        3 => any::<char>().prop_map(String::from),
        1 => "[a-zA-Z]{1,12}",
        1 => (1usize..3000).prop_map(|n| "w".repeat(n)),
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

/// Byte sequences that are not text, or that declare how to read text.
const BYTE_FRAGMENTS: &[&[u8]] = &[
    b"\xED\xA0\x80", // a lone surrogate, as UTF-8-style bytes
    b"\xED\xBF\xBF",
    b"\xC0\xAF", // overlong
    b"\xFF\xFE",
    b"\xFE\xFF",
    b"\xEF\xBB\xBF",
    b"\x00\x00\xFE\xFF",
    b"\x80\x81",
    b"\xE2\x82", // truncated
    b"<?xml version=\"1.0\" encoding=\"EUC-KR\"?>",
    b"<?xml version='1.0' encoding='cp037'?>",
    b"<?xml version=\"1.0\" encoding=\"utf-16\"?>",
    b"<?xml encoding=\"x-unknown\"?>",
    b"<rss version=\"2.0\"><channel>",
    b"<feed xmlns=\"http://www.w3.org/2005/Atom\">",
];

/// Hostile bytes: hostile text's bytes, lone surrogates as UTF-8-style bytes, invalid bytes,
/// BOMs and XML declarations with charsets.
fn hostile_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => hostile().prop_map(String::into_bytes),
        1 => proptest::sample::select(BYTE_FRAGMENTS).prop_map(<[u8]>::to_vec),
        1 => proptest::collection::vec(any::<u8>(), 0..64),
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("text/xml".to_owned())),
        Just(Some("text/xml; charset=EUC-KR".to_owned())),
        Just(Some(
            "application/rss+xml; charset=\"Shift_JIS\"".to_owned()
        )),
        Just(Some("text/xml; charset=utf-16".to_owned())),
        hostile().prop_map(|h| Some(format!("text/xml; charset={h}"))),
    ]
}

/// Markup an RSS item may hold: what looks like the end of an item inside comments,
/// processing instructions, CDATA and quoted attributes, and what the pre-pass restates…
const ITEM_MARKUP: &[&str] = &[
    "<!-- </item> <item> -->",
    "<?pi </item> ?>",
    "<description><![CDATA[<p>a</p></item><item>]]></description>",
    "<media:thumbnail url=\"https://e.com/t.jpg\"/>",
    "<enclosure url=\"https://e.com/a.mp3\" type=\"audio/mpeg\" length=\"3\"/>",
    "<dc:title>DC title</dc:title>",
    "<link>/relative?a=1&amp;b=2</link>",
    "<category domain=\"a>b\">World</category>",
    "<pubDate>Sun, 01 Nov 2026 10:00:00 GMT</pubDate>",
    "<pubDate>Mon, 02 Nov 2026 10:00:00 GMT</pubDate>",
    "<updated>2026-11-01T10:00:00Z</updated>",
    "<link href=\"/a?b=1&amp;c\" rel=\"alternate\"/>",
    "<x:unknown xmlns:x=\"u\" a='</item>'>x</x:unknown>",
];

/// …and what makes a document unreadable until repaired, or an item's end unclear.
const BROKEN_MARKUP: &[&str] = &[
    "<x:unknown a=\"</item>\">",
    "bare & ampersand",
    "<title>unclosed",
    "<item>",
    "</item>",
    "<![CDATA[ ]]> ]]>",
];

/// One item of hostile text, as RSS 2.0, RSS 1.0 (where an item without a link is no entry,
/// it has one), Atom and Atom with a prefix: a guid (id) shared with other items or not, a
/// title and a description (content), escaped or in CDATA, and some of [`ITEM_MARKUP`].
fn feed_item() -> impl Strategy<Value = [String; 4]> {
    let esc = |s: &str| html_escape::encode_text(s).into_owned();
    // Mostly text XML allows (a document with one forbidden character is read after repair,
    // and then not by its items' bytes), sometimes any.
    let text = || {
        prop_oneof![
            3 => hostile().prop_map(|s| s.chars().filter(|c| matches!(*c, '\t' | '\n' | '\r' | ' '..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)).collect()),
            1 => hostile(),
        ]
    };
    (
        prop_oneof![
            Just(None),
            proptest::sample::select(&["g1", "g2", "https://e.com/s/"][..])
                .prop_map(|g| Some(g.to_owned())),
            text().prop_map(Some),
        ],
        proptest::option::of(text()),
        proptest::option::of(text()),
        any::<bool>(),
        proptest::collection::vec(
            prop_oneof![
                6 => proptest::sample::select(ITEM_MARKUP),
                1 => proptest::sample::select(BROKEN_MARKUP),
            ],
            0..3,
        ),
        prop_oneof![
            8 => proptest::sample::select(&["<item>", "<item >", "<item a=\"x>y\">"][..]),
            1 => Just("<item/>"),
        ],
        any::<u8>(),
    )
        .prop_map(move |(guid, title, body, cdata, markup, open, link)| {
            if open == "<item/>" {
                let atom = ["<entry/>".to_owned(), "<a:entry/>".to_owned()];
                return [
                    open.to_owned(),
                    open.to_owned(),
                    atom[0].clone(),
                    atom[1].clone(),
                ];
            }
            let (mut item, mut entry) = (open.to_owned(), open.replace("item", "entry"));
            if let Some(g) = guid {
                item.push_str(&format!("<guid isPermaLink=\"false\">{}</guid>", esc(&g)));
                entry.push_str(&format!("<id>{}</id>", esc(&g)));
            }
            if let Some(t) = title {
                item.push_str(&format!("<title>{}</title>", esc(&t)));
                entry.push_str(&format!("<title type=\"html\">{}</title>", esc(&t)));
            }
            if let Some(b) = body {
                let b = if cdata {
                    format!("<![CDATA[{}]]>", b.replace("]]>", "]]]]><![CDATA[>"))
                } else {
                    esc(&b)
                };
                item.push_str(&format!("<description>{b}</description>"));
                entry.push_str(&format!("<content type=\"html\">{b}</content>"));
            }
            for m in markup {
                item.push_str(m);
                entry.push_str(&m.replace("item", "entry"));
            }
            item.push_str("</item>");
            entry.push_str("</entry>");
            let rdf = format!(
                "{open}<link>https://e.com/r/{link}</link>{}",
                &item[open.len()..]
            );
            // Atom with a prefix: every element of the entry (and whatever markup it holds
            // that names one) carries it.
            let mut prefixed = entry.clone();
            for name in ["entry", "id", "title", "content"] {
                prefixed = prefixed
                    .replace(&format!("<{name}"), &format!("<a:{name}"))
                    .replace(&format!("</{name}>"), &format!("</a:{name}>"));
            }
            [item, rdf, entry, prefixed]
        })
}

/// An RSS 2.0 (`format` 0), RSS 1.0 (1), Atom (2) or prefixed Atom (3) document of the `pool`'s items in
/// `order`, built at `build` (a sibling of the items that changes every fetch), with or without
/// a namespace declared on the root.
fn feed_doc(pool: &[[String; 4]], order: &[usize], build: u8, format: u8, ns: bool) -> String {
    let item = |i: &usize| pool[i % pool.len()][usize::from(format)].as_str();
    let items: String = order.iter().map(item).collect();
    let dc = if ns {
        " xmlns:dc=\"http://purl.org/dc/elements/1.1/\""
    } else {
        ""
    };
    let media = "xmlns:media=\"http://search.yahoo.com/mrss/\"";
    match format {
        1 => format!(
            "<?xml version=\"1.0\"?><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" \
             xmlns=\"http://purl.org/rss/1.0/\" {media}{dc}><channel rdf:about=\"https://e.com/\">\
             <title>T {build}</title></channel>{items}</rdf:RDF>"
        ),
        2 => format!(
            "<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\" {media}{dc}>\
             <title>T</title><subtitle>{build}</subtitle>{items}</feed>"
        ),
        3 => format!(
            "<?xml version=\"1.0\"?><a:feed xmlns:a=\"http://www.w3.org/2005/Atom\" {media}{dc}>\
             <a:title>T</a:title><a:subtitle>{build}</a:subtitle>{items}</a:feed>"
        ),
        _ => format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\" {media}{dc}><channel><title>T</title>\
             <lastBuildDate>{build}</lastBuildDate>{items}</channel></rss>"
        ),
    }
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn html_to_text_gives_collapsed_text_without_controls(s in hostile()) {
        let out = html_to_text(&s);
        prop_assert!(!has_control(&out), "{out:?}");
        prop_assert_eq!(collapse_whitespace(&out), out.clone());
        prop_assert_eq!(out.trim(), out.as_str());
    }

    #[test]
    fn nfkc_shortcuts_change_nothing(s in hostile()) {
        use unicode_normalization::UnicodeNormalization as _;
        let lowered: String = s.nfkc().flat_map(char::to_lowercase).collect();
        prop_assert_eq!(wiredesk::normalise::nfkc_lowercase(&s), lowered);
        prop_assert_eq!(wiredesk::normalise::nfkc(&s).into_owned(), s.nfkc().collect::<String>());
    }

    #[test]
    fn tokens_in_one_buffer_are_the_tokens(s in hostile()) {
        let listed = tokenise(&s);
        let packed = wiredesk::dedup::text::Tokens::of(&s);
        prop_assert_eq!(packed.len(), listed.len());
        prop_assert_eq!(packed.iter().collect::<Vec<_>>(), listed.iter().map(String::as_str).collect::<Vec<_>>());
        prop_assert_eq!(packed.joined(), listed.join(" "));
        for (t, key) in packed.keyed() {
            prop_assert_eq!(key, wiredesk::dedup::text::token_key(t));
        }
        for t in &listed {
            prop_assert!(packed.contains(t));
        }
    }

    #[test]
    fn link_headers_give_web_links_or_nothing(a in hostile(), b in hostile()) {
        let base = Url::parse("https://news.example/feed.xml").unwrap();
        let values = vec![
            a.clone(),
            format!("<{a}>; rel=\"hub\", <{b}>; rel=self"),
            format!("<https://hub.example/>; rel=\"{b}\"; {a}"),
        ];
        if let Some(l) = wiredesk::parse::websub_links_from_headers(&values, &base) {
            for u in [&l.hub, &l.topic] {
                let parsed = Url::parse(u).unwrap();
                prop_assert!(matches!(parsed.scheme(), "http" | "https"), "{}", u);
            }
        }
    }

    #[test]
    fn collapse_whitespace_is_idempotent(s in hostile()) {
        let once = collapse_whitespace(&s);
        prop_assert_eq!(collapse_whitespace(&once), once);
    }

    #[test]
    fn sanitised_html_has_no_active_content(s in hostile()) {
        let base = Url::parse("https://news.example/feed.xml").ok();
        for b in [None, base.as_ref()] {
            let out = sanitise_html(&s, b).to_ascii_lowercase();
            prop_assert!(!out.contains("<script"), "{out}");
            prop_assert!(!out.contains("<style"), "{out}");
            prop_assert!(!out.contains("href=\"javascript:"), "{out}");
            prop_assert!(!out.contains(" onerror="), "{out}");
        }
    }

    #[test]
    fn sanitised_html_resolves_links_as_ammonia_s_own_base_rewrite(s in hostile(), href in hostile()) {
        // One shared builder resolves against the base each call sets: the same as a builder
        // made for that base (ammonia's RewriteWithBase), whatever the markup and URLs.
        let base = Url::parse("https://news.example/world/feed.xml").expect("a base");
        for html in [s.clone(), format!("<a href=\"{href}\">{s}</a><img src='{href}'>")] {
            let want = ammonia::Builder::default()
                .url_relative(ammonia::UrlRelative::RewriteWithBase(base.clone()))
                .clean(&html)
                .to_string();
            prop_assert_eq!(sanitise_html(&html, Some(&base)), want);
        }
    }

    #[test]
    fn canonical_urls_are_http_and_idempotent(s in hostile(), tail in hostile()) {
        let base = Url::parse("https://news.example/rss/all.xml").ok();
        for raw in [s.clone(), format!("https://news.example/{s}"), format!("{s}?utm_source=x&a={tail}#f")] {
            for b in [None, base.as_ref()] {
                if let Some(c) = canonical_url(&raw, b) {
                    let u = Url::parse(&c).expect("a canonical URL parses");
                    prop_assert!(matches!(u.scheme(), "http" | "https"), "{c}");
                    prop_assert!(u.fragment().is_none(), "{c}");
                    prop_assert!(!u.query_pairs().any(|(k, _)| k.starts_with("utm_")), "{c}");
                    prop_assert_eq!(canonical_url(&c, None), Some(c.clone()));
                }
            }
        }
    }

    #[test]
    fn redacted_urls_hold_no_secret(s in hostile(), secret in "[a-z0-9]{12}") {
        // Hostile path and values, with a secret in each place a URL can carry one.
        let mut u = Url::parse("https://wire.example/").expect("base URL");
        let _ = u.set_username("user");
        let _ = u.set_password(Some(&secret));
        if let Ok(mut segments) = u.path_segments_mut() {
            segments.push(&s);
        }
        u.query_pairs_mut()
            .append_pair("q", &s)
            .append_pair("API-Key", &secret)
            .append_pair(&s, "v");
        u.set_fragment(Some(&format!("access_token={secret}")));
        let out = redact_url(&u);
        prop_assert!(!out.contains(&secret), "{out}");
        let again = redact_url(&Url::parse(&out).expect("redacted URL parses"));
        prop_assert_eq!(again, out);
    }

    #[test]
    fn repair_text_leaves_ascii_alone_and_no_c1_controls(s in hostile()) {
        let out = repair_text(&s);
        if s.is_ascii() {
            prop_assert_eq!(out.as_ref(), s.as_str());
        }
        prop_assert!(!out.chars().any(|c| ('\u{80}'..='\u{9F}').contains(&c)), "{out:?}");
    }

    #[test]
    fn text_stripping_never_panics_and_keeps_its_forms(s in hostile()) {
        // The text as given and with its case changed (which changes UTF-8 lengths): no
        // offset of a lowercased copy may ever be applied to the original.
        for s in [s.clone(), s.to_uppercase(), s.to_lowercase()] {
            let body = clean_body(&s);
            prop_assert_eq!(body.trim(), body.as_str());
            prop_assert!(!body.contains("  "), "{body:?}");
            let title = clean_title(&s);
            prop_assert_eq!(title.trim(), title.as_str());
            let _ = is_rolling_format(&s);
            for t in tokenise(&s).iter().chain(tokenise(&body).iter()) {
                prop_assert!(!t.is_empty());
                prop_assert!(!t.chars().any(char::is_whitespace), "{t:?}");
            }
        }
    }

    #[test]
    fn headline_stages_are_read_from_whole_words_of_any_text(s in hostile(), t in hostile()) {
        for s in [s.clone(), s.to_uppercase(), s.to_lowercase()] {
            let stages = title_stage(&s);
            prop_assert!(stages < 512, "{stages}");
            // A cue as a word of its own is always read, whatever surrounds it…
            let arrested = title_stage(&format!("{s} arrested {t}"));
            prop_assert_eq!(arrested & 2, 2);
            // …and never inside another word (ASCII letters glued on both sides).
            let glued = title_stage(&format!("x{s}zarrestedz{t}x"));
            let own = title_stage(&s) | title_stage(&t);
            prop_assert!(glued & 2 == 0 || own & 2 == 2, "{glued} from {s:?} / {t:?}");
            // A description starting with a bullet is a list of links; one starting with a letter is not.
            let (listed, lettered) = (format!(" • {s}"), format!("a{s}"));
            prop_assert!(is_link_list(&listed), "{listed:?}");
            prop_assert!(!is_link_list(&lettered), "{lettered:?}");
        }
    }

    #[test]
    fn xml_repair_is_idempotent_and_leaves_no_forbidden_characters(s in hostile()) {
        let once = wiredesk::parse::repair(&s);
        prop_assert!(!once.chars().any(|c| (c < ' ' && !matches!(c, '\t' | '\n' | '\r'))
            || c == '\u{FFFE}' || c == '\u{FFFF}'), "{once:?}");
        prop_assert_eq!(wiredesk::parse::repair(&once), once);
    }

    #[test]
    fn any_bytes_decode_to_text_marking_only_what_was_lost(bytes in hostile_bytes(), ct in content_type()) {
        // Text by its type; a replacement character only where the body had one, or where
        // the decoder says it replaced bytes it could not read.
        let decoded = wiredesk::charset::to_utf8(&bytes, ct.as_deref());
        // U+FFFD as the body's own encoding writes it: UTF-8, or UTF-16/32 in either order.
        let wide: &[&[u8]] = match decoded.encoding {
            e if e.contains("16") => &[&[0xFD, 0xFF], &[0xFF, 0xFD]],
            e if e.contains("32") => &[&[0xFD, 0xFF, 0, 0], &[0, 0, 0xFF, 0xFD]],
            _ => &[],
        };
        let had_one = bytes.windows(3).any(|w| w == "\u{FFFD}".as_bytes())
            || wide.iter().any(|f| bytes.windows(f.len()).any(|w| w == *f));
        prop_assert!(
            !decoded.text.contains('\u{FFFD}') || had_one || decoded.had_errors,
            "{:?} from {:?}", decoded.text, bytes
        );
    }

    #[test]
    fn any_page_decodes_to_the_text_of_its_charset(bytes in hostile_bytes(), ct in content_type(), meta in hostile()) {
        let mut page = format!("<html><head><meta charset=\"{meta}\"></head><body>").into_bytes();
        page.extend_from_slice(&bytes);
        // Whatever the bytes and declarations: text, from a charset wiredesk knows.
        let (text, charset) = wiredesk::charset::html_to_utf8(&page, ct.as_deref());
        prop_assert!(wiredesk::charset::canonical_name(charset).is_some(), "{charset}");
        prop_assert!(!text.starts_with('\u{FEFF}'), "a BOM kept");
    }

    #[test]
    fn any_page_gives_an_article_within_bounds_or_none(
        title in hostile(), paragraphs in proptest::collection::vec(hostile(), 0..12), chrome in hostile(),
    ) {
        let url = url::Url::parse("https://news.example/a/1").expect("url");
        let body: String = paragraphs.iter().map(|p| format!("<p>{p} {p}</p>")).collect();
        let page = format!(
            "<html><head><title>{title}</title></head><body><nav><a href=\"/\">{chrome}</a></nav><article><h1>{title}</h1>{body}</article><footer>{chrome}</footer></body></html>"
        );
        for input in [page.as_str(), body.as_str(), chrome.as_str()] {
            match wiredesk::article::extract(input, &url) {
                Ok(a) => {
                    prop_assert!(a.text.chars().count() >= wiredesk::article::MIN_ARTICLE_CHARS);
                    prop_assert!(a.text.len() <= 64 << 10);
                    prop_assert!(!a.html.to_ascii_lowercase().contains("<script"));
                    prop_assert!(!has_control(&a.text), "{:?}", a.text);
                }
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
        }
    }

    #[test]
    fn any_feed_parses_or_fails_cleanly_within_bounds(
        title in hostile(), body in hostile(), link in hostile(), guid in hostile(),
        date in hostile(), bytes in hostile_bytes(),
    ) {
        let esc = |s: &str| html_escape::encode_text(s).into_owned();
        let now = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let base = Url::parse("https://news.example/rss.xml").ok();
        let rss = format!(
            "<rss version=\"2.0\"><channel><title>{}</title><item><title>{}</title>\
             <link>{}</link><guid>{}</guid><pubDate>{}</pubDate><description>{}</description>\
             </item><item><title>{title}</title><description>{body}</description></item>\
             </channel></rss>",
            esc(&title), esc(&title), esc(&link), esc(&guid), esc(&date), esc(&body)
        );
        let atom = format!(
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title><entry><id>{}</id>\
             <title type=\"html\">{}</title><link href=\"{}\"/><content type=\"html\">{}</content>\
             </entry></feed>",
            esc(&guid), esc(&title), esc(&link), esc(&body)
        );
        // JSON Feed restated leniently; items found in a page that is not a feed (salvage); an
        // Atom title of an opaque type (its body base64-decoded when it is base64).
        let json = serde_json::json!({
            "version": title.clone(), "title": body.clone(),
            "items": [{"id": guid.clone(), "url": link.clone(), "title": title.clone(),
                       "content_html": body.clone(), "tags": title.clone(),
                       "date_published": date.clone()}, title.clone()]
        })
        .to_string();
        let page = format!(
            "<html xmlns:dc=\"{}\"><body><item><title>{}</title><link>{}</link>\
             <description>{}</description></item><p>{}</p></body></html>",
            esc(&guid), esc(&title), esc(&link), esc(&body), esc(&date)
        );
        let opaque = format!(
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><id>1</id>\
             <title type=\"application/octet-stream\">{}</title><content type=\"{}\">{}</content>\
             </entry></feed>",
            esc(&body), esc(&title), esc(&date)
        );
        // Two items sharing one guid (told apart by title when the titles differ).
        let shared = format!(
            "<rss version=\"2.0\"><channel><item><guid>{0}</guid><title>{1}</title></item>\
             <item><guid>{0}</guid><title>{2}</title></item></channel></rss>",
            esc(&guid), esc(&title), esc(&body)
        );
        for doc in [
            shared.into_bytes(),
            rss.into_bytes(),
            atom.into_bytes(),
            bytes,
            json.into_bytes(),
            page.into_bytes(),
            opaque.into_bytes(),
        ] {
            if let Ok(feed) = wiredesk::parse::parse_feed(&doc, None, base.as_ref(), now) {
                let keys: std::collections::HashSet<&str> =
                    feed.entries.iter().map(|e| e.key.as_str()).collect();
                prop_assert_eq!(keys.len(), feed.entries.len(), "keys are unique in a feed");
                for e in &feed.entries {
                    prop_assert!(e.title.len() <= wiredesk::parse::MAX_TITLE_BYTES);
                    prop_assert!(e.key.len() <= 4096);
                    prop_assert!(!has_control(&e.title), "{:?}", e.title);
                    if let Some(l) = &e.link {
                        let u = Url::parse(l).expect("links are absolute URLs");
                        prop_assert!(matches!(u.scheme(), "http" | "https"), "{l}");
                    }
                    prop_assert!(e.published.is_none_or(|d| d <= now + chrono::Duration::days(1)));
                }
            }
        }
    }

    #[test]
    fn re_reading_by_item_bytes_gives_what_reading_everything_gives(
        pool in proptest::collection::vec(feed_item(), 1..6),
        orders in proptest::collection::vec(proptest::collection::vec(0usize..6, 0..8), 3),
        builds in proptest::collection::vec(any::<u8>(), 3),
        ns in proptest::collection::vec(proptest::bool::weighted(0.85), 3),
        bases in proptest::collection::vec(proptest::bool::weighted(0.85), 3),
        format in 0u8..4,
        max_items in 1usize..12,
    ) {
        use wiredesk::parse::{Known, Limits, parse_feed_skipping};
        let now = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let base = |b: bool| Url::parse(if b { "https://e.com/rss" } else { "https://f.com/a/rss" }).unwrap();
        let limits = Limits { max_items };
        // A feed read three times, each time knowing the last read: once with its items known by
        // their bytes (cut out before feed-rs reads), once by their entries' fingerprints only
        // (every item read): the same feed, entries, fingerprints and items either way.
        let mut known = Known::default();
        let mut known_entries = Known::default();
        for step in 0..3 {
            let doc = feed_doc(&pool, &orders[step], builds[step], format, ns[step]);
            let base = base(bases[step]);
            let by_items = parse_feed_skipping(doc.as_bytes(), None, Some(&base), now, limits, &known);
            let by_entries = parse_feed_skipping(doc.as_bytes(), None, Some(&base), now, limits, &known_entries);
            match (by_items, by_entries) {
                (Ok(mut a), Ok(mut b)) => {
                    prop_assert!(a.unread_known <= a.skipped_known);
                    prop_assert_eq!(b.unread_known, 0);
                    a.unread_known = 0;
                    b.unread_known = 0;
                    prop_assert_eq!(format!("{a:?}"), format!("{b:?}"), "{}", doc);
                    known = Known::new(&a.fingerprints, &a.items);
                    known_entries = Known::new(&b.fingerprints, &[]);
                }
                (Err(a), Err(b)) => {
                    prop_assert_eq!(a.0, b.0);
                    known = Known::default();
                    known_entries = Known::default();
                }
                (a, b) => prop_assert!(false, "{:?} against {:?} for {}", a.map(|p| p.entries), b.map(|p| p.entries), doc),
            }
        }
    }

    #[test]
    fn any_search_query_is_valid_fts5_or_nothing(q in hostile(), title in hostile(), body in hostile()) {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE VIRTUAL TABLE t USING fts5(tokens, tokenize='unicode61 remove_diacritics 2')",
        )
        .unwrap();
        conn.execute(
            "INSERT INTO t (tokens) VALUES (?1)",
            [wiredesk::store::search::index_text(&title, &body)],
        )
        .unwrap();
        if let Some(fts) = wiredesk::store::search::fts_query(&q) {
            let n: Result<i64, _> =
                conn.query_row("SELECT count(*) FROM t WHERE t MATCH ?1", [&fts], |r| r.get(0));
            prop_assert!(n.is_ok(), "{q:?} gave {fts:?}: {n:?}");
        }
        // An item is found by its own title (when the title has anything searchable).
        if wiredesk::store::search::fts_query(&title).is_some() {
            let fts = wiredesk::store::search::fts_query(&title).unwrap();
            let n: i64 = conn
                .query_row("SELECT count(*) FROM t WHERE t MATCH ?1", [&fts], |r| r.get(0))
                .unwrap();
            prop_assert_eq!(n, 1, "{:?} not found by {:?}", title, fts);
        }
    }

    #[test]
    fn keyword_matching_is_total_and_finds_a_term_standing_alone(
        term in hostile(), text in hostile(),
    ) {
        let Ok(k) = wiredesk::filter::Keywords::parse(std::slice::from_ref(&term)) else {
            return Ok(());
        };
        let _ = k.matches_any(&[&text]);
        // A term always matches itself, and itself between spaces.
        let unquoted = term.trim().trim_matches('"');
        prop_assert!(k.matches_any(&[unquoted]), "{term:?}");
        prop_assert!(k.matches_any(&[&format!("x {unquoted} y")]), "{term:?}");
    }

    #[test]
    fn any_config_text_is_read_or_refused_with_positions(
        s in hostile(), key in hostile(), value in hostile(),
    ) {
        let texts = [
            s.clone(),
            format!("[poll]\nschedule = {value:?}\n[[feed]]\nid = {key:?}\nurl = {value:?}\n"),
            format!("[server]\n{key} = 1\n[[feed]]\nid = \"a\"\nurl = \"https://e.com/{s}\"\ntags = [{value:?}]\n"),
            format!("[[feed]]\nid = \"a\"\nurl = \"https://e.com/\"\nschedule = {s:?}\nheaders = {{ {key:?} = {value:?} }}\n"),
        ];
        for text in texts {
            if let Err(e) = wiredesk::Config::parse(&text, Path::new("feeds.toml")) {
                prop_assert!(!e.problems.is_empty());
                let lines = text.lines().count().max(1);
                for p in &e.problems {
                    prop_assert!(p.line >= 1 && p.line <= lines + 1, "{p:?} in {lines} lines");
                    prop_assert!(p.column >= 1, "{p:?}");
                }
            }
        }
    }
}

/// Found by the property above at 25,000 cases: a UTF-16 body holding U+FFFD itself (bytes
/// FD FF) decodes to it without any loss, and the property counts it as the body's own.
#[test]
fn a_utf16_body_s_own_replacement_character_is_not_a_loss() {
    let bytes = b"l\0i\0\xFD\xFF";
    let decoded = wiredesk::charset::to_utf8(bytes, Some("text/xml; charset=utf-16"));
    assert_eq!(decoded.text, "li\u{FFFD}");
    assert!(!decoded.had_errors);
    assert!(decoded.encoding.contains("16"), "{}", decoded.encoding);
}
