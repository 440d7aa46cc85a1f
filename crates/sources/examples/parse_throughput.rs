//! Parse throughput on one core: `cargo run --release -p dnsrecall-sources --example parse_throughput [LINES]`.

use std::hint::black_box;
use std::time::Instant;

use dnsrecall_sources::{Format, LineContext, Record, parse_line};

fn lines(format: Format, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let (a, b, c) = (i % 251, (i / 251) % 253, i % 97);
            let ts = 1_553_714_372 + i as u64 / 50;
            let us = (i * 7919) % 1_000_000;
            match (format, i % 5) {
                (Format::PassivednsJson, 0) => format!(
                    r#"{{"timestamp_s":{ts},"timestamp_ms":{us},"client":"192.168.{a}.{b}","server":"10.0.0.53","class":"IN","query":"www{c}.subdomain-{b}.example-site.com.","type":"CNAME","answer":"edge{a}.cdn-provider.example.net.","ttl":3600,"count":{}}}"#,
                    1 + i % 3
                ),
                (Format::PassivednsJson, _) => format!(
                    r#"{{"timestamp_s":{ts},"timestamp_ms":{us},"client":"192.168.{a}.{b}","server":"10.0.0.53","class":"IN","query":"www{c}.subdomain-{b}.example-site.com.","type":"A","answer":"203.0.{a}.{b}","ttl":300,"count":{}}}"#,
                    1 + i % 3
                ),
                (Format::PassivednsText, _) => format!(
                    "{ts}.{us:06}||192.168.{a}.{b}||10.0.0.53||IN||www{c}.subdomain-{b}.example-site.com.||A||203.0.{a}.{b}||300||{}",
                    1 + i % 3
                ),
                (Format::Zeek, _) => format!(
                    "{ts}.{us:06}\tC{i}\t192.168.{a}.{b}\t5353\t10.0.0.53\t53\tudp\t{c}\t0.01\twww{c}.subdomain-{b}.example-site.com\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t203.0.{a}.{b}\t300.000000\tF"
                ),
                (Format::Suricata, _) => format!(
                    r#"{{"timestamp":"2019-03-27T19:19:32.{us:06}+0000","event_type":"dns","src_ip":"10.0.0.53","dest_ip":"192.168.{a}.{b}","dns":{{"version":3,"type":"response","id":{c},"rcode":"NOERROR","queries":[{{"rrname":"www{c}.subdomain-{b}.example-site.com","rrtype":"A"}}],"answers":[{{"rrname":"www{c}.subdomain-{b}.example-site.com","rrtype":"A","ttl":300,"rdata":"203.0.{a}.{b}"}}]}}}}"#
                ),
                (Format::Cof, _) => format!(
                    r#"{{"rrname":"www{c}.subdomain-{b}.example-site.com","rrtype":"A","rdata":"203.0.{a}.{b}","time_first":{ts},"time_last":{},"count":{},"sensor_id":"sensor-1"}}"#,
                    ts + 3600,
                    1 + i % 3
                ),
            }
        })
        .collect()
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let ctx = LineContext::default();
    for format in Format::ALL {
        let input = lines(format, n);
        let bytes: usize = input.iter().map(|l| l.len() + 1).sum();
        let mut out: Vec<Record> = Vec::with_capacity(4);
        let mut errors = 0usize;
        // One warm-up pass, then the best of three timed passes.
        let mut best = f64::MAX;
        for round in 0..4 {
            let start = Instant::now();
            for line in &input {
                if parse_line(format, line.as_bytes(), &ctx, &mut out).is_err() {
                    errors += 1;
                }
                black_box(&out);
                out.clear();
            }
            if round > 0 {
                best = best.min(start.elapsed().as_secs_f64());
            }
        }
        println!(
            "{format:16} {n} lines, avg {:.0} B/line: {:.2} M lines/s, {:.0} MB/s, {} errors",
            bytes as f64 / n as f64,
            n as f64 / best / 1e6,
            bytes as f64 / best / 1e6,
            errors,
        );
    }
}
