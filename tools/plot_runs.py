#!/usr/bin/python3
"""Plot the per-epoch CSV logs of pure16's examples: accuracy and loss curves per precision.

usage: tools/plot_runs.py [-o OUT.png] [--title TITLE] CSV [CSV ...]
       tools/plot_runs.py -o curves.png runs/            (every *.csv in a folder)

Each CSV is one run as written by `--csv DIR` (columns epoch, train_loss, train_acc,
test_acc, seconds, lr, ...); its name ends in _<run>.csv (mnist_mlp_fp16.csv,
mnist_mlp_fp16+compensated.csv, mnist_mlp_mixed-fp16-fp32.csv for "mixed(fp16/fp32)"). The
figure shows test and train accuracy on the left (empty for a regression loss) and train
loss on the right, one colour per run, so fp16 is seen beside fp32. Divergence logs
(*_divergence.csv) are skipped: tools/plot_divergence.py plots them. Uses matplotlib's Agg
backend (no display needed).
"""
import argparse
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"fp16": "tab:red", "bf16": "tab:orange", "fp32": "tab:blue", "fp64": "tab:green",
          "fp16+stochastic": "tab:purple", "fp16+compensated": "tab:brown",
          "bf16+stochastic": "tab:pink", "bf16+compensated": "tab:olive",
          "mixed(fp16/fp32)": "tab:cyan", "mixed(bf16/fp32)": "tab:gray"}
# Twins often overlap: distinct markers (hollow for the wider types) keep both visible.
MARKERS = {"fp16": ("o", 7), "bf16": ("^", 7), "fp32": ("s", 10), "fp64": ("D", 11),
           "fp16+stochastic": ("v", 7), "fp16+compensated": ("P", 7),
           "mixed(fp16/fp32)": ("x", 8), "mixed(bf16/fp32)": ("x", 8)}


def num(v, scale=1.0):
    return scale * float(v) if v not in (None, "") else float("nan")


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
            rows["train_acc"].append(num(r["train_acc"], 100.0))
            rows["test_acc"].append(num(r["test_acc"], 100.0))
    if not rows["epoch"]:
        sys.exit(f"plot_runs: {path} holds no epochs")
    return rows


def run_label(stem):
    """The run's name from a log's stem <example>_<tag>: mixed-fp16-fp32 is shown as
    mixed(fp16/fp32)."""
    tag = stem.rsplit("_", 1)[-1] if "_" in stem else stem
    if tag.startswith("mixed-"):
        parts = tag.split("-")
        tag = f"mixed({parts[1]}/{parts[2]})" if len(parts) == 3 else tag
    return tag


def label_of(path):
    return run_label(os.path.splitext(os.path.basename(path))[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+", help="CSV files or folders of CSV files")
    ap.add_argument("-o", "--output", default="curves.png")
    ap.add_argument("--title", default=None)
    args = ap.parse_args()

    paths = []
    for p in args.inputs:
        if os.path.isdir(p):
            paths += sorted(os.path.join(p, f) for f in os.listdir(p)
                            if f.endswith(".csv") and not f.endswith("_divergence.csv"))
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
        hollow = {"mfc": "none"} if name in ("fp32", "fp64") or name.startswith("mixed") else {}
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
    ax_loss.set_ylabel("train loss")
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


if __name__ == "__main__":
    main()
