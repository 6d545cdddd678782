//! Extracts every `NAME.html` of a folder with three readability crates and scores each against
//! `NAME.expected.txt`: word recall (expected words found) and precision (extracted words that
//! are expected), plus whether a page with nothing to extract (an empty expectation) was
//! refused or returned at most 200 characters.
use std::collections::HashMap;
use std::time::Instant;

fn words(s: &str) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for w in s
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        *m.entry(w.to_lowercase()).or_default() += 1;
    }
    m
}

fn overlap(a: &HashMap<String, usize>, b: &HashMap<String, usize>) -> usize {
    a.iter().map(|(w, n)| (*n).min(*b.get(w).unwrap_or(&0))).sum()
}

type Extract = fn(&str, &str) -> Option<String>;

fn smoothie(html: &str, url: &str) -> Option<String> {
    let mut r = dom_smoothie::Readability::new(html, Some(url), None).ok()?;
    let a = r.parse().ok()?;
    Some(a.text_content.to_string())
}

fn kumabook(html: &str, url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    let mut input = html.as_bytes();
    let p = readability::extractor::extract(&mut input, &u).ok()?;
    Some(p.text)
}

fn readable(html: &str, _url: &str) -> Option<String> {
    let (node, _meta) = readable_readability::Readability::new().parse(html);
    Some(node.text_contents())
}

fn main() {
    let dir = std::env::args().nth(1).unwrap_or("tests/fixtures/articles".into());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("folder")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".html").map(str::to_owned))
        .collect();
    names.sort();
    let crates: [(&str, Extract); 3] = [
        ("dom_smoothie 0.19", smoothie),
        ("readability 0.3", kumabook),
        ("readable-readability 0.4", readable),
    ];
    println!("| page | crate | recall | precision | chars | ms |");
    println!("|---|---|---|---|---|---|");
    let mut totals = vec![(0.0, 0.0, 0usize, 0usize); crates.len()];
    for name in &names {
        let bytes = std::fs::read(format!("{dir}/{name}.html")).expect("page");
        let html = if name.contains("euc-kr") {
            encoding_rs::EUC_KR.decode(&bytes).0.into_owned()
        } else {
            String::from_utf8_lossy(&bytes).into_owned()
        };
        let expected = std::fs::read_to_string(format!("{dir}/{name}.expected.txt")).unwrap_or_default();
        let want = words(&expected);
        for (k, (label, f)) in crates.iter().enumerate() {
            let t = Instant::now();
            let got = std::panic::catch_unwind(|| f(&html, "https://news.example/a/1"))
                .ok()
                .flatten()
                .unwrap_or_default();
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            let have = words(&got);
            let chars = got.trim().chars().count();
            if want.is_empty() {
                let ok = chars <= 200;
                println!("| {name} | {label} | refused: {} | | {chars} | {ms:.1} |", if ok { "yes" } else { "no" });
                totals[k].3 += usize::from(ok);
                continue;
            }
            let hit = overlap(&want, &have) as f64;
            let recall = hit / want.values().sum::<usize>().max(1) as f64;
            let precision = hit / have.values().sum::<usize>().max(1) as f64;
            totals[k].0 += recall;
            totals[k].1 += precision;
            totals[k].2 += 1;
            println!("| {name} | {label} | {recall:.2} | {precision:.2} | {chars} | {ms:.1} |");
        }
    }
    println!();
    println!("| crate | mean recall | mean precision | empty pages refused |");
    println!("|---|---|---|---|");
    for (k, (label, _)) in crates.iter().enumerate() {
        let (r, p, n, refused) = totals[k];
        let n = n.max(1) as f64;
        println!("| {label} | {:.2} | {:.2} | {refused} |", r / n, p / n);
    }
}
