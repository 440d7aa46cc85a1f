#!/usr/bin/env python3
"""Writes the committed seeds of the dnstap fuzz targets (deterministic)."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CT = b"protobuf:dnstap.Dnstap"


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(tag, wire, payload):
    key = varint(tag << 3 | wire)
    if wire == 0:
        return key + varint(payload)
    if wire == 5:
        return key + struct.pack("<I", payload)
    return key + varint(len(payload)) + payload


def name(n):
    return b"".join(bytes([len(l)]) + l.encode() for l in n.split(".")) + b"\0"


def response(qname, rcode=0, answers=()):
    m = struct.pack(">HHHHHH", 7, 0x8180 | rcode, 1, len(answers), 0, 0)
    m += name(qname) + struct.pack(">HH", 1, 1)
    for owner, rrtype, rdata in answers:
        m += b"\xc0\x0c" if owner == qname else name(owner)
        m += struct.pack(">HHIH", rrtype, 1, 300, len(rdata)) + rdata
    return m


def dnstap(kind, msg, qaddr=b"\x0a\0\0\x01", raddr=b"\x0a\0\0\x35"):
    m = field(1, 0, kind) + field(2, 0, 1) + field(3, 0, 1)
    m += field(4, 2, qaddr) + field(5, 2, raddr) + field(6, 0, 40000) + field(7, 0, 53)
    m += field(12, 0, 1700000000) + field(13, 5, 123456) + field(14, 2, msg)
    return field(1, 2, b"resolver-1") + field(2, 2, b"seed") + field(14, 2, m) + field(15, 0, 1)


def control(kind, ct=CT):
    body = struct.pack(">I", kind)
    if ct is not None:
        body += struct.pack(">II", 1, len(ct)) + ct
    return struct.pack(">II", 0, len(body)) + body


def data(frame):
    return struct.pack(">I", len(frame)) + frame


frames = [
    dnstap(6, response("www.example.com", 0, [("www.example.com", 1, b"\xc0\x00\x02\x07")])),
    dnstap(4, response("alias.example.com", 0, [("alias.example.com", 5, name("www.example.com"))])),
    dnstap(6, response("nope.example.com", 3)),
    dnstap(5, b""),
    dnstap(2, response("x.example", 0, []), qaddr=b"\x20\x01" + b"\0" * 14),
]
seeds = {
    "dnstap_message": {f"frame{i}": f for i, f in enumerate(frames)},
    "frame_stream": {
        "bidirectional": b"\x07" + control(4) + control(2) + b"".join(data(f) for f in frames) + control(3, None),
        "unidirectional": b"\x40" + control(2) + data(frames[0]) + control(3, None),
        "cut": b"\x03" + control(4) + control(2) + data(frames[1])[:20],
        "wrong_type": b"\x10" + control(4, b"protobuf:other"),
    },
}
# Real streams (testdata/dnstap, captured from unbound and BIND), read in 61-byte chunks.
testdata = os.path.join(HERE, "..", "..", "..", "testdata", "dnstap")
for name in ("unbound.dnstap", "bind9.dnstap"):
    with open(os.path.join(testdata, name), "rb") as f:
        seeds["frame_stream"][name] = b"\x3d" + f.read()
for target, files in seeds.items():
    d = os.path.join(HERE, "seeds", target)
    os.makedirs(d, exist_ok=True)
    for n, b in files.items():
        with open(os.path.join(d, n), "wb") as f:
            f.write(b)
