use std::path::PathBuf;
use std::sync::Arc;

use proptest::prelude::*;

use super::*;

fn ctx(sensor: Option<&str>) -> LineContext {
    LineContext {
        sensor_id: sensor.map(Arc::from),
    }
}

fn parse(format: Format, line: &str, ctx: &LineContext) -> Result<Vec<Record>, LineError> {
    let mut out = Vec::new();
    parse_line(format, line.as_bytes(), ctx, &mut out)?;
    Ok(out)
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// One record as a compact line, so the tables below stay readable.
fn summary(r: &Record) -> String {
    match r {
        Record::Answer(o) => format!(
            "answer {} {} {} t={} ttl={} n={} class={} c={} s={} sensor={}",
            o.rrname,
            o.rrtype,
            o.rdata,
            o.time,
            opt(o.ttl),
            o.count,
            o.class,
            opt(o.client),
            opt(o.server),
            opt(o.sensor_id.as_deref()),
        ),
        Record::Negative(n) => format!(
            "negative {} {} {} t={} n={} c={} s={} sensor={}",
            n.qname,
            n.qtype,
            n.rcode,
            n.time,
            n.count,
            opt(n.client),
            opt(n.server),
            opt(n.sensor_id.as_deref()),
        ),
        Record::Tuple(t) => format!(
            "tuple {} {} {} first={} last={} n={} ttl={} sensor={}",
            t.key.rrname,
            t.key.rrtype,
            t.key.rdata,
            t.value.time_first,
            t.value.time_last,
            t.value.count,
            opt(t.value.ttl),
            opt(t.key.sensor_id.as_deref()),
        ),
    }
}

fn check_good(format: Format, cases: &[(&str, Option<&str>, &[&str])]) {
    for (line, sensor, want) in cases {
        let got = parse(format, line, &ctx(*sensor))
            .unwrap_or_else(|e| panic!("{format} line {line}\nfailed: {e}"));
        let got: Vec<String> = got.iter().map(summary).collect();
        assert_eq!(got, *want, "{format} line {line}");
    }
}

fn check_bad(format: Format, cases: &[(&str, Reason)]) {
    for (line, want) in cases {
        let mut out = vec![Record::Tuple(sample_tuple())];
        let err = parse_line(format, line.as_bytes(), &ctx(None), &mut out)
            .expect_err(&format!("{format} line should fail: {line}"));
        assert_eq!(
            err.reason, *want,
            "{format} line {line}\nmessage: {}",
            err.message
        );
        assert!(!err.message.is_empty());
        assert_eq!(out.len(), 1, "a failed line must append nothing: {line}");
    }
}

fn sample_tuple() -> Tuple {
    let mut out = Vec::new();
    let line = r#"{"rrname":"x.org","rrtype":"A","rdata":"1.2.3.4","time_first":1,"time_last":2}"#;
    parse_line(Format::Cof, line.as_bytes(), &ctx(None), &mut out).unwrap();
    match out.pop() {
        Some(Record::Tuple(t)) => t,
        other => panic!("{other:?}"),
    }
}

/// The seed article's example line, typographic quotes and all.
const SEED_LINE: &str = "{ \"timestamp_s\":1553714372, \"timestamp_ms\":268056, \"client\":\"192.168.254.8\u{201d}, \"server\":\"204.51.94.8\u{201d}, \"class\":\"IN\u{201d}, \"query\":\"isc.sans.org.\u{201d}, \"type\":\"A\u{201d}, \"answer\":\"204.51.94.153\u{201d}, \"ttl\":10, \"count\u{201d}:1 }";

#[test]
fn seed_line_parses() {
    let got = parse(Format::PassivednsJson, SEED_LINE, &ctx(None)).unwrap();
    let want = Record::Answer(Observation {
        time: 1_553_714_372_268_056,
        sensor_id: None,
        client: Some("192.168.254.8".parse().unwrap()),
        server: Some("204.51.94.8".parse().unwrap()),
        rrname: dnsrecall_model::Name::new("isc.sans.org").unwrap(),
        rrtype: dnsrecall_model::RrType::A,
        class: 1,
        rdata: dnsrecall_model::Rdata::new(dnsrecall_model::RrType::A, "204.51.94.153").unwrap(),
        ttl: Some(10),
        count: 1,
    });
    assert_eq!(got, vec![want]);
    assert_eq!(detect(SEED_LINE.as_bytes()), Some(Format::PassivednsJson));
}

#[test]
fn passivedns_json_good_lines() {
    let base = "t=1553714372268056 ttl=10 n=1 class=1 c=192.168.254.8 s=204.51.94.8";
    let isc = format!("answer isc.sans.org A 204.51.94.153 {base} sensor=-");
    let cases: &[(&str, Option<&str>, &[&str])] = &[
        (
            r#"{"timestamp_s":1553714372,"timestamp_ms":268056,"client":"192.168.254.8","server":"204.51.94.8","class":"IN","query":"isc.sans.org.","type":"A","answer":"204.51.94.153","ttl":10,"count":1}"#,
            None,
            &[&isc],
        ),
        // Every key passivedns can emit, numbers written as strings, unknown keys.
        (
            r#"{"timestamp":"2019-03-27 20:19:32","timestamp_s":"1553714372","timestamp_ms":"268056","hostname":"sensor-a","client":"192.168.254.8","server":"204.51.94.8","proto":"udp","class":"IN","query":"ISC.sans.org.","query_len":13,"type":"1","answer":"204.51.94.153","answer_len":13,"ttl":"10","count":"1","extra":{"x":[1]}}"#,
            None,
            &[
                "answer isc.sans.org A 204.51.94.153 t=1553714372268056 ttl=10 n=1 class=1 c=192.168.254.8 s=204.51.94.8 sensor=sensor-a",
            ],
        ),
        // --sensor wins over hostname.
        (
            r#"{"timestamp_s":1553714372,"hostname":"sensor-a","query":"a.example.","type":"AAAA","answer":"2001:DB8::0:1","ttl":300,"count":4}"#,
            Some("cli"),
            &[
                "answer a.example AAAA 2001:db8::1 t=1553714372000000 ttl=300 n=4 class=1 c=- s=- sensor=cli",
            ],
        ),
        // Only the required keys.
        (
            r#"{"timestamp_s":1553714372,"query":"www.example.","type":"CNAME","answer":"Web.Example.NET."}"#,
            None,
            &[
                "answer www.example CNAME web.example.net t=1553714372000000 ttl=- n=1 class=1 c=- s=- sensor=-",
            ],
        ),
        (
            r#"{"timestamp_s":1553714372,"class":"CH","query":"version.bind.","type":"TXT","answer":"\"9.18 \\\"x\\\"\"","ttl":0,"client":"","proto":6}"#,
            None,
            &[
                "answer version.bind TXT \"9.18 \\\"x\\\"\" t=1553714372000000 ttl=0 n=1 class=3 c=- s=- sensor=-",
            ],
        ),
        (
            r#"{"timestamp_s":1553714372,"query":"example.","type":"MX","answer":"Mail.example.","ttl":60}"#,
            None,
            &[
                "answer example MX mail.example t=1553714372000000 ttl=60 n=1 class=1 c=- s=- sensor=-",
            ],
        ),
        (
            r#"{"timestamp_s":1553714372.75,"query":"x.example.","type":"TYPE65280","answer":"\\# 2 abcd","ttl":60,"class":"CLASS1"}"#,
            None,
            &[
                "answer x.example TYPE65280 \\# 2 abcd t=1553714372000000 ttl=60 n=1 class=1 c=- s=- sensor=-",
            ],
        ),
        // Error answers: rcode name with TTL 0 or no TTL.
        (
            r#"{"timestamp_s":1477425059,"timestamp_ms":114660,"client":"10.16.1.11","server":"10.16.1.1","class":"IN","query":"0.google.com.","type":"A","answer":"NXDOMAIN","ttl":0,"count":1}"#,
            None,
            &[
                "negative 0.google.com A NXDOMAIN t=1477425059114660 n=1 c=10.16.1.11 s=10.16.1.1 sensor=-",
            ],
        ),
        (
            r#"{"timestamp_s":1477425059,"query":"x.example.","type":"AAAA","answer":"REFUSED","count":2}"#,
            None,
            &["negative x.example AAAA REFUSED t=1477425059000000 n=2 c=- s=- sensor=-"],
        ),
        (
            r#"{"timestamp_s":1477425059,"query":"x.example.","type":"A","answer":"NOTIMPL","ttl":0}"#,
            None,
            &["negative x.example A NOTIMP t=1477425059000000 n=1 c=- s=- sensor=-"],
        ),
        (
            r#"{"timestamp_s":1477425059,"query":"x.example.","type":"A","answer":"UNKNOWN-ERROR-12","ttl":0}"#,
            None,
            &["negative x.example A RCODE12 t=1477425059000000 n=1 c=- s=- sensor=-"],
        ),
        // Not an error: a CNAME target that happens to look like an rcode, with a TTL.
        (
            r#"{"timestamp_s":1477425059,"query":"x.example.","type":"CNAME","answer":"SERVFAIL","ttl":60}"#,
            None,
            &[
                "answer x.example CNAME servfail t=1477425059000000 ttl=60 n=1 class=1 c=- s=- sensor=-",
            ],
        ),
        // Blank lines are not records.
        ("", None, &[]),
        ("   \r\n", None, &[]),
    ];
    check_good(Format::PassivednsJson, cases);
}

#[test]
fn passivedns_json_bad_lines() {
    let long_name = format!(
        r#"{{"timestamp_s":1,"query":"{}.","type":"A","answer":"1.2.3.4"}}"#,
        vec!["abcdefghi"; 26].join(".")
    );
    let huge_line = format!(
        r#"{{"timestamp_s":1,"query":"a.","type":"TXT","answer":"{}"}}"#,
        "x".repeat(MAX_LINE_LEN)
    );
    let line = |fields: &str| format!(r#"{{"timestamp_s":1553714372,{fields}}}"#);
    let ok = r#""query":"a.example.","type":"A","answer":"1.2.3.4""#;
    let cases: Vec<(String, Reason)> = vec![
        (r#"{"timestamp_s":1553714372,"#.into(), Reason::InvalidJson),
        (r#"{"timestamp_s":1} {}"#.into(), Reason::InvalidJson),
        ("not json at all".into(), Reason::InvalidJson),
        (r#"["timestamp_s"]"#.into(), Reason::WrongType),
        (line(r#""query":"a.","type":"A""#), Reason::MissingField),
        (
            line(r#""query":"a.","answer":"1.2.3.4""#),
            Reason::MissingField,
        ),
        (
            line(r#""type":"A","answer":"1.2.3.4""#),
            Reason::MissingField,
        ),
        (
            line(r#""query":null,"type":"A","answer":"1.2.3.4""#),
            Reason::MissingField,
        ),
        (format!("{{{ok}}}"), Reason::MissingField),
        (
            line(r#""query":5,"type":"A","answer":"1.2.3.4""#),
            Reason::WrongType,
        ),
        (
            line(r#""query":"a.","type":"A","answer":["1.2.3.4"]"#),
            Reason::WrongType,
        ),
        (line(&format!(r#"{ok},"client":1"#)), Reason::WrongType),
        (line(&format!(r#"{ok},"count":true"#)), Reason::WrongType),
        (
            line(r#""query":"a..b.","type":"A","answer":"1.2.3.4""#),
            Reason::BadName,
        ),
        (
            line(r#""query":"","type":"A","answer":"1.2.3.4""#),
            Reason::BadName,
        ),
        (long_name, Reason::NameTooLong),
        (
            line(r#""query":"a\u0007b.","type":"A","answer":"1.2.3.4""#),
            Reason::ControlCharacter,
        ),
        (
            line(r#""query":"a b.","type":"A","answer":"1.2.3.4""#),
            Reason::ControlCharacter,
        ),
        (
            line(r#""query":"a.","type":"TXT","answer":"x\u0001y""#),
            Reason::ControlCharacter,
        ),
        (
            line(r#""query":"a.","type":"CNAME","answer":"b\tc.""#),
            Reason::ControlCharacter,
        ),
        (
            line(r#""query":"a.","type":"A","answer":"not-an-ip""#),
            Reason::BadRdata,
        ),
        (
            line(r#""query":"a.","type":"AAAA","answer":"1.2.3.4""#),
            Reason::BadRdata,
        ),
        (
            line(r#""query":"a.","type":"CNAME","answer":"b..c.""#),
            Reason::BadRdata,
        ),
        (
            line(r#""query":"a.","type":"A","answer":"NXDOMAIN","ttl":60"#),
            Reason::BadRdata,
        ),
        (
            line(r#""query":"a.","type":"A","answer":"""#),
            Reason::BadRdata,
        ),
        (format!(r#"{{"timestamp_s":-5,{ok}}}"#), Reason::BadTime),
        (
            format!(r#"{{"timestamp_s":8000000000,{ok}}}"#),
            Reason::BadTime,
        ),
        (format!(r#"{{"timestamp_s":"soon",{ok}}}"#), Reason::BadTime),
        (
            format!(r#"{{"timestamp_s":1e400,{ok}}}"#),
            Reason::InvalidJson,
        ),
        (
            line(&format!(r#"{ok},"timestamp_ms":1000000"#)),
            Reason::BadTime,
        ),
        (line(&format!(r#"{ok},"timestamp_ms":-1"#)), Reason::BadTime),
        (line(&format!(r#"{ok},"count":0"#)), Reason::BadCount),
        (line(&format!(r#"{ok},"count":-1"#)), Reason::BadCount),
        (line(&format!(r#"{ok},"count":"many""#)), Reason::BadCount),
        (line(&format!(r#"{ok},"count":1.5"#)), Reason::BadCount),
        (
            line(&format!(r#"{ok},"count":18446744073709551615"#)),
            Reason::BadCount,
        ),
        (line(&format!(r#"{ok},"ttl":-1"#)), Reason::BadTtl),
        (line(&format!(r#"{ok},"ttl":4294967296"#)), Reason::BadTtl),
        (line(&format!(r#"{ok},"class":"XX""#)), Reason::BadClass),
        (
            line(&format!(r#"{ok},"class":"CLASS70000""#)),
            Reason::BadClass,
        ),
        (
            line(&format!(r#"{ok},"client":"999.1.1.1""#)),
            Reason::BadAddress,
        ),
        (
            line(&format!(r#"{ok},"server":"fe80::1%eth0""#)),
            Reason::BadAddress,
        ),
        (
            line(&format!(r#"{ok},"hostname":"a\nb""#)),
            Reason::BadSensorId,
        ),
        (
            line(r#""query":"a.","type":"BOGUS","answer":"1.2.3.4""#),
            Reason::UnknownType,
        ),
        (
            line(r#""query":"a.","type":"70000","answer":"1.2.3.4""#),
            Reason::UnknownType,
        ),
        (huge_line, Reason::LineTooLong),
    ];
    let cases: Vec<(&str, Reason)> = cases.iter().map(|(l, r)| (l.as_str(), *r)).collect();
    check_bad(Format::PassivednsJson, &cases);

    // Invalid UTF-8 inside a string.
    let mut out = Vec::new();
    let raw = b"{\"timestamp_s\":1,\"query\":\"a\xff.\",\"type\":\"A\",\"answer\":\"1.2.3.4\"}";
    let err = parse_line(Format::PassivednsJson, raw, &ctx(None), &mut out).unwrap_err();
    assert_eq!(err.reason, Reason::InvalidUtf8);
}

#[test]
fn error_messages_name_the_field() {
    let e = parse(
        Format::PassivednsJson,
        r#"{"timestamp_s":1,"query":"a.","type":"A","answer":"1.2.3.4","client":"nope"}"#,
        &ctx(None),
    )
    .unwrap_err();
    assert_eq!(e.message, "client \"nope\": not an IP address");
    let e = parse(
        Format::PassivednsJson,
        r#"{"timestamp_s":1,"query":"a.","type":"A","answer":"1.2.3.4","count":0}"#,
        &ctx(None),
    )
    .unwrap_err();
    assert!(e.message.starts_with("count 0"), "{}", e.message);
    let e = parse(
        Format::PassivednsJson,
        r#"{"timestamp_s":1,"query":{},"type":"A","answer":"1.2.3.4"}"#,
        &ctx(None),
    )
    .unwrap_err();
    assert_eq!(e.message, "query: expected a string, found an object");
    assert_eq!(e.to_string(), format!("wrong_type: {}", e.message));
}

#[test]
fn passivedns_text_lines() {
    let good: &[(&str, Option<&str>, &[&str])] = &[
        (
            "1553714372.268056||192.168.254.8||204.51.94.8||IN||isc.sans.org.||A||204.51.94.153||10||1",
            None,
            &[
                "answer isc.sans.org A 204.51.94.153 t=1553714372268056 ttl=10 n=1 class=1 c=192.168.254.8 s=204.51.94.8 sensor=-",
            ],
        ),
        (
            "1553714372.268056||192.168.254.8||204.51.94.8||IN||isc.sans.org.||A||204.51.94.153||10||1\r\n",
            Some("s1"),
            &[
                "answer isc.sans.org A 204.51.94.153 t=1553714372268056 ttl=10 n=1 class=1 c=192.168.254.8 s=204.51.94.8 sensor=s1",
            ],
        ),
        (
            "1477425059.114660||10.16.1.11||10.16.1.1||IN||0.google.com.||A||NXDOMAIN||0||1",
            None,
            &[
                "negative 0.google.com A NXDOMAIN t=1477425059114660 n=1 c=10.16.1.11 s=10.16.1.1 sensor=-",
            ],
        ),
        (
            "1553714372.000001||2001:db8::1||2001:db8::53||IN||t.example.||TXT||\"a||b\"||300||12",
            None,
            &[
                "answer t.example TXT \"a||b\" t=1553714372000001 ttl=300 n=12 class=1 c=2001:db8::1 s=2001:db8::53 sensor=-",
            ],
        ),
        (
            "1553714372||||||IN||a.example.||28||::1||5||2",
            None,
            &["answer a.example AAAA ::1 t=1553714372000000 ttl=5 n=2 class=1 c=- s=- sensor=-"],
        ),
    ];
    check_good(Format::PassivednsText, good);

    let bad: &[(&str, Reason)] = &[
        (
            "1553714372.1||c||s||IN||a.||A||1.2.3.4||10",
            Reason::WrongFieldCount,
        ),
        ("just some text", Reason::WrongFieldCount),
        (
            "x.1||1.1.1.1||2.2.2.2||IN||a.||A||1.2.3.4||10||1",
            Reason::BadTime,
        ),
        (
            "9553714372.1||1.1.1.1||2.2.2.2||IN||a.||A||1.2.3.4||10||1",
            Reason::BadTime,
        ),
        (
            "1553714372.1||nope||2.2.2.2||IN||a.||A||1.2.3.4||10||1",
            Reason::BadAddress,
        ),
        (
            "1553714372.1||1.1.1.1||2.2.2.2||QQ||a.||A||1.2.3.4||10||1",
            Reason::BadClass,
        ),
        (
            "1553714372.1||1.1.1.1||2.2.2.2||IN||a..||A||1.2.3.4||10||1",
            Reason::BadName,
        ),
        (
            "1553714372.1||1.1.1.1||2.2.2.2||IN||a.||WAT||1.2.3.4||10||1",
            Reason::UnknownType,
        ),
        (
            "1553714372.1||1.1.1.1||2.2.2.2||IN||a.||A||1.2.3||10||1",
            Reason::BadRdata,
        ),
        (
            "1553714372.1||1.1.1.1||2.2.2.2||IN||a.||A||1.2.3.4||x||1",
            Reason::BadTtl,
        ),
        (
            "1553714372.1||1.1.1.1||2.2.2.2||IN||a.||A||1.2.3.4||10||0",
            Reason::BadCount,
        ),
        (
            "1553714372.1||1.1.1.1||2.2.2.2||IN||a\u{1}.||A||1.2.3.4||10||1",
            Reason::ControlCharacter,
        ),
    ];
    check_bad(Format::PassivednsText, bad);

    let mut out = Vec::new();
    let raw = b"1553714372.1||1.1.1.1||2.2.2.2||IN||\xff.||A||1.2.3.4||10||1";
    let err = parse_line(Format::PassivednsText, raw, &ctx(None), &mut out).unwrap_err();
    assert_eq!(err.reason, Reason::InvalidUtf8);
}

#[test]
fn cof_lines() {
    let good: &[(&str, Option<&str>, &[&str])] = &[
        (
            r#"{"count": 7, "time_first": 1298412000, "rrtype": "A", "rrname": "www.circl.lu", "rdata": "188.65.217.78", "time_last": 1390400000}"#,
            None,
            &[
                "tuple www.circl.lu A 188.65.217.78 first=1298412000 last=1390400000 n=7 ttl=- sensor=-",
            ],
        ),
        // rdata array: one tuple each; bailiwick accepted; --sensor used when none given.
        (
            r#"{"rrname":"Example.COM.","rrtype":"NS","rdata":["A.iana-servers.net.","b.iana-servers.net."],"bailiwick":"com.","time_first":1,"time_last":2,"count":3}"#,
            Some("cli"),
            &[
                "tuple example.com NS a.iana-servers.net first=1 last=2 n=3 ttl=- sensor=cli",
                "tuple example.com NS b.iana-servers.net first=1 last=2 n=3 ttl=- sensor=cli",
            ],
        ),
        // The record's sensor_id wins over --sensor; floats are floored; numeric rrtype.
        (
            r#"{"rrname":"a.example","rrtype":28,"rdata":"2001:DB8::1","time_first":10.9,"time_last":20.2,"sensor_id":"probe-7"}"#,
            Some("cli"),
            &["tuple a.example AAAA 2001:db8::1 first=10 last=20 n=1 ttl=- sensor=probe-7"],
        ),
        // Zone-file times stand in for absent sensor times.
        (
            r#"{"rrname":"z.example","rrtype":"TXT","rdata":"\"v=spf1 -all\"","zone_time_first":100,"zone_time_last":200,"count":2}"#,
            None,
            &["tuple z.example TXT \"v=spf1 -all\" first=100 last=200 n=2 ttl=- sensor=-"],
        ),
    ];
    check_good(Format::Cof, good);

    let ok = r#""rrname":"a.example","rrtype":"A""#;
    let line = |rest: &str| format!("{{{ok},{rest}}}");
    let cases: Vec<(String, Reason)> = vec![
        (line(r#""rdata":"1.2.3.4","time_first":5,"time_last":4"#), Reason::BadTime),
        (line(r#""rdata":"1.2.3.4""#), Reason::MissingField),
        (line(r#""rdata":"1.2.3.4","time_first":5"#), Reason::MissingField),
        (line(r#""rdata":"1.2.3.4","zone_time_first":5"#), Reason::MissingField),
        (line(r#""time_first":1,"time_last":2"#), Reason::MissingField),
        (line(r#""rdata":[],"time_first":1,"time_last":2"#), Reason::BadRdata),
        (line(r#""rdata":["1.2.3.4",5],"time_first":1,"time_last":2"#), Reason::WrongType),
        (line(r#""rdata":["1.2.3.4","x"],"time_first":1,"time_last":2"#), Reason::BadRdata),
        (line(r#""rdata":{"a":1},"time_first":1,"time_last":2"#), Reason::WrongType),
        (line(r#""rdata":"1.2.3.4","time_first":1,"time_last":2,"count":0"#), Reason::BadCount),
        (line(r#""rdata":"1.2.3.4","time_first":1,"time_last":1e10"#), Reason::BadTime),
        (line(r#""rdata":"1.2.3.4","time_first":1,"time_last":2,"bailiwick":"a..b""#), Reason::BadName),
        (line(r#""rdata":"1.2.3.4","time_first":1,"time_last":2,"sensor_id":"a\u0000""#), Reason::BadSensorId),
        (r#"{"rrname":"a.example","rrtype":"NOPE","rdata":"x","time_first":1,"time_last":2}"#.into(), Reason::UnknownType),
        (r#"{"rrname":"a..example","rrtype":"A","rdata":"1.2.3.4","time_first":1,"time_last":2}"#.into(), Reason::BadName),
    ];
    let cases: Vec<(&str, Reason)> = cases.iter().map(|(l, r)| (l.as_str(), *r)).collect();
    check_bad(Format::Cof, &cases);
}

#[test]
fn formats_by_name_and_content() {
    for f in Format::ALL {
        assert_eq!(f.to_string().parse::<Format>(), Ok(f));
    }
    assert_eq!("COF".parse::<Format>(), Ok(Format::Cof));
    assert!("bro".parse::<Format>().is_err());

    let cases: &[(&[u8], Option<Format>)] = &[
        (br#"{"rrname":"a","rrtype":"A"}"#, Some(Format::Cof)),
        (br#"  {"timestamp_s":1}"#, Some(Format::PassivednsJson)),
        (br#"{"query":"a."}"#, Some(Format::PassivednsJson)),
        (
            b"\xef\xbb\xbf{\"query\":\"a.\"}",
            Some(Format::PassivednsJson),
        ),
        (
            b"1553714372.268056||a||b||IN||q.||A||1.2.3.4||10||1",
            Some(Format::PassivednsText),
        ),
        (br#"{"other":1}"#, None),
        (b"plain text", None),
        (b"", None),
    ];
    for (line, want) in cases {
        assert_eq!(detect(line), *want, "{}", String::from_utf8_lossy(line));
    }
}

/// Where the shared corpus lives: `shared/` beside the work tree, or `DNSRECALL_CORPUS`.
fn corpus_dir() -> PathBuf {
    match std::env::var_os("DNSRECALL_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    }
}

#[test]
fn every_passivedns_reference_file_parses() {
    let dir = corpus_dir().join("passivedns-ref");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 100,
        "expected the reference files in {}",
        dir.display()
    );

    let (mut answers, mut negatives, mut nonempty_files) = (0, 0, 0);
    let ctx = ctx(None);
    for path in &files {
        let mut reader = LineReader::new(open_file(path).unwrap(), 0, 0);
        let mut format = None;
        let mut out = Vec::new();
        let mut number = 0;
        while let Some(line) = reader.next_line(true).unwrap() {
            number += 1;
            let Line::Ok(line) = line else {
                panic!("{}: over-long line", path.display())
            };
            if line.is_empty() {
                continue;
            }
            let f = *format.get_or_insert_with(|| detect(line).unwrap());
            assert_eq!(f, Format::PassivednsJson, "{}", path.display());
            let before = out.len();
            parse_line(f, line, &ctx, &mut out).unwrap_or_else(|e| {
                panic!(
                    "{}:{}: {e}\n{}",
                    path.display(),
                    number,
                    String::from_utf8_lossy(line)
                )
            });
            assert_eq!(out.len(), before + 1);
        }
        nonempty_files += usize::from(format.is_some());
        for r in &out {
            match r {
                Record::Answer(_) => answers += 1,
                Record::Negative(_) => negatives += 1,
                Record::Tuple(_) => panic!("passivedns lines never become tuples"),
            }
        }
    }
    // Counted from the files with grep: 632 lines, 12 of them error answers.
    assert_eq!(
        (answers, negatives),
        (620, 12),
        "over {nonempty_files} files"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Hostile bytes never panic, and a failed line never leaves records behind.
    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        which in 0usize..5,
    ) {
        let format = Format::ALL[which];
        let mut out = Vec::new();
        if parse_line(format, &bytes, &ctx(None), &mut out).is_err() {
            prop_assert!(out.is_empty());
        }
        let _ = detect(&bytes);
    }

    /// Single-byte edits of valid lines of each format: still no panic, all or nothing.
    #[test]
    fn mutated_lines_never_panic(pos in any::<proptest::sample::Index>(), byte in any::<u8>(), which in 0usize..3) {
        let lines = [
            (Format::PassivednsJson, SEED_LINE.as_bytes()),
            (Format::PassivednsText, &b"1553714372.268056||192.168.254.8||204.51.94.8||IN||isc.sans.org.||A||204.51.94.153||10||1"[..]),
            (Format::Cof, &br#"{"rrname":"e.com","rrtype":"NS","rdata":["a.n.","b.n."],"time_first":1,"time_last":2,"count":3}"#[..]),
        ];
        let (format, line) = lines[which];
        let mut line = line.to_vec();
        let i = pos.index(line.len());
        line[i] = byte;
        let mut out = Vec::new();
        match parse_line(format, &line, &ctx(None), &mut out) {
            Ok(()) => prop_assert!(!out.is_empty()),
            Err(e) => {
                prop_assert!(out.is_empty());
                prop_assert!(!e.message.is_empty());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Zeek and Suricata lines with one byte changed: no panic, all or nothing (a line may
    /// give nothing: an unanswered query, a non-DNS event).
    #[test]
    fn mutated_zeek_and_suricata_lines_never_panic(
        pos in any::<proptest::sample::Index>(),
        byte in any::<u8>(),
        which in 0usize..3,
    ) {
        let lines: [(Format, &[u8]); 3] = [
            (Format::Zeek, b"1709287200.123456\tC1\t10.0.0.5\t53412\t10.0.0.1\t53\tudp\t4711\t0.01\twww.example.com\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\tcdn.example.net,192.0.2.10,TXT 2 hi\t300.0,60.0,5.0\tF"),
            (Format::Zeek, br#"{"ts":1709287200.5,"id.orig_h":"10.0.0.5","id.resp_h":"10.0.0.1","query":"a.example","qtype_name":"A","rcode":0,"answers":["192.0.2.1"],"TTLs":[60.0]}"#),
            (Format::Suricata, br#"{"timestamp":"2024-03-01T12:00:00.11+0000","event_type":"dns","src_ip":"10.0.0.1","dest_ip":"10.0.0.5","dns":{"version":3,"type":"response","rcode":"NOERROR","queries":[{"rrname":"w.example","rrtype":"A"}],"answers":[{"rrname":"w.example","rrtype":"A","ttl":3,"rdata":"192.0.2.8"},{"rrname":"w.example","rrtype":"SOA","soa":{"mname":"a","rname":"b","serial":1,"refresh":2,"retry":3,"expire":4,"minimum":5}}]}}"#),
        ];
        let (format, line) = lines[which];
        let mut line = line.to_vec();
        let i = pos.index(line.len());
        line[i] = byte;
        let mut out = Vec::new();
        let mut state = LineState::default();
        if parse_line_with(format, &line, &ctx(None), &mut state, &mut out).is_err() {
            prop_assert!(out.is_empty());
        }
    }
}

#[test]
fn zeek_and_suricata_lines() {
    let zeek = b"1709287200.123456\tC1\t10.0.0.5\t53412\t10.0.0.1\t53\tudp\t4711\t0.01\twww.example.com\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\tcdn.example.net,192.0.2.10\t300.0,60.0\tF";
    let got = parse(
        Format::Zeek,
        std::str::from_utf8(zeek).unwrap(),
        &ctx(Some("z")),
    )
    .unwrap();
    assert_eq!(got.len(), 2);
    let Record::Answer(o) = &got[1] else {
        panic!("{got:?}")
    };
    assert_eq!(
        (o.rrname.as_str(), o.rdata.as_str(), o.ttl),
        ("www.example.com", "192.0.2.10", Some(60))
    );
    assert_eq!(o.client, Some("10.0.0.5".parse().unwrap()));
    assert_eq!(o.sensor_id.as_deref(), Some("z"));
    assert_eq!(detect(zeek), None, "a TSV data line alone says nothing");
    assert_eq!(detect(b"#separator \\x09"), Some(Format::Zeek));
    assert_eq!(
        detect(br#"{"ts":1.5,"uid":"C1","id.orig_h":"1.2.3.4","query":"a"}"#),
        Some(Format::Zeek)
    );
    assert_eq!(
        detect(br#"{"timestamp":"x","event_type":"flow"}"#),
        Some(Format::Suricata)
    );
    let bad: &[(Format, &str, Reason)] = &[
        (
            Format::Zeek,
            "notatime\tC1\t10.0.0.5\t1\t10.0.0.1\t53\tudp\t1\t-\ta.example\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t192.0.2.1\t1.0\tF",
            Reason::BadTime,
        ),
        (
            Format::Zeek,
            "1.0\tC1\tnot-an-ip\t1\t10.0.0.1\t53\tudp\t1\t-\ta.example\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t192.0.2.1\t1.0\tF",
            Reason::BadAddress,
        ),
        (
            Format::Zeek,
            "1.0\tC1\t10.0.0.5\t1\t10.0.0.1\t53\tudp\t1\t-\ta..example\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t192.0.2.1\t1.0\tF",
            Reason::BadName,
        ),
        (
            Format::Suricata,
            r#"{"event_type":"dns","dns":{"type":"response"}}"#,
            Reason::MissingField,
        ),
        (
            Format::Suricata,
            r#"{"timestamp":"2024-13-01T00:00:00Z","event_type":"dns","dns":{"type":"answer"}}"#,
            Reason::BadTime,
        ),
        (
            Format::Suricata,
            r#"{"timestamp":"2024-03-01T00:00:00Z","event_type":"dns","dns":{"type":"answer","rcode":"NXDOMAIN"}}"#,
            Reason::MissingField,
        ),
        (
            Format::Suricata,
            r#"{"timestamp":"2024-03-01T00:00:00Z","event_type":"dns","dns":{"type":"weird"}}"#,
            Reason::WrongType,
        ),
        (Format::Suricata, "[1]", Reason::WrongType),
    ];
    for (format, line, want) in bad {
        assert_eq!(
            parse(*format, line, &ctx(None)).unwrap_err().reason,
            *want,
            "{line}"
        );
    }
}
