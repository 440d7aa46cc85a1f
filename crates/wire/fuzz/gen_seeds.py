#!/usr/bin/env python3
"""Writes the committed seed corpora under seeds/ from the shared capture corpus.

    python3 crates/wire/fuzz/gen_seeds.py [PCAP_DIR]   (default: ../shared/corpus/pcap)

Seeds are inputs in each fuzz target's own format (see fuzz_targets/*.rs):

* seeds/frame: a link-type index byte (LINK_TYPES in frame.rs) and one captured frame:
  DNS over UDP and TCP, IP fragments and tunnels, a few per capture.
* seeds/dns_message: DNS messages (UDP payloads and TCP messages without their length).
* seeds/tcp_stream: the DNS-over-TCP flows of the captures in tcp_stream.rs's segment
  format, each as captured and with its segments reversed.

Only classic pcap files are read (pcapng is skipped). The IP header is found by scanning
the frame, so every link type works without decoding it. Deterministic: the same
captures give the same files. Only needed again when the captures or an input format
change; the fuzzer itself only reads seeds/.
"""

import hashlib
import os
import struct
import sys

# pcap LINKTYPE -> index into LINK_TYPES of fuzz_targets/frame.rs.
LINK_INDEX = {1: 0, 0: 1, 108: 2, 101: 3, 228: 4, 229: 5, 113: 6, 276: 7, 239: 8, 105: 9, 127: 10}
DNS_PORTS = {53, 5353, 5355}
TUNNEL_UDP_PORTS = {4789, 6081, 3544}
MAX_FRAME = 4096
MAX_MESSAGE = 4096
MAX_FLOW_SEGMENTS = 48
MAX_FLOW_BYTES = 16384


def read_pcap(path):
    data = open(path, "rb").read()
    if len(data) < 24:
        return None, []
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return None, []
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0xFFFF
    frames, pos = [], 24
    while pos + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(e + "IIII", data[pos : pos + 16])
        pos += 16
        frame = data[pos : pos + incl]
        pos += incl
        us = sec * 1_000_000 + (frac // 1000 if nano else frac)
        frames.append((us, frame))
    return linktype, frames


def find_ip(frame):
    """The first plausible IPv4/IPv6 header in the frame: (offset, parsed) or None."""
    for i in range(0, min(len(frame), 128)):
        p = parse_ip(frame[i:])
        if p is not None:
            return i, p
    return None


def parse_ip(b):
    if len(b) >= 20 and b[0] >> 4 == 4 and 5 <= (b[0] & 0xF):
        ihl = (b[0] & 0xF) * 4
        total = struct.unpack(">H", b[2:4])[0]
        if total < ihl or len(b) < ihl or b[9] not in (4, 6, 17, 41, 47):
            return None
        frag = struct.unpack(">H", b[6:8])[0]
        return {
            "src": b[12:16],
            "dst": b[16:20],
            "proto": b[9],
            "payload": b[ihl : total if total else len(b)],
            "fragment": frag & 0x3FFF != 0,
        }
    if len(b) >= 40 and b[0] >> 4 == 6 and b[6] in (0, 6, 17, 41, 44, 60):
        plen = struct.unpack(">H", b[4:6])[0]
        return {
            "src": b[8:24],
            "dst": b[24:40],
            "proto": b[6],
            "payload": b[40 : 40 + plen if plen else len(b)],
            "fragment": b[6] == 44,
        }
    return None


def classify(ip):
    """('udp'|'tcp'|'frag'|'tunnel'|None, sport, dport, transport payload, tcp fields)."""
    if ip["fragment"]:
        return "frag", 0, 0, b"", None
    p, proto = ip["payload"], ip["proto"]
    if proto in (4, 41, 47):
        return "tunnel", 0, 0, b"", None
    if proto == 17 and len(p) >= 8:
        sport, dport = struct.unpack(">HH", p[:4])
        if sport in DNS_PORTS or dport in DNS_PORTS:
            return "udp", sport, dport, p[8:], None
        if sport in TUNNEL_UDP_PORTS or dport in TUNNEL_UDP_PORTS:
            return "tunnel", sport, dport, b"", None
    if proto == 6 and len(p) >= 20:
        sport, dport, seq, ack = struct.unpack(">HHII", p[:12])
        off = (p[12] >> 4) * 4
        if (sport in DNS_PORTS or dport in DNS_PORTS) and off >= 20:
            return "tcp", sport, dport, p[off:], (seq, ack, p[13])
    return None, 0, 0, b"", None


def digest(b):
    return hashlib.sha1(b).hexdigest()[:16]


def write(dirname, data, seen):
    h = digest(data)
    if h in seen:
        return False
    seen.add(h)
    with open(os.path.join(dirname, h), "wb") as f:
        f.write(data)
    return True


def tcp_seed(segments):
    """tcp_stream.rs input from [(ts, to_server, seq, ack, flags, payload)]."""
    first = {True: None, False: None}
    for _ts, to_server, seq, _ack, _flags, _p in segments:
        if first[to_server] is None:
            first[to_server] = seq
    isn = {k: (v if v is not None else 0) for k, v in first.items()}
    # Budgets: 256 KiB per flow (the default), 32 KiB in all, any number of flows.
    out = bytearray(struct.pack(">BII", 0x7E, isn[True], isn[False]))
    last_ts = segments[0][0]
    for ts, to_server, seq, ack, flags, payload in segments:
        delta = ts - last_ts
        last_ts = ts
        step = 0 if delta < 1000 else 1 if delta < 1_000_000 else 2 if delta < 61_000_000 else 3
        ctl = (flags & 0x07) | ((flags & 0x10) >> 1) | (0 if to_server else 0x10) | (step << 5)
        seq_off = (seq - isn[to_server]) & 0xFFFFFFFF
        ack_off = (ack - isn[not to_server]) & 0xFFFFFFFF if flags & 0x10 else 0
        out += struct.pack(">BIIH", ctl, seq_off, ack_off, len(payload)) + payload
    return bytes(out)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.path.join(here, "..", "..", "..", "..", "shared", "corpus", "pcap")
    pcap_dir = sys.argv[1] if len(sys.argv) > 1 else default
    dirs = {t: os.path.join(here, "seeds", t) for t in ("frame", "dns_message", "tcp_stream")}
    for d in dirs.values():
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            os.remove(os.path.join(d, f))
    seen = {t: set() for t in dirs}
    for name in sorted(os.listdir(pcap_dir)):
        linktype, frames = read_pcap(os.path.join(pcap_dir, name))
        if linktype not in LINK_INDEX:
            continue
        link = bytes([LINK_INDEX[linktype]])
        quota = {"udp": 4, "tcp": 2, "frag": 2, "tunnel": 3}
        messages = 6
        flows = {}
        for ts, frame in frames:
            found = find_ip(frame)
            if found is None:
                continue
            _off, ip = found
            kind, sport, dport, payload, tcpf = classify(ip)
            if kind is None:
                continue
            if quota[kind] > 0 and len(frame) <= MAX_FRAME:
                if write(dirs["frame"], link + frame, seen["frame"]):
                    quota[kind] -= 1
            if kind == "udp" and messages > 0 and 0 < len(payload) <= MAX_MESSAGE:
                if write(dirs["dns_message"], payload, seen["dns_message"]):
                    messages -= 1
            if kind == "tcp":
                seq, ack, flags = tcpf
                to_server = dport in DNS_PORTS
                client = (ip["src"], sport) if to_server else (ip["dst"], dport)
                server = (ip["dst"], dport) if to_server else (ip["src"], sport)
                flow = flows.setdefault((client, server), [])
                if len(flow) < MAX_FLOW_SEGMENTS:
                    flow.append((ts, to_server, seq, ack, flags, payload))
                # Whole messages at the start of a segment.
                if len(payload) >= 2 and messages > 0:
                    n = struct.unpack(">H", payload[:2])[0]
                    msg = payload[2 : 2 + n]
                    if n == len(msg) and 0 < n <= MAX_MESSAGE:
                        if write(dirs["dns_message"], msg, seen["dns_message"]):
                            messages -= 1
        for segments in list(flows.values())[:3]:
            if not any(s[5] for s in segments):
                continue
            size = 0
            for i, s in enumerate(segments):
                size += len(s[5]) + 11
                if size > MAX_FLOW_BYTES:
                    segments = segments[:i]
                    break
            if not segments:
                continue
            write(dirs["tcp_stream"], tcp_seed(segments), seen["tcp_stream"])
            seed = tcp_seed(segments)
            # The same segments, last first (same header, records reversed).
            records, rest = [], seed[9:]
            while rest:
                n = 11 + struct.unpack(">H", rest[9:11])[0]
                records.append(rest[:n])
                rest = rest[n:]
            write(dirs["tcp_stream"], seed[:9] + b"".join(reversed(records)), seen["tcp_stream"])
    for t, d in dirs.items():
        files = os.listdir(d)
        size = sum(os.path.getsize(os.path.join(d, f)) for f in files)
        print(f"{t}: {len(files)} seeds, {size} bytes")


if __name__ == "__main__":
    main()
