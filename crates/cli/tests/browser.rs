//! The web UI in a real browser: Debian's `chromium`, headless, driven over WebDriver by
//! Debian's `chromedriver`, against `dnsrecall serve --no-auth` on loopback with a store
//! holding the shipped sample. It searches from the keyboard, sorts, pivots on an address,
//! a CNAME target and its referrers, goes back, opens the clients view, toggles negative
//! answers and the stats page, and checks each table against `dnsrecall query` / `clients
//! --format json` on the same store. The screenshot of a search goes to
//! `target/test-artifacts/browser-search.png`.
//!
//! A missing chromium or chromedriver fails the test: install the packages
//! `chromium chromium-driver` (scripts/install-deps.sh does), or point
//! `DNSRECALL_CHROMIUM` / `DNSRECALL_CHROMEDRIVER` at other binaries.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{bin, query_json, repo, run_ok};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// Kills the child process (a server, chromedriver) when the test ends, pass or fail.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An executable from an environment override, else the first hit on PATH.
fn find_exe(env: &str, names: &[&str]) -> PathBuf {
    if let Some(p) = std::env::var_os(env) {
        return PathBuf::from(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path).chain([PathBuf::from("/usr/bin")]) {
        for name in names {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "{} not found on PATH (or ${env}): install Debian's `chromium chromium-driver` \
         (scripts/install-deps.sh); the browser test does not skip",
        names.join(" or ")
    );
}

/// `dnsrecall serve` on a free loopback port (with `--no-auth`, or asking for keys);
/// returns once it printed its address.
fn start_server(data: &Path, no_auth: bool) -> (Reaped, String) {
    let mut child = Command::new(bin())
        .arg("--data-dir")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(no_auth.then_some("--no-auth"))
        .env_remove("DNSRECALL_DATA_DIR")
        .env("DNSRECALL_CONFIG", "/dev/null")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start dnsrecall serve");
    let stdout = child.stdout.take().expect("server stdout");
    let child = Reaped(child);
    let (tx, rx) = mpsc::channel();
    // Keeps reading after the address, so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on ").nth(1) {
                let url = rest.split_whitespace().next().unwrap_or("").to_owned();
                let _ = tx.send(url.trim_end_matches('/').to_owned());
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("`dnsrecall serve` printed no `listening on http://...` line within 60 s");
    assert!(
        url.starts_with("http://127.0.0.1:"),
        "unexpected address {url:?}"
    );
    (child, url)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn wait_for_port(port: u16, what: &str, child: &mut Child) {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let start = Instant::now();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening: {status}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what} not listening on {port} after 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn start_chromedriver() -> (Reaped, String) {
    let driver = find_exe("DNSRECALL_CHROMEDRIVER", &["chromedriver"]);
    let port = free_port();
    let mut child = Command::new(&driver)
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", driver.display()));
    wait_for_port(port, "chromedriver", &mut child);
    (Reaped(child), format!("http://127.0.0.1:{port}"))
}

async fn open_browser(driver_url: &str) -> Client {
    let chromium = find_exe("DNSRECALL_CHROMIUM", &["chromium", "chromium-browser"]);
    let caps = json!({
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--no-default-browser-check", "--hide-scrollbars",
                "--window-size=1366,768", "--lang=en-US",
            ],
        }
    });
    let Value::Object(caps) = caps else {
        unreachable!()
    };
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(driver_url)
        .await
        .unwrap_or_else(|e| panic!("open a chromium session through {driver_url}: {e}"))
}

/// What the page says about itself: which view and pattern it shows, and whether it is done.
async fn page_state(c: &Client) -> Value {
    c.execute(
        "const v = document.getElementById('view');
         return { view: v.dataset.view || '', q: v.dataset.q || '', state: v.dataset.state || '',
                  current: v.dataset.hash === location.hash,
                  status: document.getElementById('status').textContent, hash: location.hash };",
        vec![],
    )
    .await
    .expect("read page state")
}

/// Waits until the page shows `view` for pattern `q`, fully rendered for the current URL.
async fn wait_view(c: &Client, view: &str, q: &str) -> Value {
    wait_view_with(c, view, q, "").await
}

/// [`wait_view`], and the URL holds `part` too (for changes that keep view and pattern).
async fn wait_view_with(c: &Client, view: &str, q: &str, part: &str) -> Value {
    let start = Instant::now();
    loop {
        let st = page_state(c).await;
        let hash = st["hash"].as_str().unwrap_or("");
        if st["view"] == view && st["q"] == q && st["current"] == true && hash.contains(part) {
            match st["state"].as_str() {
                Some("done") => return st,
                Some("error") => panic!("the page shows an error for {view} {q:?}: {st}"),
                _ => {}
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the page did not show {view} {q:?} within 30 s: {st}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The results table as the analyst sees it: one text cell per column.
async fn table(c: &Client) -> Vec<Value> {
    let rows = c
        .execute(
            "const text = (tr, sel) => { const e = tr.querySelector(sel); return e ? e.textContent : null; };
             return [...document.querySelectorAll('#results tbody tr')].map((tr) => ({
               name: text(tr, '.c-name .v'), type: text(tr, '.c-type'),
               answer: text(tr, '.c-answer .v'), client: text(tr, '.c-client .v'),
               first: text(tr, '.c-first'), last: text(tr, '.c-last'), count: text(tr, '.c-count'),
               bar: tr.querySelector('td.c-timeline svg.timeline rect.tl-bar') !== null,
             }));",
            vec![],
        )
        .await
        .expect("read the results table");
    rows.as_array().cloned().unwrap_or_default()
}

type Row = (String, String, String, String, String, String);

/// A TXT answer an attacker could plant: markup with a handler, and a right-to-left
/// override that would show `exe.png` for `gnp.exe`.
const HOSTILE_TXT: &str =
    "\"<img src=x onerror=\"document.title='pwned'\"><b>bold</b> \u{202e}gnp.exe\"";

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Rows shown for answers (or negative answers: the rcode in the answer column).
fn shown_answers(rows: &[Value]) -> BTreeSet<Row> {
    rows.iter()
        .map(|r| {
            assert_eq!(r["bar"], true, "row without a timeline bar: {r}");
            let f = |k: &str| s(&r[k]);
            (
                f("name"),
                f("type"),
                f("answer"),
                f("first"),
                f("last"),
                f("count"),
            )
        })
        .collect()
}

fn shown_clients(rows: &[Value]) -> BTreeSet<Row> {
    rows.iter()
        .map(|r| {
            assert_eq!(r["bar"], true, "row without a timeline bar: {r}");
            let f = |k: &str| s(&r[k]);
            (
                f("client"),
                f("name"),
                f("type"),
                f("first"),
                f("last"),
                f("count"),
            )
        })
        .collect()
}

fn expected(results: &[Value], keys: [&str; 3]) -> BTreeSet<Row> {
    results
        .iter()
        .map(|r| {
            let f = |k: &str| s(&r[k]);
            (
                f(keys[0]),
                f(keys[1]),
                f(keys[2]),
                f("first_seen"),
                f("last_seen"),
                f("count"),
            )
        })
        .collect()
}

fn expect_answers(data: &Path, args: &[&str]) -> BTreeSet<Row> {
    let rows = query_json(data, args);
    assert!(!rows.is_empty(), "the sample has no answers for {args:?}");
    if args.contains(&"--negative") {
        expected(&rows, ["qname", "qtype", "rcode"])
    } else {
        expected(&rows, ["rrname", "rrtype", "rdata"])
    }
}

fn expect_clients(data: &Path, pattern: &str) -> BTreeSet<Row> {
    let text = run_ok(
        data,
        &["clients", pattern, "--format", "json", "--limit", "100000"],
    );
    let v: Value = serde_json::from_str(&text).expect("clients json");
    let rows = v["results"].as_array().cloned().unwrap_or_default();
    assert!(!rows.is_empty(), "the sample has no clients for {pattern}");
    expected(&rows, ["client", "query", "qtype"])
}

/// Clicks the first element matching `css` whose text is `text`.
async fn click_link(c: &Client, css: &str, text: &str) {
    for e in c.find_all(Locator::Css(css)).await.expect("find links") {
        if e.text().await.expect("link text") == text {
            e.click().await.expect("click");
            return;
        }
    }
    panic!("no {css} link reading {text:?} on the page");
}

async fn press(c: &Client, key: char) {
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: key })
        .then(KeyAction::Up { value: key });
    c.perform_actions(keys).await.expect("press a key");
}

/// `/` focuses the search box from anywhere; the pattern replaces what is there; Enter runs it.
async fn search_from_keyboard(c: &Client, pattern: &str) {
    c.execute(
        "document.activeElement && document.activeElement.blur();",
        vec![],
    )
    .await
    .expect("leave any field");
    press(c, '/').await;
    let focused = c
        .execute(
            "return document.activeElement && document.activeElement.id;",
            vec![],
        )
        .await
        .expect("active element");
    assert_eq!(focused, "q", "`/` did not focus the search box");
    let input = c.active_element().await.expect("search box");
    input.clear().await.expect("clear the search box");
    input.send_keys(pattern).await.expect("type a pattern");
    input
        .send_keys(&char::from(Key::Enter).to_string())
        .await
        .expect("press Enter");
}

fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(
        png.len() > 24 && png.starts_with(b"\x89PNG\r\n\x1a\n") && &png[12..16] == b"IHDR",
        "not a PNG"
    );
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&png[16..20]), be(&png[20..24]))
}

#[tokio::test]
async fn search_pivot_and_clients_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    run_ok(
        data,
        &[
            "ingest",
            repo()
                .join("testdata/sample-passivedns.json.gz")
                .to_str()
                .unwrap(),
            repo().join("testdata/seed-example.json").to_str().unwrap(),
        ],
    );

    // Hostile answers: markup and a right-to-left override in a TXT string.
    let hostile = dir.path().join("hostile.json");
    let lines: Vec<String> = [("TXT", HOSTILE_TXT), ("CNAME", "javascript.example.")]
        .iter()
        .map(|(t, answer)| {
            json!({
                "timestamp_s": 1554000000, "timestamp_ms": 0, "client": "10.9.9.9",
                "server": "10.0.0.53", "class": "IN", "query": "hostile.example.", "type": t,
                "answer": answer, "ttl": 60, "count": 1,
            })
            .to_string()
        })
        .collect();
    std::fs::write(&hostile, lines.join("\n") + "\n").unwrap();
    run_ok(data, &["ingest", hostile.to_str().unwrap()]);
    // A watched feed, for the intel page.
    let feed = dir.path().join("feed.txt");
    std::fs::write(&feed, "sans.org\n").unwrap();
    run_ok(
        data,
        &["intel", "add", "sans-watch", feed.to_str().unwrap()],
    );

    let (_server, base) = start_server(data, true);
    let (_driver, driver_url) = start_chromedriver();
    let c = open_browser(&driver_url).await;

    // The page, and nothing fetched from elsewhere or refused by the CSP.
    c.goto(&format!("{base}/")).await.expect("open the UI");
    wait_view(&c, "search", "").await;
    assert_eq!(c.title().await.unwrap(), "dnsrecall");

    // 1. Search from the keyboard: the seed article's `*sans*`.
    search_from_keyboard(&c, "*sans*").await;
    wait_view_with(&c, "search", "*sans*", "q=*sans*").await;
    let sans = expect_answers(data, &["*sans*"]);
    assert_eq!(shown_answers(&table(&c).await), sans);
    assert!(sans.iter().any(|r| r.1 == "CNAME"), "the sample changed");

    // Keyboard: after a search, Tab reaches the rows' links, and the focus is drawn.
    let mut reached = Value::Null;
    for _ in 0..12 {
        press(&c, char::from(Key::Tab)).await;
        reached = c
            .execute(
                "const e = document.activeElement;
                 return e && e.closest('#results tbody') && e.tagName === 'A'
                   ? { text: e.textContent, outline: getComputedStyle(e).outlineStyle } : null;",
                vec![],
            )
            .await
            .unwrap();
        if !reached.is_null() {
            break;
        }
    }
    assert!(
        !reached.is_null(),
        "Tab did not reach a link in the results"
    );
    assert_ne!(reached["outline"], "none", "no visible focus: {reached}");

    // 2. Sorting the page by count, then descending.
    c.find(Locator::Css("button.sort[data-col='count']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_view_with(&c, "search", "*sans*", "order=count").await;
    c.find(Locator::Css("button.sort[data-col='count']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_view_with(&c, "search", "*sans*", "order=-count").await;
    let counts: Vec<u64> = table(&c)
        .await
        .iter()
        .map(|r| s(&r["count"]).parse().unwrap())
        .collect();
    assert!(
        counts.windows(2).all(|w| w[0] >= w[1]),
        "not by count: {counts:?}"
    );
    assert_eq!(shown_answers(&table(&c).await), sans);

    // 3. Pivot on an address: the names that resolved to it.
    click_link(&c, "a.pivot-addr", "204.51.94.153").await;
    wait_view(&c, "search", "204.51.94.153").await;
    assert_eq!(
        shown_answers(&table(&c).await),
        expect_answers(data, &["204.51.94.153"])
    );

    // 4. The back button returns to the search.
    c.back().await.unwrap();
    wait_view(&c, "search", "*sans*").await;
    assert_eq!(shown_answers(&table(&c).await), sans);

    // 5. The names whose answers point at the CNAME target (rdata search).
    click_link(&c, "a.pivot-refs", "\u{21a9} refs").await;
    wait_view_with(&c, "search", "sans.org", "rdata=1").await;
    assert_eq!(
        shown_answers(&table(&c).await),
        expect_answers(data, &["--rdata", "sans.org"])
    );
    c.back().await.unwrap();
    wait_view(&c, "search", "*sans*").await;

    // 6. Follow the CNAME target: its own answers.
    click_link(&c, "a.pivot-target", "sans.org").await;
    let st = wait_view(&c, "search", "sans.org").await;
    assert!(!st["hash"].as_str().unwrap().contains("rdata=1"), "{st}");
    assert_eq!(
        shown_answers(&table(&c).await),
        expect_answers(data, &["sans.org"])
    );

    // 7. Who asked for it, then what that client asked.
    c.find(Locator::Css("a.pivot-clients"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_view(&c, "clients", "sans.org").await;
    let who = shown_clients(&table(&c).await);
    assert_eq!(who, expect_clients(data, "sans.org"));
    let client = who.iter().next().unwrap().0.clone();
    click_link(&c, "a.pivot-client", &client).await;
    wait_view(&c, "clients", &client).await;
    assert_eq!(
        shown_clients(&table(&c).await),
        expect_clients(data, &client)
    );

    // 8. Negative answers, from a link, and the stats page.
    c.goto(&format!(
        "{base}/#view=search&q=*.global-alpha.com&limit=5000"
    ))
    .await
    .unwrap();
    wait_view(&c, "search", "*.global-alpha.com").await;
    c.find(Locator::Css("#toggle-negative"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_view_with(&c, "search", "*.global-alpha.com", "negative=1").await;
    assert_eq!(
        shown_answers(&table(&c).await),
        expect_answers(data, &["*.global-alpha.com", "--negative"])
    );
    c.find(Locator::Css("#nav-stats"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_view(&c, "stats", "").await;
    let text = c
        .find(Locator::Css("#view"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("Store statistics"), "{text}");
    let tuples: u64 = run_ok(data, &["stats"])
        .lines()
        .find_map(|l| l.strip_prefix("tuples "))
        .and_then(|n| n.trim().parse().ok())
        .expect("tuples in `dnsrecall stats`");
    let shown = format!("{},{:03}", tuples / 1000, tuples % 1000);
    assert!(
        tuples >= 1000 && text.contains(&shown),
        "no {shown} tuples in: {text}"
    );

    // 8b. The intel page: the retro-hunt hits of the feed, as `dnsrecall hunt` lists them.
    c.goto(&format!("{base}/#view=intel&since=all"))
        .await
        .unwrap();
    wait_view(&c, "intel", "").await;
    let shown_hits = c
        .execute(
            "return [...document.querySelectorAll('#intel tbody tr')].map((tr) =>
               [...tr.querySelectorAll('td')].slice(0, 4).map((td) => td.textContent).join('|'));",
            vec![],
        )
        .await
        .unwrap();
    let shown_hits: BTreeSet<String> = shown_hits
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let hunted: Value =
        serde_json::from_str(&run_ok(data, &["hunt", "--since", "0", "--format", "json"])).unwrap();
    let hunted: BTreeSet<String> = hunted
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            format!(
                "{}|{}|{}|{}",
                s(&h["client"]),
                s(&h["query"]),
                s(&h["qtype"]),
                s(&h["answer"])
            )
        })
        .collect();
    assert!(!hunted.is_empty());
    assert_eq!(shown_hits, hunted);
    // The report charts of the same window: the top client, as `dnsrecall report` says.
    let top: Value = serde_json::from_str(&run_ok(
        data,
        &["report", "top-clients", "--since", "0", "--format", "json"],
    ))
    .unwrap();
    let chart = c
        .execute(
            "return [...document.querySelectorAll('#report-top-clients tr')].map((tr) =>
               [tr.querySelector('th').textContent, tr.querySelector('td.num').textContent,
                tr.querySelector('svg rect.tl-bar') !== null]);",
            vec![],
        )
        .await
        .unwrap();
    let chart = chart.as_array().unwrap();
    assert_eq!(chart.len(), top.as_array().unwrap().len().min(10));
    assert_eq!(chart[0][0], top[0]["client"]);
    assert_eq!(
        chart[0][1].as_str().unwrap().replace(',', ""),
        top[0]["hits"].to_string()
    );
    assert_eq!(chart[0][2], true);
    let nav_hidden = c
        .find(Locator::Css("#nav-intel"))
        .await
        .unwrap()
        .attr("hidden")
        .await
        .unwrap();
    assert!(
        nav_hidden.is_none(),
        "the intel nav entry shows once feeds exist"
    );

    // 9. Hostile data stays text: no element made from it, no script run, the override shown.
    c.goto(&format!("{base}/#view=search&q=hostile.example"))
        .await
        .unwrap();
    wait_view(&c, "search", "hostile.example").await;
    let check = c
        .execute(
            "return { made: document.querySelectorAll('#view img, #view b, #view script').length,
                      title: document.title,
                      txt: [...document.querySelectorAll('#results tbody tr')]
                        .filter((tr) => tr.querySelector('.c-type').textContent === 'TXT')
                        .map((tr) => tr.querySelector('.c-answer .v').textContent) };",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(check["made"], 0, "hostile markup became elements: {check}");
    assert!(
        !s(&check["title"]).contains("pwned"),
        "hostile script ran: {check}"
    );
    assert_eq!(
        check["txt"],
        json!([HOSTILE_TXT.replace('\u{202e}', "\\u{202E}")]),
        "{check}"
    );
    assert_eq!(table(&c).await.len(), 2);

    // 10. A bigger search for the screenshot: every A and CNAME row under akamaiedge.net.
    c.find(Locator::Css("#nav-search"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_view(&c, "search", "").await;
    c.find(Locator::Css("#type"))
        .await
        .unwrap()
        .send_keys("A,CNAME")
        .await
        .unwrap();
    search_from_keyboard(&c, "*.akamaiedge.net").await;
    wait_view(&c, "search", "*.akamaiedge.net").await;
    let big = expect_answers(data, &["*.akamaiedge.net", "-t", "A,CNAME"]);
    assert!(big.len() > 20, "the sample changed: {} rows", big.len());
    assert_eq!(shown_answers(&table(&c).await), big);
    let png = c.screenshot().await.expect("screenshot");
    let artifacts = repo().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("browser-search.png");
    std::fs::write(&shot, &png).unwrap();
    let (w, h) = png_size(&png);
    assert!(
        w >= 1000 && h >= 500,
        "screenshot of {w}x{h}: not a laptop screen"
    );
    // A blank page of that size compresses to a few kB; a table of results does not.
    assert!(
        png.len() > 30_000,
        "screenshot of {} bytes looks empty: {}",
        png.len(),
        shot.display()
    );

    // 11. Paging: 100 rows a page, a truncated note, and the next page has the rest.
    c.find(Locator::Css("#more > summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Css("#limit"))
        .await
        .unwrap()
        .select_by_value("100")
        .await
        .unwrap();
    search_from_keyboard(&c, "*.akamaiedge.net").await;
    wait_view_with(&c, "search", "*.akamaiedge.net", "limit=100").await;
    let first = table(&c).await;
    assert_eq!(first.len(), 100);
    c.find(Locator::Css("#truncated-note"))
        .await
        .expect("a truncated note");
    c.find(Locator::Css("#page-next"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_view_with(&c, "search", "*.akamaiedge.net", "offset=100").await;
    let second = table(&c).await;
    assert_eq!(first.len() + second.len(), big.len());
    assert!(
        c.find_all(Locator::Css("#truncated-note"))
            .await
            .unwrap()
            .is_empty()
    );
    let mut both = shown_answers(&first);
    both.extend(shown_answers(&second));
    assert_eq!(both, big);

    c.close().await.expect("close the browser");
}

/// Waits until the API key dialog is open (or closed) and returns its message.
async fn wait_key_dialog(c: &Client, open: bool) -> String {
    let start = Instant::now();
    loop {
        let st = c
            .execute(
                "const d = document.getElementById('key-dialog');
                 return { open: d.open, why: document.getElementById('key-why').textContent };",
                vec![],
            )
            .await
            .expect("read the key dialog");
        if st["open"] == open {
            return s(&st["why"]);
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the key dialog did not {} within 30 s",
            if open { "open" } else { "close" }
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn enter_key(c: &Client, key: &str) {
    let input = c.find(Locator::Css("#key-input")).await.expect("key input");
    input.clear().await.expect("clear the key input");
    input
        .send_keys(&format!("{key}{}", char::from(Key::Enter)))
        .await
        .expect("type a key");
}

/// A server with keys: the first search asks for one (again when it is refused), the page
/// keeps it in localStorage for later visits, and "Forget API key" drops it.
#[tokio::test]
async fn api_key_is_asked_for_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let seed = repo().join("testdata/seed-example.json");
    run_ok(data, &["ingest", seed.to_str().unwrap()]);
    let secret = run_ok(data, &["keys", "add", "analyst"]).trim().to_owned();
    assert!(!secret.is_empty(), "keys add printed no secret");

    let (_server, base) = start_server(data, false);
    let (_driver, driver_url) = start_chromedriver();
    let c = open_browser(&driver_url).await;

    c.goto(&format!("{base}/#view=search&q=isc.sans.org"))
        .await
        .expect("open the UI");
    wait_key_dialog(&c, true).await;
    enter_key(&c, "not-the-key").await;
    let why = wait_key_dialog(&c, true).await;
    assert!(why.contains("refused"), "no word of the refused key: {why}");
    enter_key(&c, &secret).await;
    wait_key_dialog(&c, false).await;
    wait_view(&c, "search", "isc.sans.org").await;
    assert_eq!(
        shown_answers(&table(&c).await),
        expect_answers(data, &["isc.sans.org"])
    );
    let stored = c
        .execute("return localStorage.getItem('dnsrecall.apiKey');", vec![])
        .await
        .unwrap();
    assert_eq!(stored, secret.as_str());

    // A later visit uses the kept key without asking.
    c.goto(&format!("{base}/#view=clients&q=isc.sans.org"))
        .await
        .unwrap();
    c.refresh().await.unwrap();
    wait_view(&c, "clients", "isc.sans.org").await;
    assert_eq!(
        shown_clients(&table(&c).await),
        expect_clients(data, "isc.sans.org")
    );

    c.find(Locator::Css("#key-forget"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let stored = c
        .execute("return localStorage.getItem('dnsrecall.apiKey');", vec![])
        .await
        .unwrap();
    assert_eq!(stored, Value::Null);

    c.close().await.expect("close the browser");
}
