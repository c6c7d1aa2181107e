#!/usr/bin/env python3
"""Check an example's --json report: the schema and a minimum test accuracy per run.

usage: check_example_json.py REPORT.json EXAMPLE MIN_ACCURACY PRECISION[,PRECISION...]
Exits non-zero with a message naming the problem.
"""
import json
import math
import sys


def fail(msg):
    print(f"check_example_json: {msg}", file=sys.stderr)
    sys.exit(1)


def number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def main():
    if len(sys.argv) != 5:
        fail(__doc__)
    path, example, min_acc, precisions = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    want = precisions.split(",")
    try:
        with open(path) as f:
            j = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"cannot read {path}: {e}")
    for key in ("example", "dataset", "runs", "agreement"):
        if key not in j:
            fail(f"{path}: missing key '{key}'")
    if j["example"] != example:
        fail(f"{path}: example is {j['example']!r}, expected {example!r}")
    if not isinstance(j["dataset"], str) or not j["dataset"]:
        fail(f"{path}: dataset must be a non-empty string")
    runs = j["runs"]
    if [r.get("precision") for r in runs] != want:
        fail(f"{path}: runs are {[r.get('precision') for r in runs]}, expected {want}")
    for r in runs:
        p = r["precision"]
        known = {"fp16", "bf16", "fp32", "fp64", "mixed(fp16/fp32)", "mixed(bf16/fp32)"}
        known |= {f"{t}+{m}" for t in ("fp16", "bf16") for m in ("stochastic", "compensated")}
        if p not in known:
            fail(f"{path}: unknown precision {p!r}")
        if p.startswith("mixed") and r.get("pure_16bit", False):
            fail(f"{path}: run {p} is labelled pure 16-bit")
        for key in ("test_accuracy", "train_loss", "epoch_seconds", "peak_rss_bytes", "model_bytes"):
            if key not in r:
                fail(f"{path}: run {p} lacks '{key}'")
        acc = r["test_accuracy"]
        if not number(acc) or not 0.0 <= acc <= 1.0:
            fail(f"{path}: run {p}: test_accuracy {acc!r} is not a fraction in [0, 1]")
        if acc < min_acc:
            fail(f"{path}: run {p}: test_accuracy {acc:.4f} below {min_acc}")
        if not number(r["train_loss"]) or r["train_loss"] <= 0:
            fail(f"{path}: run {p}: train_loss {r['train_loss']!r} is not a positive number")
        secs = r["epoch_seconds"]
        if not isinstance(secs, list) or not secs or not all(number(s) and s > 0 for s in secs):
            fail(f"{path}: run {p}: epoch_seconds {secs!r} must be a non-empty list of positive numbers")
        for key in ("peak_rss_bytes", "model_bytes"):
            if not isinstance(r[key], int) or r[key] <= 0:
                fail(f"{path}: run {p}: {key} {r[key]!r} must be a positive integer")
    # Model bytes follow the scalar size: fp16/bf16 models are half the size of fp32 ones;
    # mixed precision's include the fp32 masters (2 + 4 bytes per parameter).
    size = {"fp16": 2, "bf16": 2, "fp32": 4, "fp64": 8}

    def bytes_per_value(p):
        return 6 if p.startswith("mixed") else size[p.split("+")[0]]

    per_scalar = {r["model_bytes"] / bytes_per_value(r["precision"]) for r in runs}
    if len(per_scalar) != 1:
        fail(f"{path}: model_bytes do not scale with the scalar size: "
             f"{[(r['precision'], r['model_bytes']) for r in runs]}")
    agree = j["agreement"]
    if len(runs) >= 2:
        if not number(agree) or not 0.0 <= agree <= 1.0:
            fail(f"{path}: agreement {agree!r} is not a fraction in [0, 1]")
    elif agree is not None:
        fail(f"{path}: agreement must be null with a single run")
    # The delta / Gamma analysis against the fp32 run (examples/twins.cpp): fp32 carries its
    # weights rounded to fp16 and bf16, every other run its trained-twin comparison.
    names = [r["precision"] for r in runs]
    if "fp32" in names and len(runs) >= 2:
        for r in runs:
            an = r.get("analysis_vs_fp32")
            want_kinds = ["rounded", "rounded"] if r["precision"] == "fp32" else ["trained"]
            if not isinstance(an, list) or [a["twin"]["kind"] for a in an] != want_kinds:
                fail(f"{path}: run {r['precision']}: analysis_vs_fp32 should hold {want_kinds}")
            for a in an:
                label = a["twin"]["label"]
                if a["violations"] != 0:
                    fail(f"{path}: {label}: {a['violations']} theorem violation(s)")
                if a["samples"] != j["test_samples"]:
                    fail(f"{path}: {label}: {a['samples']} samples, test set {j['test_samples']}")
                # strict (Gamma > 2 delta) samples must agree, so strict <= agree
                if not a["strict"] <= a["agree"] <= a["samples"]:
                    fail(f"{path}: {label}: strict {a['strict']} / agree {a['agree']} inconsistent")
                for key in ("delta", "gamma"):
                    m = a[key]["mean"]
                    if not number(m) or not 0.0 <= m <= 1.0:
                        fail(f"{path}: {label}: {key} mean {m!r} is not a probability gap")
                # the pairwise agreement bounds the agreement of all runs together
                if number(agree) and a["agreement"] < agree - 1e-12:
                    fail(f"{path}: {label}: agreement {a['agreement']} below all-run {agree}")
            if r["precision"] == "fp32":
                # fp16 rounding of the weights moves the probabilities by ~1e-4, not 1e-2
                if an[0]["twin"]["low_type"] != "fp16" or an[0]["delta"]["mean"] >= 1e-2:
                    fail(f"{path}: fp16-rounded twin: delta mean {an[0]['delta']['mean']}")
    print(f"check_example_json: {path} OK: " +
          ", ".join(f"{r['precision']} {100 * r['test_accuracy']:.2f} %" for r in runs) +
          (f", agreement {100 * agree:.2f} %" if len(runs) >= 2 else ""))


main()
