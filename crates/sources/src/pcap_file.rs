//! Capture files: legacy pcap (micro- and nanosecond) and pcapng (several interfaces, each
//! with its own link type and time resolution), plain or gzipped, read as a stream with a
//! bounded buffer.

use std::fs::File;
use std::io::{BufReader, Read};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;
use pcap_parser::pcapng::Block;
use pcap_parser::{PcapBlockOwned, PcapError, create_reader};

/// Read buffer of the capture parser; it grows for larger blocks up to [`MAX_BLOCK_LEN`].
const BUFFER_LEN: usize = 1 << 20;
/// Largest capture block accepted (a frame plus its framing).
pub const MAX_BLOCK_LEN: usize = 16 << 20;

/// One captured frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The pcap LINKTYPE_* number of the frame's interface.
    pub link: u32,
    /// Capture time, microseconds since the epoch.
    pub ts_us: i64,
    /// The captured bytes (possibly cut by the snap length).
    pub data: &'a [u8],
    /// The frame's length on the wire.
    pub orig_len: u32,
}

/// What reading a capture file met.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaptureStats {
    pub frames: u64,
    pub bytes: u64,
    /// pcapng packets naming an interface that was never described.
    pub unknown_interface: u64,
    /// The file ended inside a block (a capture cut short): what came before is kept.
    pub truncated: bool,
}

/// Why a capture file could not be read (to its end).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    #[error("{path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a pcap or pcapng file")]
    NotACapture { path: PathBuf },
    #[error("{path}: damaged capture after {frames} frames: {what}")]
    Damaged {
        path: PathBuf,
        frames: u64,
        what: String,
    },
}

struct Interface {
    link: u32,
    resolution: u64,
    offset_secs: i64,
}

fn open(path: &Path) -> Result<Box<dyn Read + Send>, CaptureError> {
    let open_err = |source| CaptureError::Open {
        path: path.to_owned(),
        source,
    };
    let mut file = BufReader::new(File::open(path).map_err(open_err)?);
    let head = std::io::BufRead::fill_buf(&mut file).map_err(open_err)?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(MultiGzDecoder::new(file)))
    } else {
        Ok(Box::new(file))
    }
}

fn ng_time(ts_high: u32, ts_low: u32, iface: &Interface) -> i64 {
    let ticks = (u128::from(ts_high) << 32) | u128::from(ts_low);
    let res = u128::from(iface.resolution.max(1));
    let secs = i64::try_from(ticks / res).unwrap_or(i64::MAX / 2_000_000);
    let micros = i64::try_from((ticks % res) * 1_000_000 / res).unwrap_or(0);
    secs.saturating_add(iface.offset_secs)
        .saturating_mul(1_000_000)
        .saturating_add(micros)
}

/// Reads every frame of a capture file, in order, handing each to `f` until it breaks.
///
/// # Errors
/// When the file cannot be opened, is not a capture, or is damaged (frames before the
/// damage have been handed over). A file that just ends inside a block is not an error:
/// [`CaptureStats::truncated`] says so.
pub fn read_frames(
    path: &Path,
    mut f: impl FnMut(Frame<'_>) -> ControlFlow<()>,
) -> Result<CaptureStats, CaptureError> {
    let input = open(path)?;
    let mut stats = CaptureStats::default();
    let mut reader = match create_reader(BUFFER_LEN, input) {
        Ok(r) => r,
        Err(PcapError::Eof) => return Ok(stats),
        Err(_) => {
            return Err(CaptureError::NotACapture {
                path: path.to_owned(),
            });
        }
    };
    let damaged = |stats: &CaptureStats, what: String| CaptureError::Damaged {
        path: path.to_owned(),
        frames: stats.frames,
        what,
    };
    let mut legacy = Interface {
        link: 1,
        resolution: 1_000_000,
        offset_secs: 0,
    };
    let mut interfaces: Vec<Interface> = Vec::new();
    let mut buffer_len = BUFFER_LEN;
    loop {
        let mut flow = ControlFlow::Continue(());
        match reader.next() {
            Ok((offset, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        legacy.link = u32::try_from(h.network.0).unwrap_or(u32::MAX);
                        legacy.resolution = if h.is_nanosecond_precision() {
                            1_000_000_000
                        } else {
                            1_000_000
                        };
                    }
                    PcapBlockOwned::Legacy(b) => {
                        let frac = u64::from(b.ts_usec) * 1_000_000 / legacy.resolution;
                        let ts_us =
                            i64::from(b.ts_sec) * 1_000_000 + i64::try_from(frac).unwrap_or(0);
                        let len = usize::try_from(b.caplen)
                            .unwrap_or(usize::MAX)
                            .min(b.data.len());
                        let data = b.data.get(..len).unwrap_or_default();
                        stats.frames += 1;
                        stats.bytes += data.len() as u64;
                        flow = f(Frame {
                            link: legacy.link,
                            ts_us,
                            data,
                            orig_len: b.origlen,
                        });
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => interfaces.clear(),
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        interfaces.push(Interface {
                            link: u32::try_from(idb.linktype.0).unwrap_or(u32::MAX),
                            resolution: idb.ts_resolution().unwrap_or(1_000_000),
                            offset_secs: idb.ts_offset(),
                        });
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        match interfaces.get(usize::try_from(epb.if_id).unwrap_or(usize::MAX)) {
                            Some(iface) => {
                                let len = usize::try_from(epb.caplen)
                                    .unwrap_or(usize::MAX)
                                    .min(epb.data.len());
                                let data = epb.data.get(..len).unwrap_or_default();
                                let ts_us = ng_time(epb.ts_high, epb.ts_low, iface);
                                stats.frames += 1;
                                stats.bytes += data.len() as u64;
                                flow = f(Frame {
                                    link: iface.link,
                                    ts_us,
                                    data,
                                    orig_len: epb.origlen,
                                });
                            }
                            None => stats.unknown_interface += 1,
                        }
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => match interfaces.first() {
                        Some(iface) => {
                            let len = usize::try_from(spb.origlen)
                                .unwrap_or(usize::MAX)
                                .min(spb.data.len());
                            let data = spb.data.get(..len).unwrap_or_default();
                            stats.frames += 1;
                            stats.bytes += data.len() as u64;
                            // Simple packets carry no time.
                            flow = f(Frame {
                                link: iface.link,
                                ts_us: 0,
                                data,
                                orig_len: spb.origlen,
                            });
                        }
                        None => stats.unknown_interface += 1,
                    },
                    PcapBlockOwned::NG(_) => {}
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                if reader.reader_exhausted() {
                    stats.truncated = stats.truncated || !reader.data().is_empty();
                    break;
                }
                if let Err(e) = reader.refill() {
                    return Err(damaged(&stats, format!("{e:?}")));
                }
            }
            Err(PcapError::BufferTooSmall) => {
                if buffer_len >= MAX_BLOCK_LEN {
                    return Err(damaged(
                        &stats,
                        format!("a block over {MAX_BLOCK_LEN} bytes"),
                    ));
                }
                buffer_len *= 2;
                reader.grow(buffer_len);
                if let Err(e) = reader.refill() {
                    return Err(damaged(&stats, format!("{e:?}")));
                }
            }
            Err(PcapError::UnexpectedEof) => {
                stats.truncated = true;
                break;
            }
            Err(e) => return Err(damaged(&stats, format!("{e:?}"))),
        }
        if flow.is_break() {
            break;
        }
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus_pcaps() -> Vec<PathBuf> {
        let dir = std::env::var_os("DNSRECALL_CORPUS")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"))
            .join("pcap");
        let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn reads_every_corpus_capture_with_plausible_times() {
        let pcaps = corpus_pcaps();
        assert!(pcaps.len() >= 60, "{} captures", pcaps.len());
        for p in pcaps {
            let mut times = Vec::new();
            let stats = read_frames(&p, |fr| {
                times.push(fr.ts_us);
                ControlFlow::Continue(())
            })
            .unwrap_or_else(|e| panic!("{e}"));
            assert!(stats.frames > 0, "{}", p.display());
            // Every corpus capture is from 2000..2030.
            assert!(
                times
                    .iter()
                    .all(|t| (946_684_800_000_000..1_893_456_000_000_000).contains(t) || *t == 0),
                "{}: {:?}",
                p.display(),
                times.first()
            );
        }
    }

    #[test]
    fn gzipped_truncated_and_garbage_files() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let src = corpus_pcaps().into_iter().next().unwrap();
        let bytes = std::fs::read(&src).unwrap();
        let count = |p: &Path| read_frames(p, |_| ControlFlow::Continue(()));
        let plain = count(&src).unwrap();

        let gz = dir.path().join("x.pcap.gz");
        let mut enc =
            flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::fast());
        enc.write_all(&bytes).unwrap();
        enc.finish().unwrap();
        assert_eq!(count(&gz).unwrap(), plain);

        let cut = dir.path().join("cut.pcap");
        std::fs::write(&cut, &bytes[..bytes.len() - 7]).unwrap();
        let s = count(&cut).unwrap();
        assert!(
            s.truncated && s.frames == plain.frames - 1,
            "{s:?} vs {plain:?}"
        );

        let junk = dir.path().join("junk.pcap");
        std::fs::write(
            &junk,
            b"this is not a capture file at all, just some text\n",
        )
        .unwrap();
        assert!(matches!(
            count(&junk),
            Err(CaptureError::NotACapture { .. })
        ));
        let empty = dir.path().join("empty.pcap");
        std::fs::write(&empty, b"").unwrap();
        assert_eq!(count(&empty).unwrap().frames, 0);
    }
}
