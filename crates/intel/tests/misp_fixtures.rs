//! Real MISP data: PyMISP's OSINT test events, turned by `fixtures/make_misp_fixtures.py`
//! (PyMISP itself, `to_feed` for the feed) into every MISP form dnsrecall reads, must parse
//! to exactly the indicators the script expects, with their metadata.
//!
//! Needs the venv with pymisp and PyMISP's unpacked sdist that `scripts/install-deps.sh`
//! installs (`/opt/dnsrecall/pyenv`, `/opt/dnsrecall/pymisp-src`, or `$DNSRECALL_PYENV`,
//! `$DNSRECALL_PYMISP_SRC`): the test fails, not skips, without them.

use std::path::{Path, PathBuf};
use std::process::Command;

use dnsrecall_intel::{FeedFormat, Ioc, Parsed, Target, detect, parse, parse_manifest};
use serde_json::Value;

/// The OSINT events used, under the sdist's `tests/`.
const EVENT_FILES: &[&str] = &[
    "reportlab_testfiles/long_event.json",
    "reportlab_testfiles/to_delete1.json",
    "reportlab_testfiles/to_delete2.json",
    "reportlab_testfiles/to_delete3.json",
    "reportlab_testfiles/sighting_1.json",
    "reportlab_testfiles/HTML_event.json",
    "mispevent_testfiles/existing_event.json",
];

const HOW_TO_INSTALL: &str = "run scripts/install-deps.sh (as root) to install pymisp into \
     the venv and unpack the pymisp sdist";

struct Fixtures {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    expected: Value,
}

fn env_path(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from)
}

/// Runs the fixture script into a new temporary directory.
fn fixtures() -> Fixtures {
    let python = env_path("DNSRECALL_PYENV", "/opt/dnsrecall/pyenv").join("bin/python");
    let src = env_path("DNSRECALL_PYMISP_SRC", "/opt/dnsrecall/pymisp-src");
    assert!(
        python.exists(),
        "no python venv at {}: {HOW_TO_INSTALL}",
        python.display()
    );
    let probe = Command::new(&python)
        .args(["-c", "import pymisp"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    assert!(
        probe.status.success(),
        "pymisp is not installed in {}: {HOW_TO_INSTALL}\n{}",
        python.display(),
        String::from_utf8_lossy(&probe.stderr)
    );
    let files: Vec<PathBuf> = EVENT_FILES
        .iter()
        .map(|f| src.join("tests").join(f))
        .collect();
    for f in &files {
        assert!(
            f.exists(),
            "missing PyMISP OSINT event {}: {HOW_TO_INSTALL}",
            f.display()
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_owned();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/make_misp_fixtures.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(&dir)
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} failed:\n{}{}",
        script.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    Fixtures {
        _tmp: tmp,
        dir,
        expected,
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What one indicator is compared by: kind, value and the metadata the form carries.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    kind: String,
    value: String,
    event: Option<String>,
    event_info: Option<String>,
    category: Option<String>,
    source_type: Option<String>,
    to_ids: bool,
    tags: Vec<String>,
    timestamp: Option<i64>,
}

fn key_of(ioc: &Ioc, with_meta: bool) -> Key {
    let (kind, value) = match &ioc.target {
        Target::Domain { name, exact } => {
            assert!(!exact, "MISP domains match subdomains too: {ioc:?}");
            ("domain", name.as_str().to_owned())
        }
        Target::Addresses { lo, hi } => ("addresses", format!("{lo}-{hi}")),
        other => panic!("a MISP attribute gave {other:?}"),
    };
    let m = &ioc.meta;
    let mut tags = m.tags.clone();
    tags.sort();
    tags.dedup();
    let key = Key {
        kind: kind.to_owned(),
        value,
        event: None,
        event_info: None,
        category: None,
        source_type: None,
        to_ids: false,
        tags: Vec::new(),
        timestamp: None,
    };
    if !with_meta {
        return key;
    }
    Key {
        event: m.event.clone(),
        event_info: m.event_info.clone(),
        category: m.category.clone(),
        source_type: m.source_type.clone(),
        to_ids: m.to_ids,
        tags,
        timestamp: m.timestamp,
        ..key
    }
}

fn expected_key(v: &Value) -> Key {
    let s = |k: &str| v[k].as_str().map(str::to_owned);
    Key {
        kind: s("kind").unwrap(),
        value: s("value").unwrap(),
        event: s("event"),
        event_info: s("event_info"),
        category: s("category"),
        source_type: s("type"),
        to_ids: v["to_ids"].as_bool().unwrap(),
        tags: v["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_owned())
            .collect(),
        timestamp: v["timestamp"].as_i64(),
    }
}

/// Checks a form's indicators (as a multiset), bad and ignored counts against expected.json.
fn check(f: &Fixtures, form: &str, parsed: &Parsed, with_meta: bool) {
    let expected = &f.expected["forms"][form];
    let mut want: Vec<Key> = expected["iocs"]
        .as_array()
        .unwrap()
        .iter()
        .map(expected_key)
        .collect();
    let mut got: Vec<Key> = parsed.iocs.iter().map(|i| key_of(i, with_meta)).collect();
    want.sort();
    got.sort();
    if got != want {
        let missing: Vec<&Key> = want.iter().filter(|k| !got.contains(k)).collect();
        let extra: Vec<&Key> = got.iter().filter(|k| !want.contains(k)).collect();
        panic!(
            "{form}: {} indicators, {} expected\nmissing: {missing:#?}\nextra: {extra:#?}",
            got.len(),
            want.len()
        );
    }
    assert_eq!(
        parsed.bad.len() as u64,
        expected["bad"].as_u64().unwrap(),
        "{form}: bad entries {:#?}",
        parsed.bad
    );
    assert_eq!(
        parsed.ignored,
        expected["ignored"].as_u64().unwrap(),
        "{form}: ignored"
    );
    assert!(
        !want.is_empty(),
        "{form}: the fixtures expect no indicator at all"
    );
}

/// Each indicator's `line N` place is the line its value is written on (the CSV export has
/// comments across lines, so a miscount shows).
fn assert_lines_hold_values(text: &str, parsed: &Parsed) {
    let lines: Vec<&str> = text.lines().collect();
    for ioc in &parsed.iocs {
        let n: usize = ioc
            .meta
            .place
            .strip_prefix("line ")
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            lines[n - 1].contains(ioc.meta.original.as_str()),
            "{}: {:?} is not on that line: {:?}",
            ioc.meta.place,
            ioc.meta.original,
            lines[n - 1]
        );
    }
}

fn merge(into: &mut Parsed, from: Parsed) {
    into.iocs.extend(from.iocs);
    into.bad.extend(from.bad);
    into.ignored += from.ignored;
}

fn detected(path: &Path) -> Option<FeedFormat> {
    let text = read(path);
    let end = text.len().min(4096);
    let mut cut = end;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    detect(&text[..cut], path.file_name().and_then(|n| n.to_str()))
}

#[test]
fn event_json_files_and_list() {
    let f = fixtures();
    let form = &f.expected["forms"]["event"];
    let mut all = Parsed::default();
    for file in form["files"].as_array().unwrap() {
        let path = f.dir.join(file.as_str().unwrap());
        assert_eq!(
            detected(&path),
            Some(FeedFormat::MispEvent),
            "{}",
            path.display()
        );
        merge(
            &mut all,
            parse(FeedFormat::MispEvent, &read(&path), None).unwrap(),
        );
    }
    check(&f, "event", &all, true);
    let list = f.dir.join(form["list"].as_str().unwrap());
    assert_eq!(detected(&list), Some(FeedFormat::MispEvent));
    let parsed = parse(FeedFormat::MispEvent, &read(&list), None).unwrap();
    check(&f, "event", &parsed, true);
    assert!(
        parsed
            .iocs
            .iter()
            .all(|i| i.meta.place.starts_with("Event["))
    );
}

#[test]
fn attributes_rest_search() {
    let f = fixtures();
    let path = f.dir.join("attributes.json");
    assert_eq!(detected(&path), Some(FeedFormat::MispAttributes));
    let parsed = parse(FeedFormat::MispAttributes, &read(&path), None).unwrap();
    check(&f, "attributes", &parsed, true);
}

#[test]
fn feed_made_by_pymisp() {
    let f = fixtures();
    let manifest_path = f.dir.join("feed/manifest.json");
    assert_eq!(detected(&manifest_path), Some(FeedFormat::MispFeed));
    let manifest_text = read(&manifest_path);
    assert!(parse(FeedFormat::MispFeed, &manifest_text, None).is_err());
    let manifest = parse_manifest(&manifest_text).unwrap();
    let mut want: Vec<(String, String, Vec<String>)> = f.expected["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["uuid"].as_str().unwrap().to_owned(),
                e["info"].as_str().unwrap().to_owned(),
                e["tags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t.as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect();
    want.sort();
    let got: Vec<(String, String, Vec<String>)> = manifest
        .iter()
        .map(|e| (e.uuid.clone(), e.info.clone().unwrap(), e.tags.clone()))
        .collect();
    assert_eq!(got, want);
    assert!(
        manifest
            .iter()
            .all(|e| e.timestamp.is_some() && e.org.is_some())
    );
    let mut all = Parsed::default();
    for event in &manifest {
        let path = f.dir.join("feed").join(format!("{}.json", event.uuid));
        assert_eq!(detected(&path), Some(FeedFormat::MispEvent));
        let parsed = parse(FeedFormat::MispEvent, &read(&path), None).unwrap();
        assert!(
            parsed
                .iocs
                .iter()
                .all(|i| i.meta.event.as_deref() == Some(event.uuid.as_str())),
            "feed events are named by their uuid"
        );
        merge(&mut all, parsed);
    }
    check(&f, "feed", &all, true);
}

#[test]
fn csv_export() {
    let f = fixtures();
    let path = f.dir.join("export.csv");
    assert_eq!(detected(&path), Some(FeedFormat::MispCsv));
    let text = read(&path);
    let parsed = parse(FeedFormat::MispCsv, &text, None).unwrap();
    check(&f, "csv", &parsed, true);
    assert_lines_hold_values(&text, &parsed);
}

#[test]
fn text_export() {
    let f = fixtures();
    let path = f.dir.join("export.txt");
    assert_eq!(detected(&path), Some(FeedFormat::List));
    let text = read(&path);
    for format in [FeedFormat::MispText, FeedFormat::List] {
        let parsed = parse(format, &text, None).unwrap();
        check(&f, "text", &parsed, false);
        assert_lines_hold_values(&text, &parsed);
    }
}

#[test]
fn forms_agree() {
    // Every form that has the attribute types gives the same indicator set.
    let f = fixtures();
    let forms = &f.expected["forms"];
    let set = |form: &str| {
        let mut v: Vec<(String, String)> = forms[form]["iocs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["kind"].as_str().unwrap().to_owned(),
                    i["value"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let event = set("event");
    for form in ["attributes", "feed", "csv"] {
        assert_eq!(set(form), event, "{form}");
    }
    // The text export only has the single-value network types.
    assert!(set("text").iter().all(|k| event.contains(k)));
}
