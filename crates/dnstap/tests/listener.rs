//! The listener with several senders at once: good ones deliver every record while
//! others disconnect mid-frame, send an over-long frame or the wrong content type.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dnsrecall_dnstap::fstrm::{
    CONTENT_TYPE_DNSTAP, Control, ControlType, FrameWriter, sender_handshake, sender_stop,
};
use dnsrecall_dnstap::testing::client_response;
use dnsrecall_dnstap::{ListenAddr, ListenOptions, Listener, StreamSession, Totals};
use dnsrecall_model::Record;
use proptest::prelude::*;

#[test]
fn concurrent_senders_and_hostile_ones() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("tap.sock");
    let opts = ListenOptions {
        max_frame_len: 4096,
        ..ListenOptions::default()
    };
    let listener = Listener::bind(
        &[
            ListenAddr::Unix(sock.clone()),
            ListenAddr::Tcp("127.0.0.1:0".parse().unwrap()),
        ],
        &opts,
    )
    .unwrap();
    let tcp = match &listener.local_addrs()[1] {
        ListenAddr::Tcp(a) => *a,
        ListenAddr::Unix(_) => unreachable!(),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let totals = Arc::new(Mutex::new(Totals::default()));
    let (tx, rx) = sync_channel::<Vec<Record>>(16);
    let handle = listener
        .spawn(opts, stop.clone(), tx, totals.clone())
        .unwrap();
    let collector = std::thread::spawn(move || rx.iter().flatten().count());

    const PER_SENDER: usize = 2000;
    let mut senders = Vec::new();
    for i in 0..4u8 {
        let sock = sock.clone();
        senders.push(std::thread::spawn(move || {
            let send = |s: &mut dyn FnMut(&[u8])| {
                for n in 0..PER_SENDER {
                    s(&client_response(
                        &format!("n{n}.s{i}.example"),
                        [192, 0, 2, i],
                        1_700_000_000,
                        "t",
                    ));
                }
            };
            if i % 2 == 0 {
                let mut s = UnixStream::connect(&sock).unwrap();
                sender_handshake(&mut s).unwrap();
                send(&mut |f| FrameWriter::new(&mut s).data(f).unwrap());
                sender_stop(&mut s).unwrap();
            } else {
                let mut s = std::net::TcpStream::connect(tcp).unwrap();
                sender_handshake(&mut s).unwrap();
                send(&mut |f| FrameWriter::new(&mut s).data(f).unwrap());
                sender_stop(&mut s).unwrap();
            }
        }));
    }
    // Hostile: half a frame then gone; an over-long frame; the wrong content type.
    let mut cut = UnixStream::connect(&sock).unwrap();
    sender_handshake(&mut cut).unwrap();
    let f = client_response("cut.example", [1, 1, 1, 1], 1, "t");
    cut.write_all(&u32::try_from(f.len()).unwrap().to_be_bytes())
        .unwrap();
    cut.write_all(&f[..5]).unwrap();
    drop(cut);
    let mut long = UnixStream::connect(&sock).unwrap();
    sender_handshake(&mut long).unwrap();
    long.write_all(&100_000u32.to_be_bytes()).unwrap();
    let mut wrong = UnixStream::connect(&sock).unwrap();
    wrong
        .write_all(&Control::new(ControlType::READY, Some(b"protobuf:other")).encode())
        .unwrap();
    for s in senders {
        s.join().unwrap();
    }
    // A unidirectional sender (START without READY) is served too.
    let mut uni = UnixStream::connect(&sock).unwrap();
    let mut w = FrameWriter::new(&mut uni);
    w.control(ControlType::START, Some(CONTENT_TYPE_DNSTAP))
        .unwrap();
    w.data(&client_response("uni.example", [2, 2, 2, 2], 1, "t"))
        .unwrap();
    drop(uni);
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    handle.join().unwrap();
    let records = collector.join().unwrap();
    assert_eq!(records, 4 * PER_SENDER + 1);
    let t = totals.lock().unwrap();
    assert_eq!(t.dnstap.connections, 8);
    assert_eq!(t.dnstap.connections_failed, 2, "{:?}", t.dnstap);
    assert_eq!(t.dnstap.anomalies["truncated_frame"], 1, "{:?}", t.dnstap);
    assert_eq!(t.dnstap.anomalies["frame_too_long"], 1);
    assert_eq!(t.dnstap.anomalies["content_type_mismatch"], 1);
    assert_eq!(
        t.dnstap.by_type["CLIENT_RESPONSE"],
        4 * PER_SENDER as u64 + 1
    );
    assert_eq!(t.wire.answers, 4 * PER_SENDER as u64 + 1);
    drop(t);
    assert!(
        !sock.exists(),
        "the socket is removed when the listener ends"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    /// Any bytes, in any chunking, never panic and never grow the buffer past a frame.
    #[test]
    fn hostile_streams(bytes in proptest::collection::vec(any::<u8>(), 0..600), chunk in 1usize..64) {
        let mut s = StreamSession::new(256, None, true);
        let mut out = Vec::new();
        let mut reply = Vec::new();
        for c in bytes.chunks(chunk) {
            s.frames.push(c);
            if s.process(&mut out, &mut reply) != dnsrecall_dnstap::Step::More {
                break;
            }
            prop_assert!(s.frames.pending() <= 256 + 8 + 64);
        }
    }
}

#[test]
fn files_whole_cut_and_malformed() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = FrameWriter::new(Vec::new());
    w.control(ControlType::START, Some(CONTENT_TYPE_DNSTAP))
        .unwrap();
    for n in 0..10 {
        w.data(&client_response(
            &format!("f{n}.example"),
            [192, 0, 2, n],
            5,
            "file",
        ))
        .unwrap();
    }
    w.control(ControlType::STOP, None).unwrap();
    let bytes = w.into_inner();
    let read = |name: &str, b: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, b).unwrap();
        let mut s = StreamSession::new(4096, None, false);
        let mut n = 0;
        let stats = dnsrecall_dnstap::read_file(&path, &mut s, 3, &mut |r| {
            n += r.len();
            r.clear();
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
        (stats, n, s.decoder.counters().clone())
    };
    let (stats, n, _) = read("whole", &bytes);
    assert!(stats.stopped && !stats.truncated && stats.failed.is_none());
    assert_eq!(n, 10);
    let (stats, n, c) = read("cut", &bytes[..bytes.len() - 30]);
    assert!(stats.truncated, "{stats:?}");
    assert_eq!(n, 9);
    assert_eq!(c.anomalies["truncated_frame"], 1);
    // A READY in a file (a bidirectional frame) is malformed: what came before is kept.
    let mut bad = bytes[..bytes.len() - 12].to_vec();
    bad.extend(Control::new(ControlType::READY, None).encode());
    let (stats, n, _) = read("bad", &bad);
    assert_eq!(stats.failed, Some("unexpected_control_frame"));
    assert_eq!(n, 10);
}

#[test]
fn a_failed_bind_leaves_no_socket_and_stale_sockets_are_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("tap.sock");
    let opts = ListenOptions::default();
    // 192.0.2.1 (TEST-NET) is not a local address: the second bind fails.
    let err = Listener::bind(
        &[
            ListenAddr::Unix(sock.clone()),
            ListenAddr::Tcp("192.0.2.1:6000".parse().unwrap()),
        ],
        &opts,
    )
    .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrNotAvailable, "{err}");
    assert!(!sock.exists());
    // A socket left by a crash (nobody listening) is replaced; a live one is refused.
    let stale = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    drop(stale);
    let live = Listener::bind(&[ListenAddr::Unix(sock.clone())], &opts).unwrap();
    let again = Listener::bind(&[ListenAddr::Unix(sock.clone())], &opts).unwrap_err();
    assert_eq!(again.kind(), std::io::ErrorKind::AddrInUse);
    drop(live);
    // A regular file is never removed.
    std::fs::write(&sock, b"not a socket").unwrap();
    let file = Listener::bind(&[ListenAddr::Unix(sock.clone())], &opts).unwrap_err();
    assert_eq!(file.kind(), std::io::ErrorKind::AlreadyExists);
    assert_eq!(std::fs::read(&sock).unwrap(), b"not a socket");
}
