#!/usr/bin/python3
"""Checks the --json output of `radfed audit verify|crosscheck|report`
against what this script computes from the logs themselves, with the json
module alone (docs/formats.md "Audit log", docs/federation.md "Audit
events"). The hash chain and signatures are checked by
tests/common/ref/audit_verify.py; this script checks the accounting.

usage:
  audit_check.py verify OUT.json LOG true|false   (authentic or not)
  audit_check.py verify-bad OUT.json LINE
  audit_check.py crosscheck OUT.json AGG_LOG SITE_LOG...
  audit_check.py report OUT.json LOG...
Exit 0 when the output agrees, 1 with the difference otherwise."""
import json
import sys


def fail(msg):
    print("audit_check: " + msg, file=sys.stderr)
    sys.exit(1)


def want(what, got, exp):
    if got != exp:
        fail("%s: radfed says %r, expected %r" % (what, got, exp))


def read_log(path):
    with open(path, "rb") as f:
        return [json.loads(l) for l in f.read().decode().splitlines()]


def role(lines):
    actor = lines[0]["actor"] if lines else ""
    if actor == "agg" or actor.startswith("agg:"):
        return actor, True, ""
    if actor.startswith("site:") and len(actor) > 5:
        return actor, False, actor[5:]
    return actor, False, actor


def transfers(paths):
    """Every transfer record, as dicts shaped like radfed's output."""
    out = []
    for path in paths:
        lines = read_log(path)
        actor, is_agg, site = role(lines)
        names = ({"update.received": "update", "model.sent": "model"}
                 if is_agg else
                 {"update.sent": "update", "model.received": "model"})
        for i, l in enumerate(lines):
            if l["actor"] != actor or l["event"] not in names:
                continue
            d = l["data"]
            r = {"round": d["round"], "round_no": d["round_no"],
                 "site": d["site"] if is_agg else site,
                 "type": names[l["event"]],
                 "recorded_by": "aggregator" if is_agg else "site",
                 "log": path, "line": i + 1, "sha256": d["sha256"],
                 "bytes": d["bytes"]}
            if r["type"] == "update":
                r["samples"] = d["samples"]
                r["kind"] = d["kind"]
            out.append(r)
    return out


def check_verify(out, path, authentic):
    lines = read_log(path)
    cps = [i for i, l in enumerate(lines) if l["event"] == "checkpoint"]
    by_event = {}
    for l in lines:
        if l["event"] != "checkpoint":
            by_event[l["event"]] = by_event.get(l["event"], 0) + 1
    want("ok", out["ok"], True)
    want("actor", out["actor"], lines[0]["actor"])
    want("lines", out["lines"], len(lines))
    want("events", out["events"], len(lines) - len(cps))
    want("checkpoints", out["checkpoints"], len(cps))
    want("unsigned_tail", out["unsigned_tail"],
         len(lines) - (cps[-1] + 1 if cps else 0))
    want("key", out["key"], lines[cps[0]]["data"]["key"] if cps else None)
    want("authentic", out["authentic"], authentic == "true")
    want("by_event", out["by_event"], by_event)


def check_crosscheck(out, paths):
    recs = transfers(paths)
    key = ("type", "site", "round", "round_no", "sha256", "bytes")
    matched = set()
    agree = True
    for a in recs:
        if a["recorded_by"] != "aggregator":
            continue
        for s in recs:
            if (s["recorded_by"] == "site" and
                    (s["log"], s["line"]) not in matched and
                    all(a[k] == s[k] for k in key)):
                matched.add((a["log"], a["line"]))
                matched.add((s["log"], s["line"]))
                if a.get("kind") != s.get("kind") or \
                        a.get("samples") != s.get("samples"):
                    agree = False
                break
    for r in recs:
        r["matched"] = (r["log"], r["line"]) in matched
    agree = agree and len(matched) == len(recs)
    order = lambda r: (r["log"], r["line"])
    want("transfers", sorted(out["transfers"], key=order),
         sorted(recs, key=order))
    want("ok", out["ok"], agree)
    want("mismatches named", len(out["mismatches"]) > 0, not agree)


def check_report(out, paths):
    recs = transfers(paths)
    site_logs = {}
    decisions = {}
    for path in paths:
        lines = read_log(path)
        actor, is_agg, site = role(lines)
        if is_agg or not lines:
            continue
        site_logs[site] = path
        for l in lines:
            if l["event"] in ("round.accepted", "round.declined"):
                # the last decision wins
                decisions[(l["data"]["round"], site)] = (
                    l["event"][6:], l["data"]["policy_sha256"])
    parts = {}
    for k in set(decisions) | {(r["round"], r["site"]) for r in recs}:
        own = k[1] in site_logs
        p = {"site": k[1], "decision": None, "policy_sha256": None,
             "updates": 0, "bytes": {"delta": 0, "masked": 0},
             "models": 0, "model_bytes": 0,
             "source": "site" if own else "aggregator"}
        if k in decisions:
            p["decision"], p["policy_sha256"] = decisions[k]
        for r in recs:
            if (r["round"], r["site"]) != k or \
                    (r["recorded_by"] == "site") != own:
                continue
            if r["type"] == "model":
                p["models"] += 1
                p["model_bytes"] += r["bytes"]
            else:
                p["updates"] += 1
                p["bytes"][r["kind"]] += r["bytes"]
        parts.setdefault(k[0], []).append(p)
    exp = [{"round": rd, "sites": sorted(parts[rd], key=lambda p: p["site"])}
           for rd in sorted(parts)]
    want("rounds", out["rounds"], exp)


def main(argv):
    if len(argv) < 3:
        fail(__doc__)
    with open(argv[2]) as f:
        out = json.load(f)
    mode = argv[1]
    if mode == "verify":
        check_verify(out, argv[3], argv[4])
    elif mode == "verify-bad":
        want("ok", out["ok"], False)
        want("bad_line", out["bad_line"], int(argv[3]))
        want("error code", out["error"]["code"], "EINTEGRITY")
    elif mode == "crosscheck":
        check_crosscheck(out, argv[3:])
    elif mode == "report":
        check_report(out, argv[3:])
    else:
        fail("unknown mode " + mode)


main(sys.argv)
