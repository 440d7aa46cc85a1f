//! Guessing a feed's format from its first few kilobytes (and its file name or URL path).

use crate::ioc::FeedFormat;

/// How much of a feed [`detect`] looks at; more is ignored.
pub const DETECT_HEAD_LEN: usize = 8192;

/// Guesses the format of a feed from its head (the first [`DETECT_HEAD_LEN`] bytes are
/// enough; a cut in the middle of a line or a JSON document is fine) and an optional file
/// name or URL path. `None` when nothing fits (empty, binary, or JSON of another shape).
#[must_use]
pub fn detect(head: &str, name_hint: Option<&str>) -> Option<FeedFormat> {
    let mut end = head.len().min(DETECT_HEAD_LEN);
    while !head.is_char_boundary(end) {
        end -= 1;
    }
    let head = head[..end].trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let hint = name_hint.map(|n| {
        let n = n.to_ascii_lowercase();
        let n = n.split(['?', '#']).next().unwrap_or_default().to_owned();
        n.rsplit(['/', '\\']).next().unwrap_or_default().to_owned()
    });
    if head.contains('\0') {
        return None;
    }
    if head.starts_with('{') || head.starts_with('[') {
        return detect_json(head, hint.as_deref());
    }
    let first_line = head
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    let unquoted: String = first_line.chars().filter(|&c| c != '"').collect();
    if unquoted.starts_with("uuid,event_id") {
        return Some(FeedFormat::MispCsv);
    }
    if looks_like_rpz(head) {
        return Some(FeedFormat::Rpz);
    }
    if head.is_empty() {
        return None;
    }
    if hint
        .as_deref()
        .is_some_and(|h| h.ends_with(".rpz") || h.ends_with(".zone") || h.starts_with("db."))
    {
        return Some(FeedFormat::Rpz);
    }
    Some(FeedFormat::List)
}

fn detect_json(head: &str, hint: Option<&str>) -> Option<FeedFormat> {
    if hint == Some("manifest.json") {
        return Some(FeedFormat::MispFeed);
    }
    let mut rest = head;
    // `[{"Event":...}, ...]` or an array of attributes.
    let in_array = rest.starts_with('[');
    if in_array {
        rest = rest[1..].trim_start();
        if !rest.starts_with('{') {
            return None;
        }
    }
    let (key, after) = first_key(rest)?;
    match key {
        "Event" => Some(FeedFormat::MispEvent),
        "response" => {
            let after = after.trim_start().strip_prefix(':')?.trim_start();
            if after.starts_with('{') {
                // `{"response":{"Attribute":[...]}}`
                Some(FeedFormat::MispAttributes)
            } else if let Some(list) = after.strip_prefix('[') {
                let list = list.trim_start();
                match first_key(list) {
                    Some(("Event", _)) => Some(FeedFormat::MispEvent),
                    Some(_) => Some(FeedFormat::MispAttributes),
                    None if list.starts_with(']') => Some(FeedFormat::MispAttributes),
                    None => None,
                }
            } else {
                None
            }
        }
        "Attribute" if !in_array => Some(FeedFormat::MispAttributes),
        k if !in_array && is_uuid(k) => Some(FeedFormat::MispFeed),
        _ if in_array && head.contains("\"type\"") && head.contains("\"value\"") => {
            Some(FeedFormat::MispAttributes)
        }
        // An event object without its wrapper.
        _ if head.contains("\"info\"")
            && (head.contains("\"Attribute\"") || head.contains("\"Object\"")) =>
        {
            Some(FeedFormat::MispEvent)
        }
        _ => None,
    }
}

/// The first key of a JSON object at the start of `text`, and what follows it.
fn first_key(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix('{')?.trim_start().strip_prefix('"')?;
    let end = rest.find('"')?;
    Some((&rest[..end], &rest[end + 1..]))
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

fn looks_like_rpz(head: &str) -> bool {
    head.lines().any(|line| {
        let line = line.split(';').next().unwrap_or_default();
        let upper = line.trim_start().to_ascii_uppercase();
        if upper.starts_with("$ORIGIN") || upper.starts_with("$TTL") {
            return true;
        }
        let tokens: Vec<&str> = upper.split_whitespace().collect();
        tokens.contains(&"SOA")
            || tokens.windows(2).any(|w| {
                w[0] == "CNAME" && (w[1] == "." || w[1] == "*." || w[1].starts_with("RPZ-"))
            })
            || tokens.first().is_some_and(|owner| {
                [".RPZ-IP", ".RPZ-NSIP", ".RPZ-NSDNAME", ".RPZ-CLIENT-IP"]
                    .iter()
                    .any(|label| owner.trim_end_matches('.').ends_with(label))
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: &[(&str, Option<&str>, Option<FeedFormat>)] = &[
            (
                r#"{"response":{"Attribute":[{"id":"1","Event":{"info":"x"}}"#,
                None,
                Some(FeedFormat::MispAttributes),
            ),
            (
                r#"{"Attribute": []}"#,
                None,
                Some(FeedFormat::MispAttributes),
            ),
            (
                r#"[{"type":"domain","value":"a.example"}]"#,
                None,
                Some(FeedFormat::MispAttributes),
            ),
            (
                r#"{"response":[{"Attribute":{}}]}"#,
                None,
                Some(FeedFormat::MispAttributes),
            ),
            (
                r#"{"response":[{"Event":{"id":"1"#,
                None,
                Some(FeedFormat::MispEvent),
            ),
            (
                " \u{feff}{\"Event\": {\"info\": \"x\"",
                None,
                Some(FeedFormat::MispEvent),
            ),
            (
                r#"[{"Event":{}}, {"Event":{}}]"#,
                None,
                Some(FeedFormat::MispEvent),
            ),
            (
                r#"{"id":"3","info":"x","Attribute":[]}"#,
                None,
                Some(FeedFormat::MispEvent),
            ),
            (
                r#"{"5a0d5bf4-99c8-4f15-9879-22b1950d210f": {"info": "x", "Orgc": {}}}"#,
                None,
                Some(FeedFormat::MispFeed),
            ),
            (
                "{}",
                Some("https://feed.example/misp/manifest.json"),
                Some(FeedFormat::MispFeed),
            ),
            (r#"{"other": 1}"#, None, None),
            (
                "uuid,event_id,category,type,value,comment,to_ids,date\n",
                None,
                Some(FeedFormat::MispCsv),
            ),
            (
                "\"uuid\",\"event_id\",\"category\"\n",
                None,
                Some(FeedFormat::MispCsv),
            ),
            (
                "$TTL 60\n@ SOA a. b. 1 2 3 4 5\n",
                None,
                Some(FeedFormat::Rpz),
            ),
            ("; rpz\nbad.example CNAME .\n", None, Some(FeedFormat::Rpz)),
            (
                "ok.example CNAME rpz-passthru.\n",
                None,
                Some(FeedFormat::Rpz),
            ),
            (
                "32.1.0.0.10.rpz-ip CNAME rpz-drop.\n",
                None,
                Some(FeedFormat::Rpz),
            ),
            (
                "bad.example A 192.0.2.1\n",
                Some("/etc/bind/db.rpz"),
                Some(FeedFormat::Rpz),
            ),
            ("evil.example\n192.0.2.1\n", None, Some(FeedFormat::List)),
            (
                "# hosts\n0.0.0.0 ads.example\n",
                Some("hosts"),
                Some(FeedFormat::List),
            ),
            ("", None, None),
            ("a\0b", None, None),
        ];
        for (head, hint, want) in cases {
            assert_eq!(detect(head, *hint), *want, "{head:?} {hint:?}");
        }
    }
}
