//! Output formats for query answers: an aligned table, JSON, COF (NDJSON) and CSV.
//!
//! Table and JSON say when a limit cut the result (a closing line, a `truncated` field);
//! NDJSON and CSV have no place for it, so the caller says it on stderr.

use std::io::{self, Write};

use dnsrecall_store::{ClientRow, NegativeRow, TupleRow};
use serde_json::{Value, json};

use crate::TimeFormat;

/// The formats `--format` takes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Table,
    Json,
    Cof,
    Csv,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "table" => Ok(Self::Table),
            "json" => Ok(Self::Json),
            "cof" => Ok(Self::Cof),
            "csv" => Ok(Self::Csv),
            _ => Err(format!(
                "unknown format {s:?}: expected table, json, cof or csv"
            )),
        }
    }
}

/// A row any format can print.
pub trait OutputRow {
    /// Column names for table and CSV.
    fn headers() -> &'static [&'static str];
    /// Cells in header order.
    fn cells(&self, tf: &TimeFormat) -> Vec<String>;
    /// The JSON object (JSON output and, for tuples, COF).
    fn json(&self, tf: &TimeFormat) -> Value;
    /// The COF record, where the row is one.
    fn cof(&self) -> Option<Value> {
        None
    }
}

/// What every row kind shares: when it was seen first and last, how often, by which sensors.
struct History<'a> {
    time_first: i64,
    time_last: i64,
    count: u64,
    sensors: &'a [std::sync::Arc<str>],
}

impl History<'_> {
    /// The identity cells, then the history cells.
    fn cells(&self, identity: [String; 3], tf: &TimeFormat) -> Vec<String> {
        let mut v = identity.to_vec();
        v.extend([
            tf.format(self.time_first),
            tf.format(self.time_last),
            self.count.to_string(),
            self.sensors
                .iter()
                .map(|x| &**x)
                .collect::<Vec<_>>()
                .join(" "),
        ]);
        v
    }

    /// The identity object with the history fields added.
    fn json(&self, mut identity: Value, tf: &TimeFormat) -> Value {
        if let Some(obj) = identity.as_object_mut() {
            obj.insert("time_first".into(), json!(self.time_first));
            obj.insert("time_last".into(), json!(self.time_last));
            obj.insert("first_seen".into(), json!(tf.format(self.time_first)));
            obj.insert("last_seen".into(), json!(tf.format(self.time_last)));
            obj.insert("count".into(), json!(self.count));
            obj.insert(
                "sensors".into(),
                json!(self.sensors.iter().map(|s| &**s).collect::<Vec<_>>()),
            );
        }
        identity
    }
}

macro_rules! history {
    ($row:expr) => {
        History {
            time_first: $row.time_first,
            time_last: $row.time_last,
            count: $row.count,
            sensors: &$row.sensors,
        }
    };
}

const TUPLE_HEADERS: [&str; 7] = [
    "rrname",
    "rrtype",
    "rdata",
    "first_seen",
    "last_seen",
    "count",
    "sensors",
];
const CLIENT_HEADERS: [&str; 7] = [
    "client",
    "query",
    "qtype",
    "first_seen",
    "last_seen",
    "count",
    "sensors",
];
const NEGATIVE_HEADERS: [&str; 7] = [
    "qname",
    "qtype",
    "rcode",
    "first_seen",
    "last_seen",
    "count",
    "sensors",
];

impl OutputRow for TupleRow {
    fn headers() -> &'static [&'static str] {
        &TUPLE_HEADERS
    }
    fn cells(&self, tf: &TimeFormat) -> Vec<String> {
        let id = [
            self.rrname.to_string(),
            self.rrtype.to_string(),
            self.rdata.clone(),
        ];
        history!(self).cells(id, tf)
    }
    fn json(&self, tf: &TimeFormat) -> Value {
        let id = json!({
            "rrname": self.rrname.as_str(),
            "rrtype": self.rrtype.to_string(),
            "rdata": self.rdata,
            "ttl": self.ttl,
        });
        history!(self).json(id, tf)
    }
    fn cof(&self) -> Option<Value> {
        let mut v = json!({
            "rrname": self.rrname.as_str(),
            "rrtype": self.rrtype.to_string(),
            "rdata": self.rdata,
            "time_first": self.time_first,
            "time_last": self.time_last,
            "count": self.count,
        });
        if let (Some(first), Some(obj)) = (self.sensors.first(), v.as_object_mut()) {
            obj.insert("sensor_id".into(), Value::String(first.to_string()));
        }
        Some(v)
    }
}

impl OutputRow for ClientRow {
    fn headers() -> &'static [&'static str] {
        &CLIENT_HEADERS
    }
    fn cells(&self, tf: &TimeFormat) -> Vec<String> {
        let id = [
            self.client.to_string(),
            self.qname.to_string(),
            self.qtype.to_string(),
        ];
        history!(self).cells(id, tf)
    }
    fn json(&self, tf: &TimeFormat) -> Value {
        let id = json!({
            "client": self.client.to_string(),
            "query": self.qname.as_str(),
            "qtype": self.qtype.to_string(),
        });
        history!(self).json(id, tf)
    }
}

impl OutputRow for NegativeRow {
    fn headers() -> &'static [&'static str] {
        &NEGATIVE_HEADERS
    }
    fn cells(&self, tf: &TimeFormat) -> Vec<String> {
        let id = [
            self.qname.to_string(),
            self.qtype.to_string(),
            self.rcode.to_string(),
        ];
        history!(self).cells(id, tf)
    }
    fn json(&self, tf: &TimeFormat) -> Value {
        let id = json!({
            "qname": self.qname.as_str(),
            "qtype": self.qtype.to_string(),
            "rcode": self.rcode.to_string(),
        });
        history!(self).json(id, tf)
    }
}

/// How a result was cut, for the closing line or field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cut {
    pub truncated: bool,
    pub offset: usize,
    pub limit: usize,
}

/// Writes rows in a format. Returns whether the caller still has to report a cut (the
/// format had no place for it).
///
/// # Errors
/// On write failure (a closed pipe included).
pub fn write_rows<R: OutputRow>(
    out: &mut dyn Write,
    format: Format,
    rows: &[R],
    tf: &TimeFormat,
    cut: Cut,
) -> io::Result<bool> {
    match format {
        Format::Table => {
            write_table(
                out,
                R::headers(),
                rows.iter().map(|r| r.cells(tf)).collect(),
            )?;
            if cut.truncated {
                writeln!(
                    out,
                    "-- {} rows shown; more match: the result was cut at --limit {} \
                     (next page: --offset {})",
                    rows.len(),
                    cut.limit,
                    cut.offset + rows.len()
                )?;
            }
            Ok(false)
        }
        Format::Json => {
            let doc = json!({
                "results": rows.iter().map(|r| r.json(tf)).collect::<Vec<_>>(),
                "count": rows.len(),
                "offset": cut.offset,
                "limit": cut.limit,
                "truncated": cut.truncated,
            });
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            writeln!(out)?;
            Ok(false)
        }
        Format::Cof => {
            for r in rows {
                let v = r.cof().unwrap_or_else(|| r.json(tf));
                serde_json::to_writer(&mut *out, &v)?;
                writeln!(out)?;
            }
            Ok(cut.truncated)
        }
        Format::Csv => {
            writeln!(out, "{}", R::headers().join(","))?;
            for r in rows {
                let cells: Vec<String> = r.cells(tf).iter().map(|c| csv_cell(c)).collect();
                writeln!(out, "{}", cells.join(","))?;
            }
            Ok(cut.truncated)
        }
    }
}

fn write_table(out: &mut dyn Write, headers: &[&str], rows: Vec<Vec<String>>) -> io::Result<()> {
    // The sensors column is shown only when some row has one.
    let show = if rows.iter().any(|r| r.last().is_some_and(|s| !s.is_empty())) {
        headers.len()
    } else {
        headers.len() - 1
    };
    let mut widths: Vec<usize> = headers[..show].iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count().min(80));
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == show {
                s.push_str(c);
            } else {
                s.push_str(c);
                let pad = w.saturating_sub(c.chars().count()) + 2;
                s.extend(std::iter::repeat_n(' ', pad));
            }
        }
        s.trim_end().to_owned()
    };
    writeln!(out, "{}", line(headers[..show].to_vec()))?;
    for r in &rows {
        writeln!(
            out,
            "{}",
            line(r[..show].iter().map(String::as_str).collect())
        )?;
    }
    Ok(())
}

/// One CSV cell (RFC 4180 quoting). A cell that a spreadsheet would run as a formula
/// (starting with = + - @) gets a leading apostrophe: record data comes from attackers.
fn csv_cell(c: &str) -> String {
    let c = if c.starts_with(['=', '+', '-', '@']) {
        format!("'{c}")
    } else {
        c.to_owned()
    };
    if c.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", c.replace('"', "\"\""))
    } else {
        c
    }
}

/// The store's statistics as JSON (`stats --json`, `/api/v1/stats`).
#[must_use]
pub fn stats_json(s: &dnsrecall_store::StoreStats) -> Value {
    json!({
        "path": s.path,
        "bytes": s.bytes,
        "schema_version": s.schema_version,
        "tuples": s.tuples,
        "names": s.names,
        "negatives": s.negatives,
        "clients": s.clients,
        "bytes_per_tuple": if s.tuples > 0 { s.bytes as f64 / s.tuples as f64 } else { 0.0 },
        "by_type": s.by_type.iter().map(|(t, n)| (t.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "time_first": s.time_first,
        "time_last": s.time_last,
        "sensors": s.sensors.iter().map(|x| &**x).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dnsrecall_model::{Name, RrType};

    fn row() -> TupleRow {
        TupleRow {
            rrname: Name::new("isc.sans.org").unwrap(),
            rrtype: RrType::A,
            rdata: "204.51.94.153".into(),
            time_first: 1_553_714_372,
            time_last: 1_553_714_372,
            count: 1,
            ttl: Some(10),
            sensors: vec![],
        }
    }

    fn render(format: Format, truncated: bool) -> (String, bool) {
        let mut buf = Vec::new();
        let cut = Cut {
            truncated,
            offset: 0,
            limit: 1,
        };
        let pending = write_rows(&mut buf, format, &[row()], &TimeFormat::default(), cut).unwrap();
        (String::from_utf8(buf).unwrap(), pending)
    }

    #[test]
    fn formats() {
        let (table, _) = render(Format::Table, true);
        assert_eq!(
            table.lines().next().unwrap(),
            "rrname        rrtype  rdata          first_seen            last_seen             count"
        );
        assert!(table.contains("2019-03-27T19:19:32Z"));
        assert!(table.lines().last().unwrap().contains("cut at --limit 1"));
        let (json, pending) = render(Format::Json, true);
        let v: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["truncated"], true);
        assert_eq!(v["results"][0]["first_seen"], "2019-03-27T19:19:32Z");
        assert!(!pending);
        let (cof, pending) = render(Format::Cof, true);
        assert!(pending);
        let v: Value = serde_json::from_str(cof.trim()).unwrap();
        assert_eq!(v["rrname"], "isc.sans.org");
        assert_eq!(v["time_first"], 1_553_714_372);
        let (csv, _) = render(Format::Csv, false);
        assert_eq!(
            csv.lines().nth(1).unwrap(),
            "isc.sans.org,A,204.51.94.153,2019-03-27T19:19:32Z,2019-03-27T19:19:32Z,1,"
        );
    }

    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("\"txt\""), "\"\"\"txt\"\"\"");
        assert_eq!(csv_cell("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
    }
}
