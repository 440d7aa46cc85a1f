//! The server over real HTTP on loopback: every flavour, auth, limits, hardening, TLS,
//! metrics, the OpenAPI document and graceful shutdown.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use dnsrecall_model::{
    ClientId, ClientKey, Name, NegativeKey, Rcode, Rdata, RrType, TupleKey, TupleValue,
};
use dnsrecall_server::keys::{KeyFile, NewKey};
use dnsrecall_server::{Options, ServeError};
use dnsrecall_store::{Batch, SqliteStore};
use serde_json::Value;
use tokio::sync::oneshot;

const HOSTS: u32 = 3000;

/// A store with `HOSTS` A records under zone{0..9}.example (10.1.x.y), a CNAME per zone,
/// client sightings and negative answers.
fn fill(dir: &Path) {
    let mut store = SqliteStore::open_dir(dir).unwrap();
    let v = |a: i64, b: i64, c: u64| TupleValue {
        time_first: a,
        time_last: b,
        count: c,
        ttl: Some(300),
    };
    let name = |s: &str| Name::new(s).unwrap();
    let mut tuples = Vec::new();
    for i in 0..HOSTS {
        tuples.push((
            TupleKey {
                sensor_id: None,
                rrname: name(&format!("host{i}.zone{}.example", i % 10)),
                rrtype: RrType::A,
                rdata: Rdata::new(RrType::A, &format!("10.1.{}.{}", i / 250, i % 250)).unwrap(),
            },
            v(
                1_000 + i64::from(i),
                2_000 + i64::from(i),
                u64::from(i % 7) + 1,
            ),
        ));
    }
    for z in 0..10 {
        tuples.push((
            TupleKey {
                sensor_id: None,
                rrname: name(&format!("www.zone{z}.example")),
                rrtype: RrType::CNAME,
                rdata: Rdata::new(RrType::CNAME, &format!("host{z}.zone{z}.example")).unwrap(),
            },
            v(500, 600, 2),
        ));
    }
    let clients = (0..20u8)
        .map(|c| {
            (
                ClientKey {
                    sensor_id: None,
                    client: ClientId::from_ip(format!("192.168.0.{c}").parse().unwrap()),
                    qname: name("host1.zone1.example"),
                    qtype: RrType::A,
                },
                v(1_000, 1_100, 1),
            )
        })
        .collect();
    let negatives = vec![(
        NegativeKey {
            sensor_id: None,
            qname: name("nope.zone1.example"),
            qtype: RrType::A,
            rcode: Rcode::NXDOMAIN,
        },
        v(10, 20, 5),
    )];
    store
        .write_batch(&Batch {
            tuples,
            negatives,
            clients,
            checkpoints: vec![],
        })
        .unwrap();
}

/// Registers `list` as the watched list feed "blocklist".
fn add_list_feed(dir: &Path, list: &Path) {
    dnsrecall_intel::feeds::Intel::in_dir(dir)
        .add(
            dnsrecall_intel::feeds::FeedConfig {
                name: "blocklist".into(),
                source: list.to_string_lossy().into_owned(),
                format: None,
                header: None,
                refresh: None,
                filters: Default::default(),
                role: Default::default(),
            },
            0,
        )
        .unwrap();
}

struct Server {
    base: String,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), ServeError>>,
}

impl Server {
    async fn start(dir: &Path, configure: impl FnOnce(&mut Options)) -> Self {
        let mut opts = Options::new(
            "127.0.0.1:0".parse().unwrap(),
            dir.join(dnsrecall_store::DB_FILE),
            dir.to_owned(),
        );
        opts.no_auth = true;
        configure(&mut opts);
        let scheme = if opts.tls.is_some() { "https" } else { "http" };
        let (stop, stopped) = oneshot::channel::<()>();
        let (ready_tx, ready_rx) = oneshot::channel();
        let task = tokio::spawn(dnsrecall_server::serve(
            opts,
            async move {
                let _ = stopped.await;
            },
            move |a| {
                let _ = ready_tx.send(a);
            },
        ));
        let addr = ready_rx.await.expect("server did not start");
        Self {
            base: format!("{scheme}://{addr}"),
            addr,
            stop: Some(stop),
            task,
        }
    }

    async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap();
    }
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().build().unwrap()
}

async fn get(url: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let r = client().get(url).send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.text().await.unwrap())
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn lines(text: &str) -> Vec<Value> {
    text.lines().filter(|l| !l.is_empty()).map(json).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_api_answers_every_form() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path());
    let s = Server::start(dir.path(), |_| {}).await;
    let q = |path: &str| format!("{}{path}", s.base);

    let (st, _, body) = get(&q("/api/v1/query?q=host1.zone1.example")).await;
    assert_eq!(st, 200, "{body}");
    let doc = json(&body);
    assert_eq!(doc["rows"].as_array().unwrap().len(), 1);
    assert_eq!(doc["rows"][0]["rdata"], "10.1.0.1");
    assert_eq!(doc["truncated"], false);

    // *.x with paging: pages put together are the whole answer, in order.
    let (_, _, all) = get(&q("/api/v1/query?q=*.zone3.example&limit=1000")).await;
    let all = json(&all)["rows"].as_array().unwrap().clone();
    assert_eq!(all.len(), 301, "300 hosts and www");
    let mut paged = Vec::new();
    for off in (0..301).step_by(50) {
        let (_, _, p) = get(&q(&format!(
            "/api/v1/query?q=*.zone3.example&limit=50&offset={off}"
        )))
        .await;
        let p = json(&p);
        assert_eq!(p["truncated"], off + 50 < 301, "offset {off}");
        paged.extend(p["rows"].as_array().unwrap().iter().cloned());
    }
    assert_eq!(paged, all);

    // Sorted, typed, fenced.
    let (_, _, b) = get(&q(
        "/api/v1/query?q=*.zone3.example&type=A&sort=count&desc=true&limit=5",
    ))
    .await;
    let rows = json(&b)["rows"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 5);
    assert!(
        rows.iter().all(|r| r["count"] == 7 && r["rrtype"] == "A"),
        "{rows:?}"
    );
    let (_, _, b) = get(&q("/api/v1/query?q=*.example&first_after=3990&limit=100")).await;
    assert_eq!(
        json(&b)["rows"].as_array().unwrap().len(),
        10,
        "first seen 3990..3999"
    );

    // Address forms, rdata names, negatives, clients.
    let (_, _, b) = get(&q("/api/v1/query?q=10.1.2.0/24")).await;
    assert_eq!(json(&b)["rows"].as_array().unwrap().len(), 250);
    let (_, _, b) = get(&q("/api/v1/query?q=10.1.0.1-10.1.0.3")).await;
    assert_eq!(json(&b)["rows"].as_array().unwrap().len(), 3);
    let (_, _, b) = get(&q("/api/v1/query?rdata=host4.zone4.example")).await;
    assert_eq!(json(&b)["rows"][0]["rrname"], "www.zone4.example");
    let (_, _, b) = get(&q("/api/v1/query?q=*zone1*&type=CNAME")).await;
    assert_eq!(json(&b)["rows"].as_array().unwrap().len(), 1);
    let (_, _, b) = get(&q("/api/v1/negative?q=*.zone1.example")).await;
    assert_eq!(json(&b)["rows"][0]["rcode"], "NXDOMAIN");
    let (_, _, b) = get(&q("/api/v1/query?q=nope.zone1.example&negative=true")).await;
    assert_eq!(json(&b)["rows"][0]["count"], 5);
    let (_, _, b) = get(&q(
        "/api/v1/clients?q=host1.zone1.example&limit=5&sort=first",
    ))
    .await;
    let doc = json(&b);
    assert_eq!(doc["rows"].as_array().unwrap().len(), 5);
    assert_eq!(doc["truncated"], true);
    let (_, _, b) = get(&q("/api/v1/clients?q=192.168.0.7")).await;
    assert_eq!(json(&b)["rows"][0]["query"], "host1.zone1.example");
    let (_, _, b) = get(&q("/api/v1/stats")).await;
    assert_eq!(json(&b)["tuples"], u64::from(HOSTS) + 10);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_name_their_parameter() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path());
    let s = Server::start(dir.path(), |o| o.max_rows = 500).await;
    for (path, parameter) in [
        ("/api/v1/query", "q"),
        ("/api/v1/query?q=a..b", "q"),
        ("/api/v1/query?q=*ab*", "q"),
        ("/api/v1/query?q=x.example&type=BOGUS", "type"),
        ("/api/v1/query?q=x.example&after=yesterday", "after"),
        (
            "/api/v1/query?q=x.example&first_before=2026-13-01",
            "first_before",
        ),
        ("/api/v1/query?q=x.example&limit=0", "limit"),
        ("/api/v1/query?q=x.example&limit=501", "limit"),
        ("/api/v1/query?q=x.example&limit=ten", "limit"),
        ("/api/v1/query?q=x.example&sort=size", "sort"),
        ("/api/v1/query?q=x.example&desc=maybe", "desc"),
        ("/api/v1/query?q=x.example&q=y.example", "q"),
        ("/api/v1/query?q=x.example&colour=red", "colour"),
        ("/api/v1/clients?q=hash:zz", "q"),
        ("/dnsdb/v2/lookup/rrset/name/x.example/BOGUS", "rrtype"),
        ("/dnsdb/v2/lookup/rrset/bogus/x.example", "path"),
        ("/dnsdb/v2/lookup/rdata/ip/10.0.0.0,99", "path"),
        (
            "/dnsdb/v2/lookup/rrset/name/x.example?time_last_after=soon",
            "time_last_after",
        ),
        (
            "/dnsdb/v2/lookup/rrset/name/x.example?max_count=3",
            "max_count",
        ),
    ] {
        let (st, _, body) = get(&format!("{}{path}", s.base)).await;
        assert_eq!(st, 400, "{path}: {body}");
        let doc = json(&body);
        assert_eq!(doc["parameter"], parameter, "{path}: {body}");
        assert!(doc["error"].as_str().unwrap().len() > 5);
    }
    let (st, _, body) = get(&format!("{}/api/v2/query", s.base)).await;
    assert_eq!(st, 404);
    assert!(json(&body)["error"].is_string());
    let long = "a".repeat(9000);
    let (st, _, _) = get(&format!("{}/api/v1/query?q={long}", s.base)).await;
    assert_eq!(st, 414);
    let (st, _, _) = get(&format!("{}/pdns/query/%ff%fe", s.base)).await;
    assert!(st == 400 || st == 404, "{st}");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dnsdb_saf_framing_limits_and_summaries() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path());
    let s = Server::start(dir.path(), |_| {}).await;
    let (st, h, body) = get(&format!(
        "{}/dnsdb/v2/lookup/rrset/name/*.zone2.example/A?limit=10",
        s.base
    ))
    .await;
    assert_eq!(st, 200);
    assert_eq!(h["content-type"], "application/x-ndjson");
    let l = lines(&body);
    assert_eq!(l.first().unwrap()["cond"], "begin");
    assert_eq!(l.last().unwrap()["cond"], "limited");
    assert_eq!(l.len(), 12);
    assert!(
        l[1]["obj"]["rrname"]
            .as_str()
            .unwrap()
            .ends_with(".zone2.example.")
    );
    assert!(l[1]["obj"]["rdata"].is_array());

    let (_, _, body) = get(&format!(
        "{}/dnsdb/v2/lookup/rdata/name/host5.zone5.example",
        s.base
    ))
    .await;
    let l = lines(&body);
    assert_eq!(l.last().unwrap()["cond"], "succeeded");
    assert_eq!(l[1]["obj"]["rdata"], "host5.zone5.example.");
    assert_eq!(l[1]["obj"]["rrname"], "www.zone5.example.");

    let (_, _, body) = get(&format!(
        "{}/dnsdb/v2/lookup/rdata/ip/10.1.1.0,24?time_first_after=1300",
        s.base
    ))
    .await;
    let l = lines(&body);
    // 10.1.1.x are hosts 250..499, first seen 1250..1499; after 1300: 200 of them.
    assert_eq!(l.len(), 202);
    let (_, _, body) = get(&format!(
        "{}/dnsdb/v2/lookup/rrset/name/host1.zone1.example/ANY/zone1.example",
        s.base
    ))
    .await;
    assert_eq!(lines(&body).len(), 3, "in bailiwick");
    let (_, _, body) = get(&format!(
        "{}/dnsdb/v2/lookup/rrset/name/host1.zone1.example/ANY/other.example",
        s.base
    ))
    .await;
    assert_eq!(
        lines(&body).len(),
        2,
        "out of bailiwick: begin and succeeded only"
    );

    let (_, _, body) = get(&format!(
        "{}/dnsdb/v2/summarize/rrset/name/*.zone0.example",
        s.base
    ))
    .await;
    let l = lines(&body);
    assert_eq!(l[1]["obj"]["num_results"], 301);
    assert_eq!(l.last().unwrap()["cond"], "succeeded");
    let (_, _, body) = get(&format!("{}/dnsdb/v2/ping", s.base)).await;
    assert_eq!(json(&body)["ping"], "ok");
    let (_, _, body) = get(&format!("{}/dnsdb/v2/rate_limit", s.base)).await;
    assert_eq!(json(&body)["rate"]["limit"], "unlimited");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn circl_pages_put_together_are_the_whole_answer() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path());
    let s = Server::start(dir.path(), |o| o.max_page = 100).await;
    let url = format!("{}/pdns/query/10.1.3.0%2F24", s.base);
    let (st, _, whole) = get(&url).await;
    assert_eq!(st, 200);
    let whole = lines(&whole);
    assert_eq!(whole.len(), 250);
    assert!(
        whole
            .iter()
            .all(|r| r["rrtype"] == "A" && r["time_first"].is_i64())
    );
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..20 {
        let mut req = client().get(&url).header("dribble-paginate-count", "40");
        if let Some(c) = &cursor {
            req = req.header("dribble-paginate-cursor", c);
        }
        let r = req.send().await.unwrap();
        cursor = r
            .headers()
            .get("x-dribble-cursor")
            .map(|v| v.to_str().unwrap().to_owned());
        paged.extend(lines(&r.text().await.unwrap()));
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(paged, whole);
    let r = client()
        .get(&url)
        .header("dribble-paginate-count", "101")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400, "over the page maximum");
    // A name: what it owns, then what points at it.
    let (_, _, b) = get(&format!("{}/pdns/query/host6.zone6.example", s.base)).await;
    let l = lines(&b);
    assert_eq!(l.len(), 2);
    assert_eq!(l[1]["rrname"], "www.zone6.example");
    let r = client()
        .get(format!("{}/pdns/query/host6.zone6.example", s.base))
        .header("dribble-filter-rrtype", "CNAME")
        .send()
        .await
        .unwrap();
    assert_eq!(lines(&r.text().await.unwrap()).len(), 1);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rates_limits_and_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path());
    let file = KeyFile::in_dir(dir.path());
    let now = chrono::Utc::now().timestamp();
    let alice = file.add("alice", NewKey::default(), now).unwrap();
    let slow = file
        .add(
            "slow",
            NewKey {
                rate_per_min: Some(2),
                results_max: Some(5),
                expires: None,
            },
            now,
        )
        .unwrap();
    let s = Server::start(dir.path(), |o| o.no_auth = false).await;
    let url = format!("{}/api/v1/query?q=*.zone1.example&limit=3", s.base);
    let r = client().get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    for req in [
        client().get(&url).header("X-API-Key", &alice),
        client().get(&url).bearer_auth(&alice),
        client().get(&url).basic_auth("anyone", Some(&alice)),
    ] {
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.headers()["x-ratelimit-limit"], "unlimited");
    }
    let r = client()
        .get(&url)
        .header("X-API-Key", "dnsr_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // /healthz and the UI need no key.
    assert_eq!(get(&format!("{}/healthz", s.base)).await.0, 200);
    assert_eq!(get(&format!("{}/metrics", s.base)).await.0, 401);

    // results_max: the native API refuses more, DNSDB cuts and says limited.
    let r = client()
        .get(format!("{}/api/v1/query?q=*.zone1.example&limit=6", s.base))
        .header("X-API-Key", &slow)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(r.headers()["x-ratelimit-limit"], "2");
    let r = client()
        .get(format!(
            "{}/dnsdb/v2/lookup/rrset/name/*.zone1.example?limit=0",
            s.base
        ))
        .header("X-API-Key", &slow)
        .send()
        .await
        .unwrap();
    let l = lines(&r.text().await.unwrap());
    assert_eq!(l.len(), 7);
    assert_eq!(l.last().unwrap()["cond"], "limited");
    // Third request within the minute: 429 with Retry-After.
    let r = client()
        .get(&url)
        .header("X-API-Key", &slow)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));

    // Revocation takes effect without a restart.
    file.revoke("alice", now).unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = client()
        .get(&url)
        .header("X-API-Key", &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    s.shutdown().await;

    let audit = std::fs::read_to_string(dir.path().join("audit.log")).unwrap();
    let entries = lines(&audit);
    let ok: Vec<&Value> = entries
        .iter()
        .filter(|e| e["key"] == "alice" && e["status"] == 200)
        .collect();
    assert_eq!(ok.len(), 3, "{audit}");
    assert!(
        ok.iter()
            .all(|e| e["rows"] == 3 && e["target"] == "/api/v1/query?q=*.zone1.example&limit=3")
    );
    assert!(ok[0]["remote"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(
        entries
            .iter()
            .any(|e| e["key"] == "slow" && e["status"] == 429)
    );
    assert!(
        entries
            .iter()
            .any(|e| e["key"].is_null() && e["status"] == 401)
    );
    assert!(entries.iter().any(|e| e["key"] == "slow"
        && e["rows"] == 5
        && e["target"].as_str().unwrap().starts_with("/dnsdb/")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_to_serve_beyond_loopback_without_keys() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path());
    let mut opts = Options::new(
        "0.0.0.0:0".parse().unwrap(),
        dir.path().join(dnsrecall_store::DB_FILE),
        dir.path().to_owned(),
    );
    opts.no_auth = true;
    assert!(matches!(
        dnsrecall_server::state(&opts),
        Err(ServeError::OpenBeyondLoopback(_))
    ));
    opts.no_auth = false;
    assert!(matches!(
        dnsrecall_server::state(&opts),
        Err(ServeError::NoKeys(_))
    ));
    KeyFile::in_dir(dir.path())
        .add("k", NewKey::default(), chrono::Utc::now().timestamp())
        .unwrap();
    assert!(dnsrecall_server::state(&opts).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_stream_and_end_with_their_time_limit() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path());
    // Every answer is out of time as soon as its first buffer is sent.
    let s = Server::start(dir.path(), |o| o.query_timeout = Duration::ZERO).await;
    let (st, h, body) = get(&format!("{}/api/v1/query?q=*.example&limit=5000", s.base)).await;
    assert_eq!(st, 200);
    assert!(!h.contains_key("content-length"), "streamed, not buffered");
    let doc = json(&body);
    assert_eq!(doc["truncated"], true);
    assert!(doc["error"].as_str().unwrap().contains("time limit"));
    let n = doc["rows"].as_array().unwrap().len();
    assert!(n > 0 && n < 3010, "{n}");
    let (_, _, body) = get(&format!(
        "{}/dnsdb/v2/lookup/rrset/name/*.example?limit=0",
        s.base
    ))
    .await;
    let l = lines(&body);
    assert_eq!(l.last().unwrap()["cond"], "failed");
    assert!(l.len() > 2 && l.len() < 3012);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_running_answers_finish() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path());
    let s = Server::start(dir.path(), |_| {}).await;
    let addr = s.addr;
    let url = format!("{}/dnsdb/v2/lookup/rrset/name/*.example?limit=0", s.base);
    let mut resp = client().get(&url).send().await.unwrap();
    let first = resp.chunk().await.unwrap().unwrap();
    assert!(!first.is_empty());
    // Stop the server while the answer is still being read.
    let Server { stop, task, .. } = s;
    let _ = stop.unwrap().send(());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut body = first.to_vec();
    while let Some(c) = resp.chunk().await.unwrap() {
        body.extend_from_slice(&c);
    }
    let l = lines(&String::from_utf8(body).unwrap());
    assert_eq!(l.last().unwrap()["cond"], "succeeded");
    assert_eq!(l.len(), HOSTS as usize + 10 + 2);
    task.await.unwrap().unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_healthz_and_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path());
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let s = Server::start(dir.path(), |o| {
        o.tls = Some((cert_path.clone(), key_path.clone()))
    })
    .await;
    assert!(s.base.starts_with("https://"));
    let ca = reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap();
    let tls = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let r = tls
        .get(format!("{}/api/v1/query?q=host2.zone2.example", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        json(&r.text().await.unwrap())["rows"][0]["rdata"],
        "10.1.0.2"
    );
    let r = tls.get(format!("{}/healthz", s.base)).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "ok\n");
    let _ = tls
        .get(format!("{}/api/v1/query?q=bad..name", s.base))
        .send()
        .await
        .unwrap();
    let m = tls
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.contains("dnsrecall_http_requests_total{route=\"/api/v1/query\",status=\"200\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("dnsrecall_http_requests_total{route=\"/api/v1/query\",status=\"400\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("dnsrecall_http_request_duration_seconds_count{route=\"/api/v1/query\"} 2"),
        "{m}"
    );
    assert!(
        m.contains("dnsrecall_answer_rows_total{api=\"native\"} 1"),
        "{m}"
    );
    assert!(m.contains("dnsrecall_store_bytes{file=\"db\"}"), "{m}");
    // Plain HTTP to the TLS port is not served.
    assert!(
        client()
            .get(format!("http://{}/healthz", s.addr))
            .send()
            .await
            .is_err()
    );
    s.shutdown().await;
}

/// The OpenAPI document and the server agree: every documented operation answers (not
/// 404), every documented parameter of the native API is accepted, anything else is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_matches_the_server() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path());
    let list = dir.path().join("blocklist.txt");
    std::fs::write(&list, "zone1.example\n").unwrap();
    add_list_feed(dir.path(), &list);
    let s = Server::start(dir.path(), |_| {}).await;
    let (st, _, body) = get(&format!("{}/api/v1/openapi.json", s.base)).await;
    assert_eq!(st, 200);
    let doc = json(&body);
    assert_eq!(doc, json(dnsrecall_server::native::OPENAPI));
    let paths = doc["paths"].as_object().unwrap();
    let samples: Arc<[(&str, &str)]> = Arc::new([
        ("q", "*.zone1.example"),
        ("rdata", "host1.zone1.example"),
        ("negative", "false"),
        ("type", "A"),
        ("after", "30d"),
        ("before", "2030-01-01"),
        ("strict", "true"),
        ("first_after", "1"),
        ("first_before", "99999"),
        ("last_after", "1"),
        ("last_before", "99999"),
        ("sensor", "s1"),
        ("sort", "count"),
        ("desc", "true"),
        ("limit", "10"),
        ("offset", "1"),
        ("since", "30d"),
        ("feed", "blocklist"),
        ("kind", "top-clients"),
    ]);
    for (path, item) in paths {
        let concrete = path
            .replace("{value}", "host1.zone1.example")
            .replace("{path}", "rrset/name/host1.zone1.example");
        let (st, _, body) = get(&format!("{}{concrete}", s.base)).await;
        assert_ne!(st, 404, "{path} is documented but not served: {body}");
        let op = &item["get"];
        if !path.starts_with("/api/v1/") || op["parameters"].is_null() {
            continue;
        }
        let base_q = if path.ends_with("/report") {
            Some("kind=top-clients")
        } else {
            ["/query", "/clients", "/negative"]
                .iter()
                .any(|end| path.ends_with(end))
                .then_some("q=*.zone1.example")
        };
        for p in op["parameters"].as_array().unwrap() {
            if p["in"] != "query" {
                continue;
            }
            let name = p["name"].as_str().unwrap();
            let value = samples
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap_or_else(|| panic!("no sample value for {name}"))
                .1;
            let url = match (name, base_q) {
                ("q", _) => format!("{}{path}?q={value}", s.base),
                ("rdata" | "kind", _) => format!("{}{path}?{name}={value}", s.base),
                (_, Some(b)) => format!("{}{path}?{b}&{name}={value}", s.base),
                (_, None) => format!("{}{path}?{name}={value}", s.base),
            };
            let (st, _, body) = get(&url).await;
            assert_eq!(
                st, 200,
                "documented parameter {name} of {path} refused: {body}"
            );
        }
        if let Some(b) = base_q {
            let (st, _, body) = get(&format!("{}{path}?{b}&undocumented=1", s.base)).await;
            assert_eq!(st, 400, "{path}: {body}");
        }
    }
    for undocumented in [
        "/api/v1/tuples",
        "/dnsdb/v1/lookup/rrset/name/x",
        "/pdns/lookup/x",
        "/admin",
    ] {
        let (st, _, _) = get(&format!("{}{undocumented}", s.base)).await;
        assert_eq!(st, 404, "{undocumented}");
    }
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intel_page_lists_hunt_hits_and_feeds() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path());
    let list = dir.path().join("blocklist.txt");
    std::fs::write(&list, "host1.zone1.example\n10.1.0.2\n").unwrap();
    add_list_feed(dir.path(), &list);
    let s = Server::start(dir.path(), |_| {}).await;
    let (st, _, body) = get(&format!("{}/api/v1/intel?since=0", s.base)).await;
    assert_eq!(st, 200, "{body}");
    let doc = json(&body);
    assert_eq!(doc["feeds"][0]["name"], "blocklist");
    assert_eq!(doc["feeds"][0]["iocs"], 2);
    let rows = doc["rows"].as_array().unwrap();
    // host1.zone1.example: 20 clients asked; 10.1.0.2 (host2): no client sightings.
    let with_client = rows.iter().filter(|r| r["client"].is_string()).count();
    assert_eq!(with_client, 20, "{rows:?}");
    assert!(
        rows.iter()
            .any(|r| r["client"].is_null() && r["answer"] == "10.1.0.2" && r["via"] == "address")
    );
    let (st, _, body) = get(&format!("{}/api/v1/intel?since=0&feed=nope", s.base)).await;
    assert_eq!(st, 400);
    assert_eq!(json(&body)["parameter"], "feed");
    let (st, _, body) = get(&format!("{}/api/v1/intel/alerts", s.base)).await;
    assert_eq!(st, 200);
    assert_eq!(json(&body)["rows"].as_array().unwrap().len(), 0);
    s.shutdown().await;
}
