#!/usr/bin/env python3
"""Kapacitor's test cases run through `farad test`: each case becomes a test file (its
script, its data rebased as Kapacitor's harness rebases it, its expected httpOut result) and
one `farad test` run checks them all in-process, no server.

Usage: conformance_test.py CORPUS [--farad PATH] [--kind stream|batch|all] [--only REGEX]
                           [--keep DIR] [-v]
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import conformance_replay as replay  # noqa: E402  (the data rebasing, the shared runner)

conformance = replay.conformance


def toml_str(s):
    # JSON string escapes are TOML basic-string escapes.
    return json.dumps(s)


def write_case(rec, root, args, cache):
    name = replay.conformance.task_id_for(rec["name"])
    d = os.path.join(root, name)
    os.makedirs(d)
    with open(os.path.join(d, "task.tick"), "w") as f:
        f.write(rec["tickscript"].replace(conformance.HTTP_SINK_PLACEHOLDER, "http://127.0.0.1:9/"))
    body, _ = replay.recording_body(rec, args.mirror, cache)
    data = "data.srpl" if rec["kind"] == "stream" else "data.brpl"
    with open(os.path.join(d, data), "wb") as f:
        f.write(body)
    lines = [
        "name = %s" % toml_str(rec["name"]),
        "[task]",
        "id = %s" % toml_str(name),
        'script = "task.tick"',
        "type = %s" % toml_str(rec["kind"]),
        'dbrps = ["dbname.rpname"]',
        "[input]",
        "file = %s" % toml_str(data),
    ]
    if rec["kind"] == "stream":
        lines.append('precision = "s"')
    # Kapacitor's harness runs on the wall clock: its now() is today.
    lines.append("now = %s" % toml_str(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())))
    lines += [
        "[[expect.http_out]]",
        "endpoint = %s" % toml_str(rec["httpout_endpoint"]),
        "ignore_series_order = %s" % ("true" if rec.get("ignore_series_order") else "false"),
        "result = %s" % toml_str(json.dumps(rec["expected"] or {})),
    ]
    with open(os.path.join(d, "case.test.toml"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("--farad", default=os.path.join(HERE, "..", "target", "release", "farad"))
    ap.add_argument("--kind", default="all", choices=["stream", "batch", "all"])
    ap.add_argument("--only")
    ap.add_argument("--mirror", default=conformance.DEFAULT_MIRROR)
    ap.add_argument("--keep", help="write the test files here and keep them")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    recs = [json.loads(line) for line in open(args.corpus)]
    recs = [r for r in recs if r["status"] == "ok"
            and (args.kind == "all" or r["kind"] == args.kind)
            and (not args.only or re.search(args.only, r["name"]))]
    root = args.keep or tempfile.mkdtemp(prefix="farad-conformance-")
    if args.keep:
        shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root, exist_ok=True)
    cache, broken = {}, 0
    for rec in recs:
        try:
            write_case(rec, root, args, cache)
        except Exception as e:  # a case that cannot be written counts as failed
            broken += 1
            print("FAIL %s: %r" % (rec["name"], e))
    out = subprocess.run([args.farad, "test", root], capture_output=True, text=True)
    passed = failed = 0
    for line in out.stdout.splitlines():
        if line.startswith("ok   "):
            passed += 1
        elif line.startswith("FAIL "):
            failed += 1
        if args.verbose or line.startswith("FAIL ") or (line.startswith("  ") and args.verbose):
            print(line)
    if out.stderr.strip():
        print(out.stderr.strip()[-2000:], file=sys.stderr)
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    failed += broken
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
