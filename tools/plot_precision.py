#!/usr/bin/python3
"""Plot pure16 precision reports: histograms of delta and Gamma, and per-layer error.

Reads the CSV files precision_report writes with --csv DIR:
  <dataset>_<twin>_samples.csv  index,label,pred_ref,pred_low,agree,finite,guaranteed,
                                strict,delta,gamma,p_ref_top1
  <dataset>_<twin>_layers.csv   layer,type,elements,nonfinite,max_abs,mean_abs,ref_max_abs,
                                relative
and writes, for each data set:
  <dataset>_delta_gamma.png  delta on log-spaced bins (zeros counted in the legend), Gamma
                             on linear bins, and the scatter Gamma vs 2 delta with the
                             guarantee line Gamma = 2 delta;
  <dataset>_layers.png       max and mean |ref - low| per layer (log scale), one line per
                             twin: how the error grows with depth.

Usage: /usr/bin/python3 tools/plot_precision.py --csv-dir DIR [--dataset mnist]
                                                [--out-dir DIR]
"""
import argparse
import csv
import glob
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise SystemExit(f"plot_precision: {path} has no rows")
    return rows


def twin_label(dataset, path, suffix):
    base = os.path.basename(path)[len(dataset) + 1 : -len(suffix)]
    low, kind, acc = (base.split("_") + ["", "", ""])[:3]
    return f"{low} {kind} (acc {acc})"


def floats(rows, key):
    out = []
    for r in rows:
        try:
            out.append(float(r[key]))
        except ValueError:
            out.append(math.nan)
    return np.array(out)


def plot_dataset(csv_dir, dataset, out_dir):
    sample_files = sorted(glob.glob(os.path.join(csv_dir, f"{dataset}_*_samples.csv")))
    if not sample_files:
        raise SystemExit(f"plot_precision: no {dataset}_*_samples.csv in {csv_dir}")
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.8))
    ax_d, ax_g, ax_s = axes
    lo, hi = 1e-8, 1.0
    dbins = np.logspace(math.log10(lo), math.log10(hi), 41)
    gbins = np.linspace(0.0, 1.0, 41)
    twins = []
    for path in sample_files:
        rows = read_csv(path)
        d = floats(rows, "delta")
        g = floats(rows, "gamma")
        ok = np.isfinite(d) & np.isfinite(g)
        twins.append((twin_label(dataset, path, "_samples.csv"), d[ok], g[ok], int(np.sum(~ok))))
    positive = np.concatenate([np.concatenate([2 * d[d > 0], g[g > 0]]) for _, d, g, _ in twins])
    floor = max(lo, float(np.min(positive)) / 2) if len(positive) else lo
    for k, (label, d, g, bad) in enumerate(twins):
        zeros = int(np.sum(d < lo))
        extra = (f", {zeros} below {lo:g}" if zeros else "") + (f", {bad} non-finite" if bad else "")
        ax_d.hist(np.clip(d, lo, hi), bins=dbins, histtype="step", linewidth=1.5,
                  label=f"{label}: mean {np.mean(d):.2e}{extra}")
        if k == 0:  # Gamma is the reference model's: the same for every twin
            ax_g.hist(g, bins=gbins, histtype="stepfilled", alpha=0.6,
                      label=f"reference model: mean {np.mean(g):.3f}, var {np.var(g):.2e}")
        guaranteed = np.mean(g >= 2 * d) if len(d) else math.nan
        # Points below the axes' floor (delta or Gamma = 0) are drawn on it.
        ax_s.scatter(np.maximum(2 * d, floor), np.maximum(g, floor), s=3, alpha=0.4,
                     label=f"{label}: {100 * guaranteed:.2f} % guaranteed")
    ax_d.set_xscale("log")
    ax_d.set_yscale("log")
    ax_d.set_xlabel("delta = max_i |p_ref,i - p_low,i|")
    ax_d.set_ylabel("samples")
    ax_d.set_title(f"{dataset}: delta")
    ax_d.legend(fontsize=7, loc="upper left")
    ax_g.set_yscale("log")
    ax_g.set_xlabel("Gamma = p_ref top-1 - top-2")
    ax_g.set_ylabel("samples")
    ax_g.set_title(f"{dataset}: Gamma (reference model's margin)")
    ax_g.legend(fontsize=7, loc="upper left")
    ax_s.plot([floor, 2.0], [floor, 2.0], "k--", linewidth=1, label="Gamma = 2 delta")
    ax_s.set_xlim(floor, 2.0)
    ax_s.set_ylim(floor, 2.0)
    ax_s.set_xscale("log")
    ax_s.set_yscale("log")
    ax_s.set_xlabel("2 delta")
    ax_s.set_ylabel("Gamma")
    ax_s.set_title("on or above the line: prediction guaranteed")
    ax_s.legend(fontsize=7, markerscale=4)
    fig.tight_layout()
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, f"{dataset}_delta_gamma.png")
    fig.savefig(out, dpi=110)
    plt.close(fig)
    print(f"wrote {out}")

    layer_files = sorted(glob.glob(os.path.join(csv_dir, f"{dataset}_*_layers.csv")))
    if not layer_files:
        return
    fig, ax = plt.subplots(figsize=(9, 4.8))
    types = None
    for path in layer_files:
        rows = read_csv(path)
        label = twin_label(dataset, path, "_layers.csv")
        x = [int(r["layer"]) for r in rows]
        types = [r["type"] for r in rows]
        line = ax.plot(x, floats(rows, "max_abs"), marker="o", label=f"{label} max")
        ax.plot(x, floats(rows, "mean_abs"), marker=".", linestyle="--",
                color=line[0].get_color(), label=f"{label} mean")
    ax.set_yscale("log")
    ax.set_xticks(range(len(types)))
    ax.set_xticklabels([f"{i}\n{t}" for i, t in enumerate(types)], fontsize=7)
    ax.set_ylabel("|output_ref - output_low|")
    ax.set_title(f"{dataset}: per-layer error of the twins")
    ax.legend(fontsize=7)
    fig.tight_layout()
    out = os.path.join(out_dir, f"{dataset}_layers.png")
    fig.savefig(out, dpi=110)
    plt.close(fig)
    print(f"wrote {out}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--csv-dir", required=True)
    p.add_argument("--dataset", action="append",
                   help="data set prefix (repeatable); default: every one found")
    p.add_argument("--out-dir", default=None, help="default: the CSV folder")
    a = p.parse_args()
    datasets = a.dataset
    if not datasets:
        found = glob.glob(os.path.join(a.csv_dir, "*_samples.csv"))
        datasets = sorted({os.path.basename(f).split("_")[0] for f in found})
        if not datasets:
            sys.exit(f"plot_precision: no *_samples.csv in {a.csv_dir}")
    for d in datasets:
        plot_dataset(a.csv_dir, d, a.out_dir or a.csv_dir)


if __name__ == "__main__":
    main()
