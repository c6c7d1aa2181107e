#!/usr/bin/python3
"""Plot how far 16-bit runs drift from their fp32 shadow, epoch by epoch.

usage: tools/plot_divergence.py [-o OUT.png] [--title TITLE] CSV [CSV ...]
       tools/plot_divergence.py -o divergence.png runs/     (every *_divergence.csv in a folder)

Each CSV is one run's divergence log, written by the examples' `--divergence N` together
with `--csv DIR` (pure16::train::DivergenceWatch: columns epoch, delta_max, delta_mean,
delta_median, gamma_mean, guaranteed, strict, agreement, violations, probes, acc_shadow,
acc_model); its name is <example>_<run>_divergence.csv. The shadow is an fp32 twin trained
alongside the 16-bit model from the same start, on the same batches (see
include/pure16/train/divergence.hpp). Left: delta (max and mean over the probe set, log
scale); right: the share of probes whose agreement is guaranteed (Gamma >= 2 delta) and the
prediction agreement, in %. Epoch 0 is before training: the forward pass's rounding alone.
Theorem violations (must be 0) are printed and marked. Uses matplotlib's Agg backend.
"""
import argparse
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plot_runs import run_label  # noqa: E402  (one naming of runs for both plots)

COLUMNS = {"epoch", "delta_max", "delta_mean", "guaranteed", "agreement", "violations"}


def read_log(path):
    rows = {c: [] for c in COLUMNS}
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = COLUMNS - set(reader.fieldnames or [])
        if missing:
            sys.exit(f"plot_divergence: {path} lacks columns {sorted(missing)}")
        for r in reader:
            rows["epoch"].append(int(r["epoch"]))
            rows["violations"].append(int(r["violations"]))
            for c in ("delta_max", "delta_mean", "guaranteed", "agreement"):
                rows[c].append(float(r[c]) if r[c] not in ("", "nan") else float("nan"))
    if not rows["epoch"]:
        sys.exit(f"plot_divergence: {path} holds no records")
    return rows


def label_of(path):
    return run_label(os.path.basename(path)[: -len("_divergence.csv")])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+", help="divergence CSV files or folders holding them")
    ap.add_argument("-o", "--output", default="divergence.png")
    ap.add_argument("--title", default=None)
    args = ap.parse_args()

    paths = []
    for p in args.inputs:
        if os.path.isdir(p):
            paths += sorted(os.path.join(p, f) for f in os.listdir(p)
                            if f.endswith("_divergence.csv"))
        else:
            paths.append(p)
    if not paths:
        sys.exit("plot_divergence: no *_divergence.csv files given")
    runs = [(label_of(p), read_log(p)) for p in paths]

    fig, (ax_d, ax_g) = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    for i, (name, r) in enumerate(runs):
        color = f"C{i}"
        ax_d.plot(r["epoch"], r["delta_max"], "-o", color=color, label=f"{name} max", ms=5)
        ax_d.plot(r["epoch"], r["delta_mean"], "--s", color=color, label=f"{name} mean", ms=4,
                  alpha=0.7)
        ax_g.plot(r["epoch"], [100 * v for v in r["guaranteed"]], "-o", color=color,
                  label=f"{name} guaranteed", ms=5)
        ax_g.plot(r["epoch"], [100 * v for v in r["agreement"]], "--s", color=color,
                  label=f"{name} agreement", ms=4, alpha=0.7)
        bad = [(e, v) for e, v in zip(r["epoch"], r["violations"]) if v]
        for e, v in bad:
            ax_g.annotate(f"{v} violations", (e, 50), color="red")
        if bad:
            print(f"plot_divergence: {name}: THEOREM VIOLATIONS at epochs {[e for e, _ in bad]}")
    ax_d.set_yscale("log")
    ax_d.set_xlabel("epoch")
    ax_d.set_ylabel("delta = max_i |p32_i - p16_i|")
    ax_d.set_title("distance to the fp32 shadow")
    ax_d.grid(alpha=0.3, which="both")
    ax_d.legend(fontsize=7)
    ax_g.set_xlabel("epoch")
    ax_g.set_ylabel("% of probes")
    ax_g.set_title("guaranteed (Gamma >= 2 delta) and agreement")
    ax_g.grid(alpha=0.3)
    ax_g.legend(fontsize=7)
    for ax in (ax_d, ax_g):
        ax.xaxis.get_major_locator().set_params(integer=True)
    default_title = os.path.basename(paths[0]).rsplit("_", 2)[0]
    fig.suptitle(args.title or f"{default_title}: 16-bit runs vs their fp32 shadow")
    fig.tight_layout()
    out_dir = os.path.dirname(os.path.abspath(args.output))
    os.makedirs(out_dir, exist_ok=True)
    fig.savefig(args.output)
    print(f"plot_divergence: wrote {args.output}")


if __name__ == "__main__":
    main()
