#!/usr/bin/env python3
"""Kapacitor's batch test cases (and, with --kind stream, its stream cases) run through
Farad's recording import and replay, the way Kapacitor's own Go harness runs them:

  1. create the task (disabled) with the case's script;
  2. rebase the case's data as the harness does (each data file's first point lands on
     1971-01-01T00:00:00Z; a batch's recorded tmax is kept) and import it with
     POST /kapacitor/v1/recordings/import (batch cases: a zip with one entry per query node);
  3. POST /kapacitor/v1/replays with recording-time (the times are already the harness's)
     and wait for the replay to finish;
  4. compare the task's httpOut result with the expected one (the comparison of
     ../shared/conformance/run.py).

Usage: conformance_replay.py URL CORPUS [--kind batch|stream] [--only REGEX] [-v]
"""

import argparse
import calendar
import io
import json
import os
import re
import sys
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.environ.get("SHARED", os.path.join(HERE, "..", "..", "shared")),
                                "conformance"))
import run as conformance  # noqa: E402  (the shared runner: HTTP client, comparison)

ZERO_NS = conformance.HARNESS_ZERO_UNIX * 10**9


def parse_ns(text):
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?Z", text)
    if not m:
        raise ValueError("unexpected time %r" % text)
    y, mo, d, h, mi, s, frac = m.groups()
    secs = calendar.timegm((int(y), int(mo), int(d), int(h), int(mi), int(s)))
    return secs * 10**9 + int((frac or "0").ljust(9, "0")[:9])


def format_ns(ns):
    secs, frac = divmod(ns, 10**9)
    t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    return t + ("." + ("%09d" % frac).rstrip("0") if frac else "") + "Z"


def json_objects(text):
    dec, i, out = json.JSONDecoder(), 0, []
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return out
        obj, i = dec.raw_decode(text, i)
        out.append(obj)


def rebased_batches(text):
    """One .brpl file with its points moved so that the first lands on the harness zero."""
    batches = json_objects(text)
    first = next((parse_ns(p["time"]) for b in batches for p in b.get("points") or []), None)
    diff = 0 if first is None else ZERO_NS - first
    for b in batches:
        for p in b.get("points") or []:
            p["time"] = format_ns(parse_ns(p["time"]) + diff)
    return "\n".join(json.dumps(b) for b in batches) + "\n"


def recording_body(rec, mirror, cache):
    files = rec["data_file"] if isinstance(rec["data_file"], list) else [rec["data_file"]]
    if rec["kind"] == "stream":
        out = []
        for db, rp, lines in conformance.rebased_writes(conformance.load_text(rec, mirror, cache)):
            out.extend("%s\n%s\n%s\n" % (db, rp, line) for line in lines)
        return "".join(out).encode(), "type=stream&precision=s"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i, f in enumerate(files):
            one = dict(rec, data_file=f)
            z.writestr(str(i), rebased_batches(conformance.load_text(one, mirror, cache)))
    return buf.getvalue(), "type=batch"


def run_one(cli, rec, args, sink, cache):
    tid = conformance.task_id_for(rec["name"])
    script = rec["tickscript"]
    if rec.get("needs_http_sink"):
        script = script.replace(conformance.HTTP_SINK_PLACEHOLDER, sink.url)
    cli.request("DELETE", "/kapacitor/v1/tasks/" + tid)
    cli.request("DELETE", "/kapacitor/v1/recordings/" + tid)
    cli.request("DELETE", "/kapacitor/v1/replays/" + tid)
    r = cli.request("POST", "/kapacitor/v1/tasks", json.dumps({
        "id": tid, "type": rec["kind"], "dbrps": rec["dbrps"], "script": script,
        "status": "disabled"}), "application/json")
    if r.status != 200:
        exp = rec.get("expected") or {}
        if exp.get("error") and exp["error"] in r.text():
            return None
        return "create task: %s %s" % (r.status, r.text()[:300])
    try:
        body, params = recording_body(rec, args.mirror, cache)
        r = cli.request("POST", "/kapacitor/v1/recordings/import?id=%s&%s" % (tid, params), body,
                        "application/octet-stream")
        if r.status != 201:
            return "import: %s %s" % (r.status, r.text()[:300])
        r = cli.request("POST", "/kapacitor/v1/replays", json.dumps({
            "id": tid, "task": tid, "recording": tid, "recording-time": True,
            "clock": "fast"}), "application/json")
        if r.status != 201:
            return "replay: %s %s" % (r.status, r.text()[:300])
        deadline = time.time() + args.timeout
        while True:
            r = cli.request("GET", "/kapacitor/v1/replays/" + tid)
            if r.status == 200:
                break
            if r.status != 202 or time.time() > deadline:
                return "replay status: %s %s" % (r.status, r.text()[:300])
            time.sleep(0.01)
        replay = r.json()
        if replay.get("status") != "finished":
            return "replay %s: %s" % (replay.get("status"), replay.get("error"))
        # Posts and alerts go out on other threads; give them a moment.
        time.sleep(args.settle)
        r = cli.request("GET", "/kapacitor/v1/tasks/%s/%s" % (tid, rec["httpout_endpoint"]))
        got = r.json() if r.status == 200 else {"error": "httpOut %s: %s" % (r.status, r.text()[:200])}
        diff = conformance.compare_results(rec["expected"] or {}, got,
                                           rec.get("ignore_series_order"), args.rel_tol)
        if diff and args.verbose:
            diff += "\n  expected: %s\n  got:      %s\n  stats:    %s" % (
                json.dumps(rec["expected"]), json.dumps(got),
                json.dumps((replay.get("stats") or {}).get("node-stats")))
        return diff
    finally:
        cli.request("DELETE", "/kapacitor/v1/replays/" + tid)
        cli.request("DELETE", "/kapacitor/v1/recordings/" + tid)
        cli.request("DELETE", "/kapacitor/v1/tasks/" + tid)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("corpus")
    ap.add_argument("--kind", default="batch", choices=["batch", "stream"])
    ap.add_argument("--only")
    ap.add_argument("--mirror", default=conformance.DEFAULT_MIRROR)
    ap.add_argument("--timeout", type=float, default=15)
    ap.add_argument("--settle", type=float, default=0.05)
    ap.add_argument("--rel-tol", type=float, default=0.0)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    cli = conformance.Client(args.url)
    sink = conformance.HTTPSink("127.0.0.1", "127.0.0.1")
    recs = [json.loads(line) for line in open(args.corpus)]
    recs = [r for r in recs if r["kind"] == args.kind and r["status"] == "ok"
            and (not args.only or re.search(args.only, r["name"]))]
    passed = failed = 0
    cache = {}
    for rec in recs:
        try:
            why = run_one(cli, rec, args, sink, cache)
        except Exception as e:  # a broken case must not stop the run
            why = "exception: %r" % e
        if why:
            failed += 1
            print("FAIL %s: %s" % (rec["name"], why))
        else:
            passed += 1
            print("ok   %s" % rec["name"])
    sink.close()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
