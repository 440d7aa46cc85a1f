//! dnstap files: a unidirectional Frame Streams stream (`START`, data frames, `STOP`), as
//! written by `dnstap -w`, `fstrm_capture`, unbound and BIND's `dnstap-output file`.

use std::fs::File;
use std::io;
use std::ops::ControlFlow;
use std::path::Path;

use dnsrecall_model::Record;

use crate::listener::{Step, StreamSession};

/// How a file read ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileStats {
    pub bytes: u64,
    /// The file ends inside a frame (a capture still being written, or cut): what came
    /// before is kept.
    pub truncated: bool,
    /// The stream is malformed from here on (the reason); what came before is kept.
    pub failed: Option<&'static str>,
    /// A `STOP` frame ended the stream.
    pub stopped: bool,
}

/// Reads one dnstap file through `session` (made with `bidirectional: false`), handing
/// each batch of records to `sink`, which may stop the read.
///
/// # Errors
/// When the file cannot be opened or read.
pub fn read_file(
    path: &Path,
    session: &mut StreamSession,
    batch: usize,
    sink: &mut dyn FnMut(&mut Vec<Record>) -> ControlFlow<()>,
) -> io::Result<FileStats> {
    let mut file = File::open(path)?;
    let mut stats = FileStats::default();
    let mut records = Vec::new();
    let mut sink_out = io::sink();
    loop {
        let step = session.process(&mut records, &mut sink_out);
        if records.len() >= batch && sink(&mut records).is_break() {
            return Ok(stats);
        }
        match step {
            Step::Done => {
                stats.stopped = true;
                break;
            }
            Step::Failed(reason) => {
                session.decoder.counters_mut().anomaly(reason);
                stats.failed = Some(reason);
                break;
            }
            Step::More => {}
        }
        let n = session.frames.read_from(&mut file)?;
        if n == 0 {
            if session.frames.pending() > 0 {
                session.decoder.counters_mut().anomaly("truncated_frame");
                stats.truncated = true;
            }
            break;
        }
        stats.bytes += n as u64;
    }
    let _ = sink(&mut records);
    Ok(stats)
}
