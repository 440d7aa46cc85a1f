"""Runs pypdns against a dnsrecall server for crates/cli/tests/clients.rs.

Usage: pypdns_check.py URL USER SECRET < ops.json

ops.json is a list of {"op": "rfc" | "iter" | "unauthorized", "q": ..., "rrtype": ...}.
Prints a JSON list, one object per op: {"records": [raw COF records], "pages": HTTP
requests made, "error": exception class name or null}.
"""

import json
import sys

import pypdns


def run(url, user, secret, op):
    auth = (user, secret if op["op"] != "unauthorized" else "dnsr_wrong_password")
    client = pypdns.PyPDNS(url=url, basic_auth=auth)
    pages = []
    client.session.hooks["response"].append(lambda r, *a, **k: pages.append(r.status_code))
    out = {"records": [], "pages": 0, "error": None}
    try:
        if op["op"] == "iter":
            records = list(client.iter_query(op["q"], filter_rrtype=op.get("rrtype")))
        else:
            records = client.rfc_query(op["q"], filter_rrtype=op.get("rrtype"))
        out["records"] = [r.raw for r in records]
    except pypdns.PDNSError as e:
        out["error"] = type(e).__name__
        out["message"] = str(e)
    out["pages"] = len(pages)
    return out


def main():
    url, user, secret = sys.argv[1:4]
    ops = json.load(sys.stdin)
    json.dump([run(url, user, secret, op) for op in ops], sys.stdout)


if __name__ == "__main__":
    main()
