//! Text for matching: what outlets add around wire copy is stripped, then the text is cut into
//! tokens — words for space-separated scripts, character bigrams for Hangul, Kana and Han, and
//! numbers kept whole (they are strong evidence: "1,897.3 won", "33.1%").

use unicode_normalization::UnicodeNormalization;

/// English function words: never evidence that two items tell the same news.
const STOPWORDS: &[&str] = &[
    "a", "about", "after", "against", "all", "also", "am", "an", "and", "any", "are", "as", "at",
    "be", "been", "before", "being", "between", "both", "but", "by", "can", "could", "did", "do",
    "does", "during", "each", "for", "from", "had", "has", "have", "he", "her", "here", "hers",
    "him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "just", "may", "me", "might",
    "more", "most", "must", "my", "new", "no", "not", "now", "of", "off", "on", "once", "one",
    "only", "or", "other", "our", "out", "over", "says", "said", "say", "she", "should", "so",
    "some", "such", "than", "that", "the", "their", "them", "then", "there", "these", "they",
    "this", "those", "through", "to", "too", "under", "up", "very", "was", "we", "were", "what",
    "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you",
    "your", "amid", "via", "vs", "per", "s", "t", "le", "la", "de", "et", "des", "les",
];

/// Markers that open a headline without saying anything about the news.
const TITLE_MARKERS: &[&str] = &[
    "속보",
    "단독",
    "종합",
    "1보",
    "2보",
    "3보",
    "포토",
    "영상",
    "사진",
    "breaking",
    "update",
    "updated",
    "live",
    "exclusive",
    "watch",
    "video",
    "photos",
    "opinion",
    "analysis",
];

/// Phrases outlets wrap around copy ("From", "Send to", "Advertisement"…).
const SHARE_BOILERPLATE: &[&str] = &[
    "advertisement",
    "send to",
    "continue reading",
    "read more",
    "story continues below",
    "click here",
    "기사보기",
    "기사 보기",
    "무단전재 및 재배포 금지",
    "무단 전재 및 재배포 금지",
    "ⓒ",
    "©",
];

/// Wire-agency tails and credits (matched case-insensitively at the end of a text, in
/// parentheses).
const TAILS: &[&str] = &[
    "(yonhap)",
    "(end)",
    "(ap)",
    "(afp)",
    "(reuters)",
    "(upi)",
    "(kyodo)",
    "(xinhua)",
    "(cnn)",
    "(bloomberg)",
    "(newsis)",
    "(연합뉴스)",
    "(뉴시스)",
    "(뉴스1)",
    "(終)",
];

/// Headline suffixes that name the outlet (" - Reuters", " | Yonhap News Agency").
const OUTLET_WORDS: &[&str] = &[
    "news",
    "agency",
    "times",
    "herald",
    "post",
    "reuters",
    "ap",
    "afp",
    "upi",
    "kyodo",
    "yonhap",
    "bbc",
    "cnn",
    "npr",
    "guardian",
    "journal",
    "daily",
    "tribune",
    "press",
    "telegraph",
    "nikkei",
    "xinhua",
    "bloomberg",
    "associated",
    "online",
    "tv",
    "radio",
    "뉴스",
    "일보",
    "신문",
    "연합뉴스",
    "뉴시스",
];

/// Headlines of rolling or recurring formats: live pages, briefings, daily columns. Two of
/// them share words every day without being the same news, so they never join by text.
const ROLLING_FORMATS: &[&str] = &[
    "live updates",
    "live:",
    "liveblog",
    "live blog",
    "as it happened",
    "latest news",
    "latest updates",
    "updates from around the world",
    "news from around the world",
    "the latest on",
    "world updates",
    "coronavirus updates",
    "news in brief",
    "briefing:",
    "morning briefing",
    "evening briefing",
    "this day in history",
    "horoscope",
    "weather forecast",
    "오늘의",
    "하이라이트",
    "주요일정",
    "주요 일정",
    "날씨",
    "운세",
    "알림",
    "부고",
    "인사]",
    "[인사",
];

/// Whether a headline names a rolling or recurring format (see [`ROLLING_FORMATS`]).
pub fn is_rolling_format(title: &str) -> bool {
    let lower = title.to_lowercase();
    ROLLING_FORMATS.iter().any(|f| lower.contains(f))
}

/// Strips a headline of outlet suffixes and leading markers, returning the text to tokenise.
pub fn clean_title(title: &str) -> String {
    let mut t = title.trim().to_owned();
    // " - Reuters", " | Yonhap News Agency", " — BBC News": a short last segment naming an outlet.
    for sep in [" | ", " - ", " – ", " — ", " :: "] {
        if let Some(i) = t.rfind(sep) {
            let tail = &t[i + sep.len()..];
            if tail.chars().count() <= 40 && names_outlet(tail) {
                t.truncate(i);
            }
        }
    }
    // Leading markers: "[속보]", "(2보)", "BREAKING:", "LIVE -".
    loop {
        let trimmed = t.trim_start();
        let next = if let Some((inner, rest)) = bracketed_prefix(trimmed) {
            if is_marker(inner) { Some(rest) } else { None }
        } else if let Some(i) = trimmed.find([':', '-', '|']) {
            if is_marker(&trimmed[..i]) {
                Some(&trimmed[i + 1..])
            } else {
                None
            }
        } else {
            None
        };
        match next {
            Some(rest) => t = rest.to_owned(),
            None => break,
        }
    }
    t.trim().to_owned()
}

fn names_outlet(segment: &str) -> bool {
    let lower = segment.to_lowercase();
    lower
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| OUTLET_WORDS.contains(&w))
        || OUTLET_WORDS
            .iter()
            .any(|w| !w.is_ascii() && lower.contains(w))
}

fn is_marker(s: &str) -> bool {
    let s = s.trim().to_lowercase();
    TITLE_MARKERS.iter().any(|m| s == *m)
}

/// `[inner] rest`, `(inner) rest`, `【inner】 rest` at the start of `s`.
fn bracketed_prefix(s: &str) -> Option<(&str, &str)> {
    let (open, close) = match s.chars().next()? {
        '[' => ('[', ']'),
        '(' => ('(', ')'),
        '【' => ('【', '】'),
        '〔' => ('〔', '〕'),
        '<' => ('<', '>'),
        '〈' => ('〈', '〉'),
        _ => return None,
    };
    let end = s.find(close)?;
    Some((&s[open.len_utf8()..end], &s[end + close.len_utf8()..]))
}

/// Strips a body of datelines, bylines, agency tails and share boilerplate.
pub fn clean_body(body: &str) -> String {
    let mut t = body.trim().to_owned();
    // Leading bracketed datelines and bylines: "[서울=뉴시스]", "[東京 ２１日 ロイター] -",
    // "(서울=연합뉴스) 홍길동 기자 =", "[데일리한국 이지예 기자]".
    for _ in 0..3 {
        let Some((inner, rest)) = bracketed_prefix(t.trim_start()) else {
            break;
        };
        if inner.chars().count() > 40 {
            break;
        }
        let mut rest = rest.trim_start();
        // "홍길동 기자 =" or "= " after the dateline.
        if let Some(i) = rest.find('=').filter(|i| *i <= 40)
            && (rest[..i].contains("기자") || rest[..i].trim().is_empty())
        {
            rest = rest[i + 1..].trim_start();
        }
        rest = rest.trim_start_matches(['-', '–', '—', ' ']);
        t = rest.to_owned();
    }
    // "SEOUL, April 5 (Yonhap) -- " and "WASHINGTON (AP) — ": a dateline up to a dash.
    t = strip_english_dateline(&t);
    // "By Robin Martin of RNZ": a republisher's byline.
    t = strip_english_byline(&t);
    // Bracketed bylines anywhere: "[데일리한국 이지예 기자]".
    t = remove_bracketed(&t, |inner| {
        inner.contains("기자") || inner.contains('=') || inner.contains('@')
    });
    // Agency tails. Matched case-insensitively on the original text: lowercasing can change
    // byte lengths (ẞ → ß, Ⱥ → ⱥ, K-sign → k), so no offset found in a lowercased copy is
    // ever applied to `t`.
    loop {
        let end = t.trim_end().len();
        let Some(start) = TAILS
            .iter()
            .find_map(|tail| suffix_start_ci(&t[..end], tail))
        else {
            break;
        };
        t.truncate(start);
    }
    // Share and ad boilerplate.
    t = remove_phrases_ci(&t, SHARE_BOILERPLATE);
    // E-mail addresses (bylines).
    t.split_whitespace()
        .filter(|w| !(w.contains('@') && w.contains('.')))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where `needle` (lower case) matches `hay` case-insensitively starting at byte `start` (a
/// char boundary of `hay`): the byte just past the match in `hay`. A character of `hay` whose
/// lowercase form is several characters (İ → i̇) matches only as a whole.
fn match_ci_at(hay: &str, start: usize, needle: &str) -> Option<usize> {
    let mut want = needle.chars();
    let mut next = want.next();
    for (i, c) in hay[start..].char_indices() {
        for lc in c.to_lowercase() {
            if next != Some(lc) {
                return None;
            }
            next = want.next();
        }
        if next.is_none() {
            return Some(start + i + c.len_utf8());
        }
    }
    None
}

/// The byte where a case-insensitive match of `needle` (lower case) ends `hay`, if one does.
fn suffix_start_ci(hay: &str, needle: &str) -> Option<usize> {
    // Every character lowercases to one or more, so a match spans at most as many characters
    // of `hay` as `needle` has: try each start among the last that many.
    let n = needle.chars().count();
    hay.char_indices()
        .rev()
        .take(n)
        .map(|(i, _)| i)
        .find(|&i| match_ci_at(hay, i, needle) == Some(hay.len()))
}

/// `text` with every case-insensitive occurrence of any of `phrases` (lower case) replaced by
/// a space, in one left-to-right pass over the original.
fn remove_phrases_ci(text: &str, phrases: &[&str]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut skip_to = 0;
    for (i, _) in text.char_indices() {
        if i < skip_to {
            continue;
        }
        if let Some(end) = phrases.iter().find_map(|p| match_ci_at(text, i, p)) {
            out.push_str(&text[copied..i]);
            out.push(' ');
            copied = end;
            skip_to = end;
        }
    }
    out.push_str(&text[copied..]);
    out
}

fn strip_english_dateline(t: &str) -> String {
    for dash in [" -- ", " — ", " – ", " - "] {
        if let Some(i) = t.find(dash).filter(|i| *i <= 60) {
            let head = &t[..i];
            let first_word = head.split([' ', ',']).next().unwrap_or_default();
            let caps = first_word.len() >= 3
                && first_word
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c == '.' || c == '\'');
            if caps || head.ends_with(')') {
                return t[i + dash.len()..].to_owned();
            }
        }
    }
    t.to_owned()
}

/// A leading "By Firstname Lastname of Outlet" (up to four capitalised names, then the
/// outlet's one word), as republishers put before wire copy.
fn strip_english_byline(t: &str) -> String {
    let Some(rest) = t.strip_prefix("By ") else {
        return t.to_owned();
    };
    let words: Vec<&str> = rest.splitn(8, ' ').collect();
    let capitalised = |w: &str| w.chars().next().is_some_and(char::is_uppercase);
    for (i, w) in words.iter().enumerate().take(5).skip(1) {
        if *w == "of" && words[..i].iter().all(|n| capitalised(n)) && i + 1 < words.len() {
            if capitalised(words[i + 1]) {
                return words[i + 2..].join(" ");
            }
            break;
        }
    }
    t.to_owned()
}

fn remove_bracketed(t: &str, drop: impl Fn(&str) -> bool) -> String {
    let mut out = String::with_capacity(t.len());
    let mut rest = t;
    while let Some(i) = rest.find('[') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after.find(']') {
            Some(j) if j <= 60 && drop(&after[..j]) => {
                out.push(' ');
                rest = &after[j + 1..];
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0xAC00..=0xD7A3   // Hangul syllables
        | 0x1100..=0x11FF // Hangul Jamo
        | 0x3130..=0x318F // Hangul compatibility Jamo
        | 0x3040..=0x30FF // Hiragana, Katakana
        | 0x31F0..=0x31FF // Katakana extensions
        | 0x3400..=0x4DBF // Han extension A
        | 0x4E00..=0x9FFF // Han
        | 0xF900..=0xFAFF // Han compatibility
    )
}

/// Light English stemming: enough that "officers"/"officer" and "fired"/"fire" meet.
fn stem(w: &str) -> String {
    let mut base = w;
    for suffix in ["ing", "ed", "es", "s"] {
        if let Some(b) = w.strip_suffix(suffix)
            && b.chars().count() >= 3
            && !w.ends_with("ss")
        {
            base = b;
            break;
        }
    }
    match base.strip_suffix('e') {
        Some(b) if b.chars().count() >= 3 => b.to_owned(),
        _ => base.to_owned(),
    }
}

/// Cuts normalised text into tokens (in order, repeats kept). Numbers come out as `#N`.
pub fn tokenise(text: &str) -> Vec<String> {
    let norm: String = text.nfkc().flat_map(char::to_lowercase).collect();
    let chars: Vec<char> = norm.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() || (c.is_numeric() && !is_cjk(c)) {
            let start = i;
            let mut num = String::new();
            while i < chars.len() {
                let d = chars[i];
                if d.is_ascii_digit() {
                    num.push(d);
                } else if (d == '.' || d == ',')
                    && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit())
                    && i > start
                {
                    if d == '.' {
                        num.push('.');
                    }
                } else {
                    break;
                }
                i += 1;
            }
            if chars.get(i) == Some(&'%') {
                num.push('%');
                i += 1;
            }
            if !num.is_empty() {
                out.push(format!("#{num}"));
            } else {
                i += 1;
            }
        } else if is_cjk(c) {
            let start = i;
            while i < chars.len() && is_cjk(chars[i]) {
                i += 1;
            }
            let run = &chars[start..i];
            if run.len() == 1 {
                out.push(run[0].to_string());
            } else {
                for pair in run.windows(2) {
                    out.push(pair.iter().collect());
                }
            }
        } else if c.is_alphabetic() {
            let start = i;
            while i < chars.len() && chars[i].is_alphabetic() && !is_cjk(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if word.chars().count() >= 2 && !STOPWORDS.contains(&word.as_str()) {
                out.push(stem(&word));
            }
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headline_suffixes_and_markers() {
        let cases = [
            ("Quake hits Japan - Reuters", "Quake hits Japan"),
            (
                "N. Korea fires missile | Yonhap News Agency",
                "N. Korea fires missile",
            ),
            ("Trump says X — BBC News", "Trump says X"),
            ("[속보] 윤 대통령 지지율 28%", "윤 대통령 지지율 28%"),
            ("BREAKING: Market falls", "Market falls"),
            (
                "Tablet interactive: Coronavirus outbreak",
                "Tablet interactive: Coronavirus outbreak",
            ),
            ("Left - right debate", "Left - right debate"),
        ];
        for (input, want) in cases {
            assert_eq!(clean_title(input), want, "{input}");
        }
    }

    #[test]
    fn datelines_bylines_and_tails() {
        let cases = [
            (
                "SEOUL, April 5 (Yonhap) -- North Korea fired a missile. (END)",
                "North Korea fired a missile.",
            ),
            ("WASHINGTON (AP) — The Senate voted.", "The Senate voted."),
            (
                "[서울=뉴시스] 홍길동 기자 = 휘발유 가격이 내렸다.",
                "휘발유 가격이 내렸다.",
            ),
            (
                "(서울=연합뉴스) 김철수 기자 = 정부는 1일 발표했다. (끝)",
                "정부는 1일 발표했다. (끝)",
            ),
            (
                "[東京 ２１日 ロイター] - 日経平均は続落。",
                "日経平均は続落。",
            ),
            (
                "사진=연합뉴스[데일리한국 이지예 기자]권성동 원내대표는 29일... 기사보기",
                "사진=연합뉴스 권성동 원내대표는 29일...",
            ),
            (
                "Share this: From Send to Advertisement The text",
                "Share this: From The text",
            ),
            ("Reported by kim@yna.co.kr today", "Reported by today"),
            (
                "By Robin Martin of RNZ A lifelong friend of the man",
                "A lifelong friend of the man",
            ),
            ("By the river of time", "By the river of time"),
        ];
        for (input, want) in cases {
            assert_eq!(clean_body(input), want, "{input}");
        }
    }

    /// Regression: offsets found in a lowercased copy were applied to the original, and
    /// ẞ (3 bytes → ß, 2) before Ⱥ (2 bytes → ⱥ, 3) kept the lengths equal while moving the
    /// boundaries: the store thread panicked on this text and every feed failed after it.
    #[test]
    fn case_changing_characters_never_move_boundaries() {
        assert_eq!(
            clean_body("ẞ한read more about the talks Ⱥ"),
            "ẞ한 about the talks Ⱥ"
        );
        assert_eq!(clean_body("ẞ한READ MORE talks"), "ẞ한 talks");
        assert_eq!(clean_body("İstanbul talks (YONHAP)"), "İstanbul talks");
        assert_eq!(clean_body("Ⱥ talks (ᴇɴᴅ) İ(End)"), "Ⱥ talks (ᴇɴᴅ) İ");
        // A character whose lowercase is two characters matches only as a whole.
        assert_eq!(clean_body("xİ"), "xİ");
        // The Kelvin sign lowercases to a one-byte `k`.
        assert_eq!(
            clean_body("\u{212A}orea: Click here now"),
            "\u{212A}orea: now"
        );
    }

    #[test]
    fn tokens_for_each_script() {
        assert_eq!(
            tokenise("Four officers fired after the death"),
            vec!["four", "officer", "fir", "death"]
        );
        assert_eq!(tokenise("fire closes"), tokenise("fired closed"));
        assert_eq!(tokenise("press"), vec!["press"]);
        assert_eq!(
            tokenise("휘발유값 1,897.3원"),
            vec!["휘발", "발유", "유값", "#1897.3", "원"]
        );
        assert_eq!(tokenise("지지율 33.1%"), vec!["지지", "지율", "#33.1%"]);
        assert_eq!(tokenise("日経平均"), vec!["日経", "経平", "平均"]);
        assert_eq!(tokenise("ＣＯＶＩＤ－１９"), vec!["covid", "#19"]);
        assert!(tokenise("").is_empty());
    }
}
