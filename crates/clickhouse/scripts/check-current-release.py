#!/usr/bin/env python3
"""Replays the schema, data and queries of `examples/release_check.rs` on a current
ClickHouse (the in-process engine of PyPI's chdb-core) and compares every answer with
the one Debian's ClickHouse 18.16 gave.

    cargo run -p dnsrecall-clickhouse --example release_check -- /tmp/rc.json
    python3 -m venv /tmp/chdb && /tmp/chdb/bin/pip install chdb-core
    /tmp/chdb/bin/python crates/clickhouse/scripts/check-current-release.py /tmp/rc.json
"""
import json
import sys
import tempfile

from chdb import session

ESC = {ord("b"): 8, ord("f"): 12, ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("0"): 0,
       ord("a"): 7, ord("v"): 11}


def unescape(field: bytes) -> bytes:
    out, i = bytearray(), 0
    while i < len(field):
        c = field[i]
        if c == ord("\\") and i + 1 < len(field):
            n = field[i + 1]
            i += 2
            if n == ord("x") and i + 2 <= len(field):
                out.append(int(field[i:i + 2], 16))
                i += 2
            else:
                out.append(ESC.get(n, n))
        else:
            out.append(c)
            i += 1
    return bytes(out)


def rows(tsv: bytes):
    return [[unescape(f).hex() for f in line.split(b"\t")]
            for line in tsv.split(b"\n") if line != b""]


def main() -> int:
    doc = json.load(open(sys.argv[1]))
    db = doc["database"]
    with tempfile.TemporaryDirectory() as d:
        s = session.Session(d)
        version = s.query("SELECT version()", "TabSeparated").bytes().decode().strip()
        s.query(f"CREATE DATABASE IF NOT EXISTS {db}")
        s.query(f"USE {db}")
        for st in doc["ddl"]:
            s.query(st)
        for st in doc["inserts"]:
            s.query(st)
        bad = 0
        for q in doc["queries"]:
            got = rows(s.query(q["sql"], "TabSeparated").bytes())
            if got != q["rows"]:
                bad += 1
                if bad <= 5:
                    print(f"DIFFERENT: {q['sql']}\n  18.16: {q['rows'][:3]}\n  {version}: {got[:3]}")
        n = len(doc["queries"])
        print(f"ClickHouse {version} vs {doc['server']}: {len(doc['ddl'])} DDL statements, "
              f"{len(doc['inserts'])} inserts, {n} queries: {n - bad} passed, {bad} failed")
        return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
