#!/usr/bin/python3
"""Write REPRODUCTION.md from the JSON reports of scripts/reproduce.sh.

usage: tools/reproduction_report.py --scale S --out REPRODUCTION.md [--img-dir DIR]
                                    [--plan PLAN] [--commit C] RUN_DIR

RUN_DIR holds <network>_seed<k>.json, one per example run (examples' --json: every precision
of one seed, with the delta / Gamma analysis of each run against the fp32 run). The report
has, per network, test accuracy (or reconstruction MSE) mean +- standard deviation over the
seeds for each precision, seconds per epoch, model bytes, the precision analysis, and a plot
of the per-epoch test metric with the seed band (min..max over seeds) shaded; the goals of
the study are checked on these numbers and stated as met or not met. The published figures
stand beside them, labelled as such. Plots need matplotlib (Agg backend).
"""
import argparse
import glob
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys

NETWORKS = {  # name: (title, published figures {precision: text} or None)
    "mlp": ("MNIST MLP 784-512-512-10 (the paper's DNN)", None),
    "lenet": ("MNIST LeNet (6c5-p2-16c5-p2-120-84-10)", None),
    "cnn": ("CIFAR-10 small CNN (c32-p2-c64-p2-c64-p2-128-10)", None),
    "cnn_bn": ("CIFAR-10 small CNN with BatchNorm after each convolution (pure 16-bit BN)", None),
    "alexnet": ("CIFAR-10 AlexNet variant", {
        "fp32": "75.8 +- 0.3", "fp16": "76.0 +- 0.3", "mixed(fp16/fp32)": "75.9"}),
    "autoencoder": ("MNIST autoencoder 784-256-64-256-784, loss = mean over pixels", None),
    "autoencoder_sum": ("MNIST autoencoder 784-256-64-256-784, loss = sum over a sample's pixels",
                        None),
}
MNIST_NETS = ("mlp", "lenet")
CIFAR_NETS = ("cnn", "cnn_bn", "alexnet")
ORDER = ["fp32", "fp16", "mixed(fp16/fp32)", "bf16", "fp16+stochastic", "fp16+compensated"]
COLORS = {"fp32": "tab:blue", "fp16": "tab:red", "mixed(fp16/fp32)": "tab:cyan",
          "bf16": "tab:orange", "fp16+stochastic": "tab:purple", "fp16+compensated": "tab:brown"}


def mean_sd(xs):
    xs = [x for x in xs if x is not None and math.isfinite(x)]
    if not xs:
        return float("nan"), float("nan"), 0
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0), len(xs)


def fmt_pm(m, s, n, scale=1.0, digits=2, sci=False):
    if n == 0:
        return "-"
    if sci:
        return f"{m:.3e} +- {s:.1e}" if n > 1 else f"{m:.3e}"
    return f"{scale * m:.{digits}f} +- {scale * s:.{digits}f}" if n > 1 else f"{scale * m:.{digits}f}"


def sci(v):
    return "-" if v is None or not math.isfinite(v) else f"{v:.2e}"


def load_runs(run_dir):
    """{network: [report JSON of each seed]} sorted by seed."""
    nets = {}
    for path in sorted(glob.glob(os.path.join(run_dir, "*_seed*.json"))):
        m = re.match(r"(.+)_seed(\d+)\.json$", os.path.basename(path))
        if not m:
            continue
        with open(path) as f:
            j = json.load(f)
        j["_seed"] = int(m.group(2))
        nets.setdefault(m.group(1), []).append(j)
    for v in nets.values():
        v.sort(key=lambda j: j["_seed"])
    return nets


def precisions_of(reports):
    seen = []
    for j in reports:
        for r in j["runs"]:
            if r["precision"] not in seen:
                seen.append(r["precision"])
    return sorted(seen, key=lambda p: ORDER.index(p) if p in ORDER else len(ORDER))


def runs_of(reports, precision):
    return [r for j in reports for r in j["runs"] if r["precision"] == precision]


def metric(reports):
    """('accuracy', scale) for classification, ('mse', 1) for regression."""
    return "mse" if reports[0].get("task") == "regression" else "accuracy"


def final_value(run, kind):
    return run["test_loss"] if kind == "mse" else run["test_accuracy"]


def per_epoch(run, kind):
    key = "test_loss" if kind == "mse" else "test_accuracy"
    return [e.get(key) for e in run["epochs"]]


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def machine():
    model = sh("lscpu | sed -n 's/^Model name:[ \\t]*//p'") or platform.processor()
    flags = set(sh("grep -m1 '^flags' /proc/cpuinfo").split())
    isa = [f for f in ("avx2", "fma", "f16c", "avx512f", "avx512_bf16", "avx512_fp16") if f in flags]
    tpc = sh("lscpu | sed -n 's/^Thread(s) per core:[ \\t]*//p'")
    return (f"{model}, {os.cpu_count()} logical CPUs ({tpc or '?'} thread(s) per core), "
            f"instruction sets: {', '.join(isa)}; {sh('c++ --version | head -1')}")


def table_row(cells):
    return "| " + " | ".join(cells) + " |"


def network_section(name, reports, img_dir, rel_img, lines, goals):
    title, published = NETWORKS.get(name, (name, None))
    kind = metric(reports)
    j0 = reports[0]
    o = j0["options"]
    seeds = [j["_seed"] for j in reports]
    lines.append(f"### {title}\n")
    lines.append(
        f"{j0['model']}; {j0['train_samples']} training / {j0['test_samples']} test images, "
        f"{o['epochs']} epochs, batch {o['batch']}, "
        f"{'SGD' if o['optimizer'] == 'momentum' else o['optimizer']} lr {o['lr']}"
        f"{' momentum ' + str(o['momentum']) if o['optimizer'] == 'momentum' else ''}, "
        f"seeds {', '.join(map(str, seeds))} ({len(seeds)} runs per precision).\n")
    precs = precisions_of(reports)
    finals = {p: [final_value(r, kind) for r in runs_of(reports, p)] for p in precs}
    if kind == "accuracy":
        head = ["precision", "test accuracy % (mean +- sd)", "vs fp32 (points)", "min .. max",
                "s/epoch (wall)", "CPU s/epoch", "model bytes", "peak RSS MiB"]
    else:
        head = ["precision", "test MSE (mean +- sd)", "vs fp32", "min .. max", "s/epoch (wall)",
                "CPU s/epoch", "model bytes", "peak RSS MiB"]
    if published:
        head.append("published (100 epochs, 50k images)")
    lines.append(table_row(head))
    lines.append(table_row(["---"] * len(head)))
    fp32_mean = mean_sd(finals.get("fp32", []))[0]
    stats = {}
    for p in precs:
        rs = runs_of(reports, p)
        m, s, n = mean_sd(finals[p])
        stats[p] = (m, s, n)
        wall = mean_sd([statistics.fmean(r["epoch_seconds"]) for r in rs])[0]
        cpu = mean_sd([statistics.fmean(r["epoch_cpu_seconds"]) for r in rs])[0]
        rss = max(r["peak_rss_bytes"] for r in rs) / 2**20
        if kind == "accuracy":
            val = fmt_pm(m, s, n, 100.0)
            diff = "-" if p == "fp32" else f"{100.0 * (m - fp32_mean):+.2f}"
            rng = f"{100 * min(finals[p]):.2f} .. {100 * max(finals[p]):.2f}"
        else:
            val = fmt_pm(m, s, n, sci=True)
            diff = "-" if p == "fp32" else f"x {m / fp32_mean:.3f}"
            rng = f"{min(finals[p]):.3e} .. {max(finals[p]):.3e}"
        row = [p, val, diff, rng, f"{wall:.1f}", f"{cpu:.1f}", str(rs[0]["model_bytes"]),
               f"{rss:.0f}"]
        if published:
            row.append(published.get(p, "-"))
        lines.append(table_row(row))
    lines.append("")
    if kind == "accuracy":
        lines.append("Model bytes: the weights as stored (mixed precision's fp32 master copy "
                     "counted: it is the model it trains). mixed(fp16/fp32) is not pure 16-bit.\n")
    plot = plot_curves(name, title, reports, precs, kind, img_dir)
    if plot:
        lines.append(f"![{title}]({rel_img}/{os.path.basename(plot)})\n")
    if kind == "accuracy":
        analysis_section(reports, precs, lines)
    goals[name] = stats
    return stats


def analysis_section(reports, precs, lines):
    rows = {}  # label -> list of analysis dicts over seeds
    for j in reports:
        for r in j["runs"]:
            for a in r.get("analysis_vs_fp32", []):
                rows.setdefault(a["twin"]["label"], []).append(a)
    if not rows:
        return
    lines.append("Precision analysis on the test set against the fp32 model of the same seed "
                 "(delta = max_i |p32_i - p_i|, Gamma = fp32's top-1 minus top-2 probability; "
                 "guaranteed: Gamma >= 2 delta, which proves equal predictions; a violation "
                 "would be a guaranteed sample predicted differently). Means over seeds of each "
                 "seed's mean and variance; violations summed over seeds:\n")
    head = ["twin (vs fp32)", "delta mean", "delta var", "Gamma mean", "Gamma var",
            "guaranteed %", "agreement %", "violations"]
    lines.append(table_row(head))
    lines.append(table_row(["---"] * len(head)))

    def key(label):
        low = label.split(" ")[0]
        rounded = " rounded " in label
        return (0 if rounded else 1, ORDER.index(low) if low in ORDER else 99)

    for label in sorted(rows, key=key):
        a = rows[label]
        f = lambda get: statistics.fmean([get(x) for x in a])  # noqa: E731
        lines.append(table_row([
            label.replace(" (acc float) vs fp32", "").replace(" (acc native) vs fp32", " (native)"),
            sci(f(lambda x: x["delta"]["mean"])), sci(f(lambda x: x["delta"]["variance"])),
            sci(f(lambda x: x["gamma"]["mean"])), sci(f(lambda x: x["gamma"]["variance"])),
            f"{100 * f(lambda x: x['guaranteed_fraction']):.2f}",
            f"{100 * f(lambda x: x['agreement']):.2f}",
            str(sum(x["violations"] for x in a))]))
    lines.append(table_row(["published: fp16 vs fp32", "~1e-3", "1e-5 .. 1e-4", "~1e-1", "~1e-2",
                            "-", "-", "0"]))
    lines.append("\n'rounded': the fp32 model's weights rounded to fp16 / bf16 (the theorem's "
                 "setting); 'trained': a model trained in that mode from the same seed and "
                 "batches.\n")


def plot_curves(name, title, reports, precs, kind, img_dir):
    try:
        import matplotlib
        import matplotlib.ticker
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    os.makedirs(img_dir, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for p in precs:
        curves = [per_epoch(r, kind) for r in runs_of(reports, p)]
        n = min(len(c) for c in curves)
        scale = 100.0 if kind == "accuracy" else 1.0
        xs = list(range(1, n + 1))
        cols = [[scale * c[i] for c in curves if c[i] is not None] for i in range(n)]
        mean = [statistics.fmean(c) for c in cols]
        color = COLORS.get(p)
        ax.plot(xs, mean, marker="o", ms=3, lw=1.4, label=f"{p} ({len(curves)} seeds)", color=color)
        if len(curves) > 1:
            ax.fill_between(xs, [min(c) for c in cols], [max(c) for c in cols], alpha=0.15,
                            color=color, lw=0)
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)" if kind == "accuracy" else "test MSE")
    if kind == "mse":
        ax.set_yscale("log")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = os.path.join(img_dir, f"{name}.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def goal_lines(goals, nets, violations):
    out = []

    def acc(name, p):
        return goals.get(name, {}).get(p, (float("nan"), 0, 0))[0]

    def verdict(ok):
        return "**met**" if ok else "**not met**"

    for name, limit in [(n, 0.3) for n in MNIST_NETS] + [(n, 1.0) for n in CIFAR_NETS]:
        if name not in goals or "fp16" not in goals[name]:
            continue
        gap = 100 * (acc(name, "fp32") - acc(name, "fp16"))
        (_, s32, n32), (_, s16, n16) = goals[name]["fp32"], goals[name]["fp16"]
        se = 100 * math.sqrt(s32**2 / n32 + s16**2 / n16) if min(n32, n16) > 1 else float("nan")
        noise = f", standard error of the difference {se:.2f}" if math.isfinite(se) else ""
        out.append(f"- fp16 within {limit} points of fp32 on {NETWORKS[name][0]}: fp32 - fp16 = "
                   f"{gap:+.2f} points (mean over {n16} seeds{noise}): "
                   f"{verdict(gap <= limit)}")
    out.append(f"- zero theorem violations anywhere: {violations} violation(s) over every "
               f"analysed pair: {verdict(violations == 0)}")
    for name in list(MNIST_NETS) + list(CIFAR_NETS):
        g = goals.get(name, {})
        if "fp16" not in g:
            continue
        f16 = acc(name, "fp16")
        best = [(p, acc(name, p)) for p in ("fp16+stochastic", "fp16+compensated") if p in g]
        if not best:
            continue
        p, v = max(best, key=lambda t: t[1])
        detail = ", ".join(f"{q} {100 * acc(name, q):.2f}" for q, _ in best)
        line = (f"- compensated or stochastic fp16 at least as accurate as fp16 on "
                f"{NETWORKS[name][0]}: fp16 {100 * f16:.2f}, {detail}: {verdict(v >= f16)}")
        f32 = acc(name, "fp32")
        if f16 < f32:
            line += (f"; fp16 is {100 * (f32 - f16):.2f} points below fp32 and the better of the "
                     f"two ({p}) {'recovers' if v >= f32 else 'does not recover'} fp32's "
                     f"{100 * f32:.2f}")
        out.append(line)
    for name in ("autoencoder", "autoencoder_sum"):
        g = goals.get(name, {})
        if "fp16" in g and "fp16+compensated" in g:
            a, b = g["fp16"][0], g["fp16+compensated"][0]
            out.append(f"- compensated fp16 at least as good as fp16 on {NETWORKS[name][0]}: MSE "
                       f"{b:.4e} vs {a:.4e}: {verdict(b <= a)}")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run_dir")
    ap.add_argument("--scale", default="?")
    ap.add_argument("--out", default="REPRODUCTION.md")
    ap.add_argument("--img-dir", default="docs/img/reproduction")
    ap.add_argument("--plan", default="")
    ap.add_argument("--commit", default="")
    a = ap.parse_args()
    nets = load_runs(a.run_dir)
    if not nets:
        sys.exit(f"reproduction_report: no <network>_seed<k>.json in {a.run_dir}")
    out_dir = os.path.dirname(os.path.abspath(a.out))
    rel_img = os.path.relpath(os.path.abspath(a.img_dir), out_dir)
    def read(name, default="?"):
        path = os.path.join(a.run_dir, name)
        return open(path).read().strip().replace("\n", " ") if os.path.exists(path) else default

    commit = a.commit or read("commit", "")
    if not commit:  # runs made by hand: the checkout's state now
        commit = sh("git rev-parse --short HEAD")
        if sh("git status --porcelain --untracked-files=no -- include examples"):
            commit += " (with local changes)"
    wall = ""
    wall_path = os.path.join(a.run_dir, "wall_seconds")
    if os.path.exists(wall_path):
        secs = int(open(wall_path).read().strip() or 0)
        wall = f"{secs // 3600} h {secs % 3600 // 60} min {secs % 60} s"
    started = read("started")
    threads = {j["options"]["threads"] for v in nets.values() for j in v}

    body, goals = [], {}
    order = [n for n in NETWORKS if n in nets] + [n for n in nets if n not in NETWORKS]
    violations = 0
    for name in order:
        network_section(name, nets[name], a.img_dir, rel_img, body, goals)
        for j in nets[name]:
            for r in j["runs"]:
                violations += sum(x["violations"] for x in r.get("analysis_vs_fp32", []))

    head = ["# Pure 16-bit training reproduced on a CPU", "",
            "Generated by `scripts/reproduce.sh` (tools/reproduction_report.py) from the JSON "
            "reports of the runs; every number below comes from those runs. Do not edit by "
            "hand: run the script again.", "",
            "## How this was run", "",
            f"- command: `scripts/reproduce.sh --scale {a.scale}` (scale '{a.scale}'; "
            "`--scale full` is the published protocol, see the script's header for its size "
            "and expected run time)",
            f"- code: commit `{commit}` (the runs' build of include/ and examples/)",
            f"- machine: {machine()}",
            f"- started {started}; wall time of all runs: {wall or '?'}; load average (1, 5, "
            f"15 min) before: {read('load_before')}, after: {read('load_after')}",
            f"- every run single-threaded ({', '.join(map(str, sorted(threads)))} thread), "
            f"runs side by side, as many as the machine has CPUs: seconds per epoch are "
            "measured that way (CPU s/epoch is the process's CPU time, less sensitive to the "
            "neighbour)",
            "- each seed is one process training every precision from the same initial weights "
            "(rounded once to the type) and the same batches in the same order", ""]
    if a.plan:
        head += ["Sizes of this scale (train images, 0 = all; epochs; seeds):", "",
                 "| network | example | train images | epochs | seeds | precisions |",
                 "|---|---|---|---|---|---|"]
        for line in a.plan.strip().splitlines():
            n, ex, lim, ep, se, pr = line.split("|")
            head.append(table_row([n, f"`{ex}`", lim if lim != "0" else "all", ep, se,
                                   pr.replace(",", ", ")]))
        head.append("")
    head += ["## Goals", ""] + goal_lines(goals, nets, violations) + [""]
    head += ["## Results per network", ""]
    text = "\n".join(head + body) + "\n"
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, a.out)
    print(f"reproduction_report: {a.out} ({len(nets)} networks)")


if __name__ == "__main__":
    main()
