#!/usr/bin/env python3
"""Writes tests/fixtures/articles/: article pages in the layouts news sites use, each with the
text a reader should get from it (NAME.expected.txt, one paragraph per line; empty for a page
with no article). Written for wiredesk (no page copied from anywhere). Used by tests/full_text.rs
and by tools/extract-compare (the comparison of readability crates in BENCHMARKS.md).

Run from the repository root: python3 tools/gen_article_fixtures.py
"""
import os

OUT = "tests/fixtures/articles"

NAV = "".join(
    f'<li><a href="/section/{s.lower()}">{s}</a></li>'
    for s in ["World", "Politics", "Business", "Tech", "Science", "Health", "Sport",
              "Culture", "Opinion", "Video", "Podcasts", "Weather", "Markets", "Travel"]
)
MOST_READ = "".join(
    f'<li><a href="/news/{i}">{t}</a></li>'
    for i, t in enumerate([
        "Ten things we learned from the budget hearing",
        "Why the ferry timetable changed again this winter",
        "Celebrity chef opens a noodle bar in the old station",
        "Quiz: how well do you know the week's news?",
        "Photos: lantern festival lights up the river",
        "Opinion: the case for a four-day school week",
        "Local team wins the cup after extra time",
        "Five gadgets worth buying before the holidays",
    ])
)
FOOTER = ('<footer class="site-footer"><p>&copy; 2026 Example Media Group. All rights reserved.</p>'
          '<ul><li><a href="/about">About us</a></li><li><a href="/privacy">Privacy policy</a></li>'
          '<li><a href="/terms">Terms of use</a></li><li><a href="/contact">Contact</a></li>'
          '<li><a href="/advertise">Advertise with us</a></li><li><a href="/careers">Careers</a></li></ul>'
          '</footer>')
SCRIPTS = ('<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}'
           'gtag("js",new Date());var ads={slot:"top",size:[728,90],text:"Buy now and save"};</script>'
           '<style>.ad{display:block}.nav li{float:left}</style>')

STORY_EN = [
    "SEOUL, Nov. 28 (Wiredesk) -- South Korea's central bank held its benchmark interest rate "
    "steady at 3.25 percent on Thursday, citing slowing inflation and uncertainty in export markets.",
    "The Bank of Korea's monetary policy board voted unanimously to keep the rate unchanged for a "
    "third straight meeting, in line with the forecasts of most economists polled last week.",
    "Governor Lee Chang-yong told reporters that consumer prices had risen 2.1 percent from a year "
    "earlier in October, close to the bank's target, but that household debt remained a concern.",
    "Exports of semiconductors rose for a tenth consecutive month, while shipments of cars and "
    "steel fell as demand from China weakened, according to figures released by the trade ministry.",
    "Analysts said the board was likely to consider a cut early next year if growth slows further "
    "and the won stays stable against the dollar.",
    "The decision came a day after the government raised its growth forecast for next year to 2.2 "
    "percent, pointing to a recovery in domestic spending and a rebound in tourism.",
]

STORY_KO = [
    "서울=연합뉴스 한국은행이 28일 기준금리를 연 3.25%로 동결했다. 물가 상승세가 둔화하고 수출 시장의 "
    "불확실성이 커진 점을 고려한 결정이다.",
    "한국은행 금융통화위원회는 이날 통화정책방향 회의에서 만장일치로 기준금리를 유지하기로 했다. "
    "세 차례 연속 동결로, 지난주 조사에서 대부분의 경제학자가 예상한 결과와 같다.",
    "이창용 총재는 기자간담회에서 10월 소비자물가가 1년 전보다 2.1% 올라 목표 수준에 가까워졌지만 "
    "가계부채는 여전히 우려스럽다고 말했다.",
    "반도체 수출은 열 달 연속 늘었지만 중국 수요가 약해지면서 자동차와 철강 수출은 줄었다고 "
    "산업통상자원부가 밝혔다.",
    "전문가들은 성장세가 더 둔화하고 원화 가치가 안정되면 내년 초 금리 인하를 검토할 가능성이 크다고 내다봤다.",
]


def paras(lines):
    return "".join(f"<p>{line}</p>" for line in lines)


def page(head_title, body, charset="utf-8", meta=True):
    meta_tag = f'<meta charset="{charset}">' if meta else ""
    return (f"<!DOCTYPE html><html><head>{meta_tag}<title>{head_title}</title>{SCRIPTS}</head>"
            f"<body>{body}</body></html>")


def header():
    return (f'<header class="masthead"><a class="logo" href="/">Example Daily</a>'
            f'<nav class="nav"><ul>{NAV}</ul></nav>'
            f'<form action="/search"><input name="q" placeholder="Search"></form></header>'
            '<div class="cookie-banner">We use cookies to improve your experience. '
            '<a href="/cookies">Learn more</a> <button>Accept</button></div>')


def sidebar():
    return (f'<aside class="sidebar"><h3>Most read</h3><ol>{MOST_READ}</ol>'
            '<div class="newsletter"><h3>Get the morning briefing</h3>'
            '<p>Sign up for our newsletter.</p><input name="email"><button>Subscribe</button></div>'
            '<div class="ad">Advertisement</div></aside>')


PAGES = {}

# 1. A current news page: <article>, byline, related links, comments, footer.
PAGES["standard"] = (page(
    "Bank of Korea holds rate at 3.25% | Example Daily",
    header() + '<main><article><h1>Bank of Korea holds rate at 3.25%</h1>'
    '<div class="byline">By Kim Min-ji, Staff Reporter &middot; <time>Nov 28, 2026</time></div>'
    '<figure><img src="/img/bok.jpg" alt="Bank of Korea building"><figcaption>The Bank of '
    'Korea in central Seoul.</figcaption></figure>'
    + paras(STORY_EN) +
    '<div class="share"><a href="/share/fb">Share</a> <a href="/share/x">Post</a></div>'
    '</article><section class="related"><h2>Related stories</h2><ul>'
    '<li><a href="/a/1">Won weakens as exports slow</a></li>'
    '<li><a href="/a/2">Household debt hits a record</a></li>'
    '<li><a href="/a/3">Inflation eases for a third month</a></li></ul></section></main>'
    + sidebar() + FOOTER), STORY_EN)

# 2. Div soup: no semantic tags, the story among link-heavy blocks.
PAGES["div-soup"] = (page(
    "Rates | Example Wire",
    '<div id="top"><div class="menu">' + NAV.replace("li>", "span>") + '</div></div>'
    '<div id="wrap"><div class="col-left">' + sidebar() + '</div>'
    '<div class="col-main"><div class="headline">Central bank keeps rates on hold</div>'
    '<div class="story-body">' + paras(STORY_EN[:5]) + '</div>'
    '<div class="tags">Tags: <a href="/t/rates">rates</a>, <a href="/t/bok">BOK</a></div>'
    '</div></div>' + FOOTER), STORY_EN[:5])

# 3. Korean, EUC-KR, declared only by <meta charset> (the server sends text/html without one).
PAGES["korean-euc-kr"] = (page(
    "한은 기준금리 동결 | 예시일보",
    '<div class="gnb"><a href="/">예시일보</a> <a href="/politics">정치</a> <a href="/economy">경제</a> '
    '<a href="/society">사회</a> <a href="/world">국제</a> <a href="/sports">스포츠</a></div>'
    '<div id="articleWrap"><h1>한은, 기준금리 연 3.25% 동결</h1><div id="articleBody">'
    + paras(STORY_KO) + '<p class="copy">&lt;저작권자 예시일보 무단전재 및 재배포 금지&gt;</p></div>'
    '<div class="popular"><h3>많이 본 뉴스</h3><ul><li><a href="/1">날씨: 내일 전국 비</a></li>'
    '<li><a href="/2">프로야구 개막전 일정</a></li><li><a href="/3">주말 나들이 명소</a></li></ul></div></div>',
    charset="euc-kr"), STORY_KO)

# 4. Comments longer than the story.
COMMENTS = "".join(
    f'<li class="comment"><a href="/u/{n}">reader{n}</a> <span>2h ago</span>'
    f'<p>I have been saying this for months, rates should have been cut already and nobody listens to '
    f'savers or borrowers, number {n}.</p><a href="/reply/{n}">Reply</a> <a href="/report/{n}">Report</a></li>'
    for n in range(1, 19)
)
PAGES["long-comments"] = (page(
    "Rate decision | Example Daily",
    header() + '<div class="content"><article class="post"><h1>Rate decision</h1>'
    + paras(STORY_EN[:4]) + '</article><section id="comments"><h2>18 comments</h2><ol>'
    + COMMENTS + '</ol></section></div>' + FOOTER), STORY_EN[:4])

# 5. An old table layout.
PAGES["table-layout"] = (page(
    "Example Times - Rates",
    '<table width="100%"><tr><td class="left" width="180">' + NAV.replace("<li>", "").replace("</li>", "<br>")
    + '</td><td class="body"><font size="4"><b>Central bank holds</b></font><br>'
    + "<br><br>".join(STORY_EN[:5]) + '</td><td class="right" width="160">'
    + MOST_READ.replace("<li>", "").replace("</li>", "<br>") + '</td></tr></table>' + FOOTER),
    STORY_EN[:5])

# 6. A paywall stub: one teaser line and a subscription box. Nothing to extract.
PAGES["paywall"] = (page(
    "Subscribe to read | Example Financial",
    header() + '<article><h1>Bank of Korea holds rate</h1><p class="teaser">The central bank kept '
    'its rate unchanged.</p><div class="paywall"><h2>Subscribe to continue reading</h2>'
    '<p>Get unlimited access for $1 a week.</p><a href="/subscribe">Subscribe now</a> '
    '<a href="/login">Sign in</a></div></article>' + FOOTER), [])

for name, (html, expected) in PAGES.items():
    charset = "euc-kr" if name == "korean-euc-kr" else "utf-8"
    with open(os.path.join(OUT, f"{name}.html"), "wb") as f:
        f.write(html.encode(charset))
    with open(os.path.join(OUT, f"{name}.expected.txt"), "w", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in expected))
print(f"wrote {len(PAGES)} pages to {OUT}")
