//! Hostile input: random and mutated feed documents never panic, and every line of a list
//! is accounted for. RPZ `rpz-ip` owners decode to the prefix they encode.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use dnsrecall_intel::{FeedFormat, Parsed, Target, detect, parse, parse_manifest};
use proptest::prelude::*;

const SAMPLES: &[&str] = &[
    r#"{"Event":{"id":"1","uuid":"u","info":"i","Tag":[{"name":"tlp:white"}],
      "Attribute":[{"type":"domain","value":"evil.example","to_ids":true,"timestamp":"1"},
                   {"type":"domain|ip","value":"a.example|192.0.2.1"},
                   {"type":"url","value":"http://[2001:db8::1]:80/x"}],
      "Object":[{"Attribute":[{"type":"ip-dst|port","value":"192.0.2.9|443"}]}]}}"#,
    r#"{"response":{"Attribute":[{"event_id":"3","type":"ip-dst","value":"10.0.0.0/8",
      "Event":{"info":"x"},"Tag":[{"name":"a"}],"timestamp":12}]}}"#,
    r#"{"5a0d5bf4-99c8-4f15-9879-22b1950d210f":{"info":"x","timestamp":"1","Tag":[]}}"#,
    "uuid,event_id,category,type,value,comment,to_ids,date,object_relation,attribute_tag\n\
     u,1,Network activity,hostname,h.example,\"a,b\",1,1510922092,,\"t1,t2\"\n",
    "$ORIGIN rpz.example.\n@ SOA ns. admin. ( 1 2 3 4 5 )\nbad.example CNAME .\n\
     *.bad.example CNAME *.\n32.1.0.0.10.rpz-ip CNAME rpz-drop.\n\
     48.zz.db8.2001.rpz-nsip CNAME .\nns.x.rpz-nsdname CNAME rpz-passthru.\n",
    "# list\nevil.example\n0.0.0.0 ads.example other.example\n10.0.0.0/8 ; c\n\
     *.x.example\n||ad.example^\n192.0.2.1-192.0.2.9\nhttp://u.example/p\n",
];

fn parse_everything(text: &str) {
    for format in FeedFormat::ALL {
        for origin in [None, Some("rpz.example"), Some("feed.list")] {
            if let Ok(parsed) = parse(format, text, origin) {
                check_invariants(&parsed);
            }
        }
    }
    let _ = parse_manifest(text);
    let _ = detect(text, None);
    let _ = detect(text, Some("manifest.json"));
}

fn check_invariants(parsed: &Parsed) {
    for ioc in &parsed.iocs {
        assert!(!ioc.meta.place.is_empty());
        match &ioc.target {
            Target::Addresses { lo, hi } | Target::NsAddresses { lo, hi } => {
                assert!(lo <= hi, "{ioc:?}");
                assert_eq!(lo.is_ipv4(), hi.is_ipv4(), "{ioc:?}");
            }
            Target::Domain { name, .. } | Target::NsName { name, .. } => {
                assert!(!name.is_root(), "{ioc:?}");
            }
        }
    }
    for bad in &parsed.bad {
        assert!(!bad.place.is_empty() && !bad.reason.is_empty(), "{bad:?}");
    }
}

/// Replaces, inserts or deletes characters at pseudo-random places.
fn mutate(text: &str, edits: &[(usize, u8, char)]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for &(pos, op, c) in edits {
        if chars.is_empty() {
            chars.push(c);
            continue;
        }
        let at = pos % chars.len();
        match op % 3 {
            0 => chars[at] = c,
            1 => chars.insert(at, c),
            _ => {
                chars.remove(at);
            }
        }
    }
    chars.into_iter().collect()
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop_oneof![
            Just("domain".to_owned()),
            Just("ip-dst".to_owned()),
            Just("url".to_owned()),
            Just("domain|ip".to_owned()),
            "[a-z0-9.|:/-]{0,20}",
            ".{0,10}",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("type".to_owned()),
                        Just("value".to_owned()),
                        Just("Attribute".to_owned()),
                        Just("Object".to_owned()),
                        Just("Event".to_owned()),
                        Just("Tag".to_owned()),
                        Just("name".to_owned()),
                        Just("timestamp".to_owned()),
                        Just("to_ids".to_owned()),
                        Just("deleted".to_owned()),
                        Just("response".to_owned()),
                        "[a-z]{1,5}",
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_text_never_panics(text in "(?s).{0,300}") {
        parse_everything(&text);
    }

    #[test]
    fn random_feed_alphabet_never_panics(
        text in "[a-z0-9 .:/|*^;#\"(){}\\[\\],\\\\$@\n\t-]{0,300}"
    ) {
        parse_everything(&text);
    }

    #[test]
    fn mutated_samples_never_panic(
        sample in 0..SAMPLES.len(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<char>()), 0..12),
    ) {
        parse_everything(&mutate(SAMPLES[sample], &edits));
    }

    #[test]
    fn random_json_never_panics(value in json_value()) {
        for doc in [
            value.clone(),
            serde_json::json!({"Event": value.clone()}),
            serde_json::json!({"response": {"Attribute": value.clone()}}),
            serde_json::json!({"response": [value.clone()]}),
            serde_json::json!([{"Event": {"Attribute": [value.clone()], "Object": [{"Attribute": value.clone()}]}}]),
        ] {
            parse_everything(&doc.to_string());
        }
    }

    /// Every non-blank list line gives indicators, a bad entry or an ignored count.
    #[test]
    fn every_list_line_is_accounted_for(
        lines in prop::collection::vec(
            prop_oneof![
                "[a-z]{1,8}\\.[a-z]{2,4}",
                "(\\*\\.)?[a-z]{1,8}\\.example",
                "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}(/[0-9]{1,2})?",
                "0\\.0\\.0\\.0 [a-z.]{1,12}( [a-z.]{1,12})?",
                "127\\.0\\.0\\.1 localhost",
                "[a-z0-9.:/|*^ -]{1,30}",
            ],
            0..40,
        )
    ) {
        let text = lines.join("\n");
        let parsed = parse(FeedFormat::List, &text, None).unwrap();
        let places: BTreeSet<&str> = parsed
            .iocs
            .iter()
            .map(|i| i.meta.place.as_str())
            .chain(parsed.bad.iter().map(|b| b.place.as_str()))
            .collect();
        let nonblank = lines.iter().filter(|l| !l.trim().is_empty()).count();
        prop_assert_eq!(places.len() + parsed.ignored as usize, nonblank, "{:?}", parsed);
    }

    #[test]
    fn rpz_ipv4_owners_decode(addr in any::<u32>(), len in 1u8..=32) {
        let ip = Ipv4Addr::from(addr);
        let o = ip.octets();
        let owner = format!("{len}.{}.{}.{}.{}.rpz-ip", o[3], o[2], o[1], o[0]);
        let parsed = parse(FeedFormat::Rpz, &format!("{owner} CNAME .\n"), Some("rpz.example")).unwrap();
        let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
        let want = Target::Addresses {
            lo: IpAddr::V4(Ipv4Addr::from(addr & mask)),
            hi: IpAddr::V4(Ipv4Addr::from(addr | !mask)),
        };
        prop_assert_eq!(&parsed.iocs[0].target, &want);
    }

    #[test]
    fn rpz_ipv6_owners_decode(
        groups in prop::array::uniform8(prop_oneof![Just(0u16), any::<u16>()]),
        len in 1u8..=128,
        compress in any::<bool>(),
    ) {
        let ip = Ipv6Addr::from(groups);
        // Reversed groups, the longest run of two or more zero groups as `zz` when asked.
        let mut labels: Vec<String> = groups.iter().rev().map(|g| format!("{g:x}")).collect();
        if compress {
            let mut best = (0, 0);
            let mut i = 0;
            while i < labels.len() {
                if labels[i] == "0" {
                    let start = i;
                    while i < labels.len() && labels[i] == "0" {
                        i += 1;
                    }
                    if i - start > best.1 - best.0 && i - start >= 2 {
                        best = (start, i);
                    }
                } else {
                    i += 1;
                }
            }
            if best.1 > best.0 {
                labels.splice(best.0..best.1, ["zz".to_owned()]);
            }
        }
        let owner = format!("{len}.{}.rpz-nsip", labels.join("."));
        let parsed = parse(FeedFormat::Rpz, &format!("{owner} CNAME .\n"), Some("rpz.example")).unwrap();
        prop_assert!(parsed.bad.is_empty(), "{owner}: {:?}", parsed.bad);
        let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
        let bits = u128::from(ip);
        let want = Target::NsAddresses {
            lo: IpAddr::V6(Ipv6Addr::from(bits & mask)),
            hi: IpAddr::V6(Ipv6Addr::from(bits | !mask)),
        };
        prop_assert_eq!(&parsed.iocs[0].target, &want);
    }
}
