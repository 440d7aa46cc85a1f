//! Log outputs for pipelines built on passivedns: every answer seen, written as a
//! gamelinux/passivedns JSON line (`--log-json`) or a COF record (`--log-cof`).
//!
//! One line per answer record seen (`count` 1): passivedns's own de-duplication window is
//! not reproduced, so a line means "seen at this time", which every consumer of passivedns
//! logs (Splunk, ELK, dnsrecall ingest) sums correctly. Negative answers are written the
//! passivedns way (the rcode name as `answer`, TTL 0) in JSON, and left out of COF.
//! `reopen` (on SIGHUP) starts writing to a new file at the same path, for logrotate.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use dnsrecall_model::{Record, micros_to_secs};
use serde_json::json;

/// The two formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    PassivednsJson,
    Cof,
}

/// One output file.
#[derive(Debug)]
pub struct LogOutput {
    path: PathBuf,
    format: LogFormat,
    out: BufWriter<File>,
    pub lines: u64,
}

fn open(path: &Path) -> io::Result<BufWriter<File>> {
    let f = OpenOptions::new().create(true).append(true).open(path)?;
    Ok(BufWriter::with_capacity(256 * 1024, f))
}

impl LogOutput {
    /// Opens (appending to) the file.
    ///
    /// # Errors
    /// When the file cannot be opened for writing.
    pub fn open(path: &Path, format: LogFormat) -> io::Result<Self> {
        Ok(Self {
            path: path.to_owned(),
            format,
            out: open(path)?,
            lines: 0,
        })
    }

    /// Writes one record.
    ///
    /// # Errors
    /// On write failure.
    pub fn write(&mut self, r: &Record) -> io::Result<()> {
        let v = match (self.format, r) {
            (LogFormat::PassivednsJson, Record::Answer(o)) => json!({
                "timestamp_s": micros_to_secs(o.time),
                "timestamp_ms": o.time.rem_euclid(1_000_000),
                "client": o.client.map(|c| c.to_string()).unwrap_or_default(),
                "server": o.server.map(|c| c.to_string()).unwrap_or_default(),
                "class": class_name(o.class),
                "query": o.rrname.to_absolute(),
                "type": o.rrtype.to_string(),
                "answer": o.rdata.to_absolute(o.rrtype),
                "ttl": o.ttl.unwrap_or(0),
                "count": o.count,
            }),
            (LogFormat::PassivednsJson, Record::Negative(n)) => json!({
                "timestamp_s": micros_to_secs(n.time),
                "timestamp_ms": n.time.rem_euclid(1_000_000),
                "client": n.client.map(|c| c.to_string()).unwrap_or_default(),
                "server": n.server.map(|c| c.to_string()).unwrap_or_default(),
                "class": "IN",
                "query": n.qname.to_absolute(),
                "type": n.qtype.to_string(),
                "answer": if n.rcode.0 == 4 { "NOTIMPL".to_owned() } else { n.rcode.to_string() },
                "ttl": 0,
                "count": n.count,
            }),
            (LogFormat::Cof, Record::Answer(o)) => {
                let t = micros_to_secs(o.time);
                let mut v = json!({
                    "rrname": o.rrname.as_str(),
                    "rrtype": o.rrtype.to_string(),
                    "rdata": o.rdata.as_str(),
                    "time_first": t,
                    "time_last": t,
                    "count": o.count,
                });
                if let (Some(s), Some(obj)) = (&o.sensor_id, v.as_object_mut()) {
                    obj.insert("sensor_id".into(), json!(&**s));
                }
                v
            }
            (LogFormat::Cof, Record::Negative(_)) | (_, Record::Tuple(_)) => return Ok(()),
        };
        serde_json::to_writer(&mut self.out, &v)?;
        self.out.write_all(b"\n")?;
        self.lines += 1;
        Ok(())
    }

    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Pushes buffered lines to the file.
    ///
    /// # Errors
    /// On write failure.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flushes and reopens the path (after logrotate moved the file away).
    ///
    /// # Errors
    /// When the path cannot be opened again (the old file stays in use then).
    pub fn reopen(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.out = open(&self.path)?;
        Ok(())
    }
}

fn class_name(class: u16) -> String {
    match class {
        1 => "IN".into(),
        3 => "CH".into(),
        4 => "HS".into(),
        c => format!("CLASS{c}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dnsrecall_model::{Name, Observation, Rdata, RrType};

    #[test]
    fn passivedns_lines_read_back_and_reopen_follows_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passivedns.json");
        let mut log = LogOutput::open(&path, LogFormat::PassivednsJson).unwrap();
        let o = Observation {
            time: 1_553_714_372_268_056,
            sensor_id: None,
            client: Some("192.168.254.8".parse().unwrap()),
            server: Some("204.51.94.8".parse().unwrap()),
            rrname: Name::new("isc.sans.org").unwrap(),
            rrtype: RrType::A,
            class: 1,
            rdata: Rdata::new(RrType::A, "204.51.94.153").unwrap(),
            ttl: Some(10),
            count: 1,
        };
        log.write(&Record::Answer(o.clone())).unwrap();
        log.flush().unwrap();
        let line = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            line,
            "{\"answer\":\"204.51.94.153\",\"class\":\"IN\",\"client\":\"192.168.254.8\",\"count\":1,\
             \"query\":\"isc.sans.org.\",\"server\":\"204.51.94.8\",\"timestamp_ms\":268056,\
             \"timestamp_s\":1553714372,\"ttl\":10,\"type\":\"A\"}\n"
        );
        // The line is what `dnsrecall ingest` reads.
        let mut recs = Vec::new();
        dnsrecall_sources::parse_line(
            dnsrecall_sources::Format::PassivednsJson,
            line.trim_end().as_bytes(),
            &dnsrecall_sources::LineContext::default(),
            &mut recs,
        )
        .unwrap();
        assert_eq!(recs, vec![Record::Answer(o.clone())]);
        std::fs::rename(&path, dir.path().join("passivedns.json.1")).unwrap();
        log.reopen().unwrap();
        log.write(&Record::Answer(o)).unwrap();
        log.flush().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
    }
}
