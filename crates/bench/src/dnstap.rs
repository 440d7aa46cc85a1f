//! The dnstap scenario: generated `CLIENT_RESPONSE` messages sent over a unix socket by
//! several bidirectional Frame Streams senders into the production pipeline
//! (`dnsrecall_ingest::dnstap::serve`: listener, per-connection decoding, aggregator, store
//! writer), measured from the first frame sent to the last batch committed.
//!
//! The traffic is a resolver's: names drawn with Zipf popularity (s = 1, the usual model
//! of DNS name popularity: a few names asked again and again, a long tail) from a fixed
//! universe, one or two `A` answers each (a CNAME in front of one name in eight), clients
//! drawn uniformly from a pool. The frames
//! are encoded before the clock starts (a pool per sender, sent round and round with
//! the transaction id changed), so the figure is the receiver's, not the generator's.

use std::io::BufWriter;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use dnsrecall_dnstap::fstrm::{FrameWriter, sender_handshake, sender_stop};
use dnsrecall_dnstap::proto::MessageType;
use dnsrecall_dnstap::testing::{dns_response, frame};
use dnsrecall_dnstap::{ListenAddr, ListenOptions};
use dnsrecall_ingest::capture::{Options, Progress};
use dnsrecall_ingest::dnstap::{Hooks, serve};
use dnsrecall_store::SqliteStore;
use serde_json::json;

/// Frames pre-encoded per sender.
const POOL: usize = 65_536;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Config {
    pub messages: u64,
    pub connections: usize,
    /// Distinct question names.
    pub names: u32,
    /// Distinct clients.
    pub clients: u32,
    pub seed: u64,
    /// Aggregation memory, MiB (the CLI's --max-memory).
    pub max_memory_mib: u64,
    /// Keep no client sightings (`--clients off`).
    pub clients_off: bool,
}

/// Figures of one run.
#[derive(Debug, Clone)]
pub struct Figures {
    pub messages: u64,
    pub seconds: f64,
    pub messages_per_second: f64,
    pub answers: u64,
    pub tuples: u64,
    pub client_sightings_written: u64,
    pub peak_rss_bytes: Option<u64>,
}

struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A pool of frames for one sender.
fn pool(cfg: &Config, sender: u64) -> Vec<Vec<u8>> {
    let mut rng = SplitMix(cfg.seed ^ (sender.wrapping_mul(0x51_7cc1_b727_220a)));
    (0..POOL)
        .map(|i| {
            // Zipf (s = 1): log-uniform ranks, P(rank < k) = ln k / ln names.
            let n = (f64::from(cfg.names).powf(rng.unit()) as u32).saturating_sub(1);
            let client = (rng.next() % u64::from(cfg.clients.max(1))) as u32;
            let qname = format!("host{n}.zone{}.example", n % 977);
            let ip = |k: u32| vec![198, 18 + (k >> 16 & 1) as u8, (k >> 8) as u8, k as u8];
            let mut answers = Vec::new();
            let owner = if n.is_multiple_of(8) {
                let target = format!("edge{}.cdn.example", n % 4093);
                answers.push((
                    qname.clone(),
                    5u16,
                    300,
                    dnsrecall_dnstap::testing::wire_name(&target),
                ));
                target
            } else {
                qname.clone()
            };
            answers.push((owner.clone(), 1, 60, ip(n)));
            if n.is_multiple_of(3) {
                answers.push((owner.clone(), 1, 60, ip(n + 1)));
            }
            let borrowed: Vec<(&str, u16, u32, Vec<u8>)> = answers
                .iter()
                .map(|(o, t, ttl, r)| (o.as_str(), *t, *ttl, r.clone()))
                .collect();
            let response = dns_response(i as u16, &qname, 1, 0, &borrowed);
            frame(
                MessageType::CLIENT_RESPONSE,
                "bench-resolver",
                [10, (client >> 16) as u8, (client >> 8) as u8, client as u8],
                [10, 255, 0, 53],
                1_790_000_000 + i as u64 / 64,
                (i as u32 % 1000) * 1000,
                response,
            )
        })
        .collect()
}

/// Peak resident memory of this process so far (Linux `VmHWM`).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Runs the scenario into a fresh store in `dir`.
///
/// # Errors
/// When the store, the socket or a sender fails.
pub fn run(cfg: &Config, dir: &Path) -> Result<Figures> {
    let store_dir = dir.join("dnstap-store");
    if store_dir.exists() {
        std::fs::remove_dir_all(&store_dir)?;
    }
    std::fs::create_dir_all(dir)?;
    let sock = dir.join("dnstap-bench.sock");
    let store = SqliteStore::open_dir(&store_dir)?;
    eprintln!(
        "encoding {} frames for {} senders ...",
        POOL * cfg.connections,
        cfg.connections
    );
    let pools: Vec<Vec<Vec<u8>>> = (0..cfg.connections as u64).map(|s| pool(cfg, s)).collect();
    let opts = Options {
        sensor_id: None,
        policy: dnsrecall_ingest::ClientPolicy::without_key(if cfg.clients_off {
            dnsrecall_model::ClientMode::Off
        } else {
            dnsrecall_model::ClientMode::Store
        }),
        max_entries: usize::try_from((cfg.max_memory_mib << 20) / 384).unwrap_or(usize::MAX),
        flush_interval: Duration::from_secs(10),
        report_interval: Duration::from_secs(3600),
        wire: dnsrecall_wire::Config::default(),
        logs: Vec::new(),
        reopen_logs: Arc::new(AtomicBool::new(false)),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let per_sender = cfg.messages / cfg.connections.max(1) as u64;
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let server = {
        let stop = stop.clone();
        let sock = sock.clone();
        std::thread::spawn(move || {
            let mut on_started = |_: &[ListenAddr]| {
                let _ = started_tx.send(());
            };
            let mut on_report = |_: &dnsrecall_ingest::dnstap::Report| {};
            let mut hooks = Hooks {
                on_started: &mut on_started,
                on_report: &mut on_report,
            };
            serve(
                Box::new(store),
                &[ListenAddr::Unix(sock)],
                ListenOptions::default(),
                &opts,
                &Progress::default(),
                &stop,
                &mut hooks,
            )
        })
    };
    started_rx
        .recv_timeout(Duration::from_secs(10))
        .context("the listener did not start")?;
    let started = Instant::now();
    let senders: Vec<_> = pools
        .into_iter()
        .map(|pool| {
            let sock = sock.clone();
            std::thread::Builder::new()
                .name("bench-sender".into())
                .spawn(move || -> std::io::Result<()> {
                    let mut stream = UnixStream::connect(&sock)?;
                    sender_handshake(&mut stream)?;
                    let mut w = FrameWriter::new(BufWriter::with_capacity(256 * 1024, &stream));
                    for i in 0..per_sender {
                        w.data(&pool[(i % POOL as u64) as usize])?;
                    }
                    w.flush()?;
                    drop(w);
                    sender_stop(&mut stream)
                })
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    for s in senders {
        s.join()
            .map_err(|_| anyhow::anyhow!("a sender panicked"))?
            .context("sender")?;
    }
    stop.store(true, Ordering::Relaxed);
    let (store, result) = server
        .join()
        .map_err(|_| anyhow::anyhow!("the receiver panicked"))?;
    let report = result?;
    let seconds = started.elapsed().as_secs_f64();
    let peak = peak_rss();
    let store = store.context("the receiver lost its store")?;
    let tuples = store.stats()?.tuples;
    Ok(Figures {
        messages: report.dnstap.frames,
        seconds,
        messages_per_second: report.dnstap.frames as f64 / seconds,
        answers: report.wire.answers,
        tuples,
        client_sightings_written: report.write.clients_new + report.write.clients_updated,
        peak_rss_bytes: peak,
    })
}

pub fn print(f: &Figures, cfg: &Config) {
    println!(
        "dnstap: {} messages from {} unix-socket senders in {:.2} s = {:.0} messages/s end to \
         end (received, decoded, aggregated, committed)",
        f.messages, cfg.connections, f.seconds, f.messages_per_second
    );
    println!(
        "        {} answers; {} tuples stored; {} client sightings written; peak RSS {}",
        f.answers,
        f.tuples,
        f.client_sightings_written,
        f.peak_rss_bytes.map_or("unknown".to_owned(), |b| format!(
            "{:.0} MB",
            b as f64 / 1e6
        ))
    );
    println!(
        "{}",
        json!({"scenario": "dnstap", "messages": f.messages, "connections": cfg.connections,
               "names": cfg.names, "clients": cfg.clients, "seconds": f.seconds,
               "messages_per_second": f.messages_per_second, "answers": f.answers,
               "tuples": f.tuples, "peak_rss_bytes": f.peak_rss_bytes})
    );
}
