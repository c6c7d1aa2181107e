#!/usr/bin/python3
"""Plot the per-epoch CSV logs of pure16's examples: accuracy and loss curves per precision.

usage: tools/plot_runs.py [-o OUT.png] [--title TITLE] CSV [CSV ...]
       tools/plot_runs.py -o curves.png runs/            (every *.csv in a folder)

Each CSV is one run as written by `--csv DIR` (columns epoch, train_loss, train_acc,
test_acc, seconds, lr); its name ends in _<precision>.csv (mnist_mlp_fp16.csv). The figure
shows test and train accuracy on the left and train loss on the right, one colour per
precision, so fp16 is seen beside fp32. Uses matplotlib's Agg backend (no display needed).
"""
import argparse
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"fp16": "tab:red", "bf16": "tab:orange", "fp32": "tab:blue", "fp64": "tab:green"}
# Twins often overlap: distinct markers (hollow for the wider types) keep both visible.
MARKERS = {"fp16": ("o", 7), "bf16": ("^", 7), "fp32": ("s", 10), "fp64": ("D", 11)}


def read_run(path):
    rows = {"epoch": [], "train_loss": [], "train_acc": [], "test_acc": []}
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = {"epoch", "train_loss", "train_acc", "test_acc"} - set(reader.fieldnames or [])
        if missing:
            sys.exit(f"plot_runs: {path} lacks columns {sorted(missing)}")
        for r in reader:
            rows["epoch"].append(int(r["epoch"]))
            rows["train_loss"].append(float(r["train_loss"]))
            rows["train_acc"].append(100.0 * float(r["train_acc"]))
            rows["test_acc"].append(100.0 * float(r["test_acc"]) if r["test_acc"] else float("nan"))
    if not rows["epoch"]:
        sys.exit(f"plot_runs: {path} holds no epochs")
    return rows


def label_of(path):
    stem = os.path.splitext(os.path.basename(path))[0]
    return stem.rsplit("_", 1)[-1] if "_" in stem else stem


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+", help="CSV files or folders of CSV files")
    ap.add_argument("-o", "--output", default="curves.png")
    ap.add_argument("--title", default=None)
    args = ap.parse_args()

    paths = []
    for p in args.inputs:
        if os.path.isdir(p):
            paths += sorted(os.path.join(p, f) for f in os.listdir(p) if f.endswith(".csv"))
        else:
            paths.append(p)
    if not paths:
        sys.exit("plot_runs: no CSV files given")
    runs = [(label_of(p), read_run(p)) for p in paths]
    order = list(COLORS)
    runs.sort(key=lambda r: order.index(r[0]) if r[0] in order else len(order))

    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    for name, r in runs:
        color = COLORS.get(name)
        marker, ms = MARKERS.get(name, ("o", 6))
        hollow = {"mfc": "none"} if name in ("fp32", "fp64") else {}
        ax_acc.plot(r["epoch"], r["test_acc"], "-", marker=marker, color=color,
                    label=f"{name} test", ms=ms, **hollow)
        ax_acc.plot(r["epoch"], r["train_acc"], "--", marker=marker, color=color,
                    label=f"{name} train", alpha=0.6, ms=ms - 2, **hollow)
        ax_loss.plot(r["epoch"], r["train_loss"], "-", marker=marker, color=color, label=name,
                     ms=ms, **hollow)
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy (%)")
    ax_acc.set_title("accuracy")
    ax_acc.grid(alpha=0.3)
    ax_acc.legend(fontsize=8)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("train loss (cross-entropy)")
    ax_loss.set_yscale("log")
    ax_loss.set_title("training loss")
    ax_loss.grid(alpha=0.3, which="both")
    ax_loss.legend(fontsize=8)
    for ax in (ax_acc, ax_loss):
        ax.xaxis.get_major_locator().set_params(integer=True)
    default_title = os.path.basename(paths[0]).rsplit("_", 1)[0]
    fig.suptitle(args.title or f"{default_title}: " + " vs ".join(n for n, _ in runs))
    fig.tight_layout()
    out_dir = os.path.dirname(os.path.abspath(args.output))
    os.makedirs(out_dir, exist_ok=True)
    fig.savefig(args.output)
    print(f"plot_runs: wrote {args.output}")


main()
