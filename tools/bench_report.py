#!/usr/bin/env python3
"""Build BENCHMARKS.md (and the seconds-per-epoch plot) from the JSON files of one
scripts/bench.sh run: models.json and gemm.json (Google Benchmark), torch_run<i>.json (the PyTorch
peer, one file per process; the fastest figure of each is kept), models_avx2.json and
torch_generic.json (bf16 without AVX512_BF16 kernels), cifar_<precision>.json (example runs:
peak memory) and system.json (machine).

  python3 tools/bench_report.py --dir build/bench/results --markdown BENCHMARKS.md \\
      --plot docs/img/bench_epoch.png
"""
import argparse
import glob
import json
import os
import re
import sys

PRECISIONS = ["fp16", "bf16", "fp32"]
NETS = [("mnist_mlp", "MNIST MLP 784-512-512-10, batch 128, 60k images"),
        ("lenet", "LeNet (MNIST), batch 64, 60k images"),
        ("cifar_small_cnn", "small CIFAR CNN c32-p2-c64-p2-c64-p2-128-10, batch 64, 10k images"),
        ("cifar_alexnet", "CIFAR AlexNet variant, batch 256, 50k images")]


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def to_seconds(b, thr=None):
    """Seconds per iteration: CPU time of the benchmark thread for 1-thread runs (what other
    processes on a shared machine disturb least), wall-clock time for more threads."""
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b.get("time_unit", "ns")]
    one = thr == 1 if thr is not None else b["name"].rsplit("threads:", 1)[-1].startswith("1/")
    return (b["cpu_time"] if one else b["real_time"]) * scale


def pure16_results(models):
    """{(kind, net, precision, threads): benchmark entry}"""
    out = {}
    if not models:
        return out
    # with --benchmark_repetitions the median of the repetitions stands for the benchmark
    medians = any(b.get("aggregate_name") == "median" for b in models["benchmarks"])
    for b in models["benchmarks"]:
        if "error_occurred" in b:
            continue
        if medians and b.get("aggregate_name") != "median":
            continue
        if not medians and b.get("run_type", "iteration") != "iteration":
            continue
        m = re.match(r"(train|infer)/(\w+)/(\w+)/threads:(\d+)", b["name"])
        if m:
            out[(m[1], m[2], m[3], int(m[4]))] = b
            continue
        m = re.match(r"mlp4096_b1/(\w+)/threads:(\d+)", b["name"])
        if m:
            out[("b1", "mlp4096", m[1], int(m[2]))] = b
    return out


def torch_results(peer):
    out = {}
    if not peer:
        return out
    for r in peer["results"]:
        # the same rule as to_seconds: CPU time with one thread, wall time with more
        sfx = "_cpu_s" if r["threads"] == 1 and "inference_cpu_s" in r else "_s"
        if r["network"] == "mlp_4096x3_b1":
            out[("b1", "mlp4096", r["precision"], r["threads"])] = r["inference" + sfx]
        else:
            out[("train", r["network"], r["precision"], r["threads"])] = r["train_step" + sfx]
            out[("infer", r["network"], r["precision"], r["threads"])] = r["inference" + sfx]
    return out


def fmt(x, digits=3):
    if x is None:
        return "–"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.{digits}g}"


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def build(args):
    d = args.dir
    system = load(os.path.join(d, "system.json")) or {}
    models = load(os.path.join(d, "models.json"))
    gemm = load(os.path.join(d, "gemm.json"))
    # the peer runs in several processes (torch_run<i>.json): its step time changes by up to
    # 1.8x from one process to the next here, so each figure is the fastest of the processes
    runs = [load(p) for p in sorted(glob.glob(os.path.join(d, "torch_run*.json")))]
    runs = [r for r in runs if r] or [r for r in [load(os.path.join(d, "torch.json"))] if r]
    peer = runs[0] if runs else None
    p16 = pure16_results(models)
    pt = {}
    for r in runs:
        for k, v in torch_results(r).items():
            pt[k] = v if k not in pt else min(pt[k], v)
    # bf16 without AVX512_BF16 kernels: pure16 with PURE16_ISA=avx2, PyTorch without oneDNN
    p16_avx2 = pure16_results(load(os.path.join(d, "models_avx2.json")))
    generic_peer = load(os.path.join(d, "torch_generic.json"))
    pt_generic = torch_results(generic_peer)

    def generic_pair(net):
        """(pure16 bf16 AVX2 epoch s, PyTorch generic bf16 epoch s) or None."""
        b = p16_avx2.get(("train", net, "bf16", 1))
        s = pt_generic.get(("train", net, "bf16", 1))
        if not b or s is None:
            return None
        steps = next(r["steps_per_epoch"] for r in generic_peer["results"] if r["network"] == net)
        return to_seconds(b) * b["steps_per_epoch"], s * steps

    def step(net, prec, thr):
        b = p16.get(("train", net, prec, thr))
        return to_seconds(b) if b else None

    def epoch(net, prec, thr):
        b = p16.get(("train", net, prec, thr))
        return to_seconds(b) * b["steps_per_epoch"] if b else None

    def t_epoch(net, prec, thr):
        s = pt.get(("train", net, prec, thr))
        if s is None:
            return None
        for r in peer["results"]:
            if r["network"] == net:
                return s * r["steps_per_epoch"]
        return None

    L = []
    w = L.append
    w("# pure16 benchmarks\n")
    w("Generated by `scripts/bench.sh" + (" --quick" if system.get("quick") else "") +
      "` (tools/bench_report.py); every ratio below comes from this one run. "
      "Do not edit by hand: run the script again.\n")
    w("## Machine and conditions\n")
    w(f"- CPU: **{system.get('cpu_model', '?')}**, {system.get('cpus', '?')} logical CPUs, "
      f"{system.get('threads_per_core', '?')} thread(s) per core, "
      f"{system.get('cores_per_socket', '?')} core(s) per socket "
      "(`lscpu`; on a VM these are virtual CPUs whose sharing with other guests is unknown)")
    w(f"- instruction sets used or relevant: {', '.join(system.get('isa_flags', []))}")
    w(f"- compiler: {system.get('compiler', '?')}; date: {system.get('date_utc', '?')}")
    la0, la1 = system.get("loadavg_before"), system.get("loadavg_after")
    if la0:
        w(f"- load average (1, 5, 15 min) before the run: {', '.join(f'{x:.2f}' for x in la0)}"
          + (f"; after: {', '.join(f'{x:.2f}' for x in la1)}" if la1 else "")
          + ". Other processes on the machine (e.g. compilers) slow the timings, the "
          "2-thread ones most.")
    if peer:
        libs = ", ".join(os.path.basename(x) for x in peer.get("blas_libraries_loaded", []))
        w(f"- PyTorch {peer.get('torch_version')} (Debian python3-torch), BLAS loaded: {libs}; "
          f"BLAS_INFO={peer.get('blas_info', {}).get('BLAS_INFO')} (Debian's build links the "
          "system libblas.so.3, which update-alternatives points at OpenBLAS); "
          "OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset for the peer, OpenBLAS's thread pool set "
          "to the run's thread count")
        if len(runs) > 1:
            w(f"- PyTorch figures: the fastest of {len(runs)} processes run one after another "
              "(its times change by up to 1.8x from one process to the next on this machine; "
              "the fastest favours the peer)")
    w("- times: with 1 thread the CPU time of the working thread (pure16: Google Benchmark's "
      "cpu_time; PyTorch: process CPU time), which other processes disturb least; with 2 "
      "threads wall-clock time. OMP_WAIT_POLICY during the run: "
      f"{system.get('omp_wait_policy') or 'unset (libgomp default: spin, then sleep)'}")
    if models and any(b.get("aggregate_name") == "median" for b in models["benchmarks"]):
        reps = models["context"].get("benchmark_repetitions") or max(
            b.get("repetitions", 1) for b in models["benchmarks"])
        w(f"- pure16 figures: median of {reps} repetitions, interleaved in random order "
          "(`--benchmark_enable_random_interleaving`), so that a burst of load from other "
          "processes does not fall on one precision only")
    w("- seconds per epoch = time of one training step x steps per epoch, on both sides "
      "(random inputs; the arithmetic does not depend on the values); one step = forward, "
      "softmax cross-entropy, backward, SGD momentum 0.9 update\n")
    w("Commands: `scripts/bench.sh` runs `bench_models --benchmark_out=models.json`, "
      "`bench_gemm_avx2 --benchmark_out=gemm.json`, "
      "`cifar10_cnn --precision P --epochs 1 --threads 1 --train-limit N --json cifar_P.json` "
      "and `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 "
      "bench/peers/torch_train.py --threads 1 2 --out torch_run<i>.json` (i = 1..3, "
      "`--peer-runs`), then `PURE16_ISA=avx2 bench_models` and `torch_train.py --no-mkldnn` "
      "for the bf16 table without AVX512_BF16 kernels.\n")

    for thr in (1, 2):
        w(f"## Training, seconds per epoch, {thr} thread{'s' if thr > 1 else ''}\n")
        w("| network | pure16 fp16 | pure16 bf16 | pure16 fp32 | PyTorch fp32 | PyTorch bf16 | "
          "fp16 / PyTorch fp32 | bf16 / PyTorch bf16 | fp16 / pure16 fp32 |")
        w("|---|---|---|---|---|---|---|---|---|")
        for net, desc in NETS:
            e = {p: epoch(net, p, thr) for p in PRECISIONS}
            if all(v is None for v in e.values()):
                continue
            tf, tb = t_epoch(net, "fp32", thr), t_epoch(net, "bf16", thr)
            w(f"| {desc} | {fmt(e['fp16'])} | {fmt(e['bf16'])} | {fmt(e['fp32'])} | {fmt(tf)} | "
              f"{fmt(tb)} | {fmt(ratio(e['fp16'], tf))} | {fmt(ratio(e['bf16'], tb))} | "
              f"{fmt(ratio(e['fp16'], e['fp32']))} |")
        w("")

    gen = {net: generic_pair(net) for net, _ in NETS}
    if any(gen.values()):
        w("## bf16 on a CPU without AVX512_BF16 kernels, seconds per epoch, 1 thread\n")
        w("Emulated on this CPU: pure16 limited to its AVX2 kernels (`PURE16_ISA=avx2`: bf16 "
          "converted to float, float FMAs) beside PyTorch with oneDNN disabled "
          "(`torch_train.py --no-mkldnn`: its generic bf16 CPU code, which PyTorch runs where "
          "oneDNN has no bf16 kernels for the CPU).\n")
        w("| network | pure16 bf16 (AVX2) | PyTorch bf16 (generic) | pure16 / PyTorch |")
        w("|---|---|---|---|")
        for net, desc in NETS:
            if gen[net]:
                a, b = gen[net]
                w(f"| {desc} | {fmt(a)} | {fmt(b)} | {fmt(ratio(a, b))} |")
        w("")

    w("## Two threads against one (training step)\n")
    w("| network | fp16 speed-up | bf16 speed-up | fp32 speed-up | PyTorch fp32 speed-up |")
    w("|---|---|---|---|---|")
    for net, desc in NETS:
        s = [ratio(step(net, p, 1), step(net, p, 2)) for p in PRECISIONS]
        if all(v is None for v in s):
            continue
        tps = ratio(pt.get(("train", net, "fp32", 1)), pt.get(("train", net, "fp32", 2)))
        w(f"| {net} | " + " | ".join(fmt(v) + "x" if v else "–" for v in s) +
          f" | {fmt(tps) + 'x' if tps else '–'} |")
    w("")

    w("## Inference, milliseconds per batch, 1 thread\n")
    w("| network | pure16 fp16 | pure16 bf16 | pure16 fp32 | PyTorch fp32 | PyTorch bf16 | "
      "fp16 / pure16 fp32 | fp16 / PyTorch fp32 |")
    w("|---|---|---|---|---|---|---|---|")
    rows = [(n, d) for n, d in NETS] + [("mlp4096", "4096-4096-4096-10 MLP, batch 1")]
    for net, desc in rows:
        kind = "b1" if net == "mlp4096" else "infer"
        v = {p: (to_seconds(p16[(kind, net, p, 1)]) * 1e3 if (kind, net, p, 1) in p16 else None)
             for p in PRECISIONS}
        if all(x is None for x in v.values()):
            continue
        tf = pt.get((kind, net, "fp32", 1))
        tb = pt.get((kind, net, "bf16", 1))
        tf = tf * 1e3 if tf else None
        tb = tb * 1e3 if tb else None
        w(f"| {desc} | {fmt(v['fp16'])} | {fmt(v['bf16'])} | {fmt(v['fp32'])} | {fmt(tf)} | "
          f"{fmt(tb)} | {fmt(ratio(v['fp16'], v['fp32']))} | {fmt(ratio(v['fp16'], tf))} |")
    w("")

    cifar = {p: load(os.path.join(d, f"cifar_{p}.json")) for p in PRECISIONS}
    if any(cifar.values()):
        w("## Peak memory of a training run (cifar10_cnn small CNN, one precision per process)\n")
        w("| precision | peak RSS (MiB) | model (KiB) | seconds per epoch | train images |")
        w("|---|---|---|---|---|")
        peak = {}
        for p in PRECISIONS:
            c = cifar[p]
            if not c:
                continue
            r = c["runs"][0]
            peak[p] = r["peak_rss_bytes"] / 2**20
            w(f"| {p} | {peak[p]:.0f} | {r['model_bytes'] / 1024:.0f} | "
              f"{fmt(r['epoch_seconds'][-1] if isinstance(r['epoch_seconds'], list) else r['epoch_seconds'])} "
              f"| {c['train_samples']} |")
        if "fp16" in peak and "fp32" in peak:
            w(f"\nfp16 / fp32 peak memory: **{peak['fp16'] / peak['fp32']:.2f}x**")
        w("")

    if gemm:
        w("## GEMM, GFLOP/s, 1 thread (Eigen float built for AVX2+FMA)\n")
        g = {}
        for b in gemm["benchmarks"]:
            m = re.match(r"BM_(pure16|eigen)<(\w+(?:::\w+)?)>/(M:\d+/N:\d+/K:\d+/tA:\d/tB:\d)/thr:1",
                         b["name"])
            if m and "GFLOPS" in b:
                g[(m[1] + "_" + m[2], m[3])] = b["GFLOPS"]
        shapes = sorted({s for _, s in g}, key=lambda s: [int(x) for x in re.findall(r"\d+", s)])
        w("| shape | pure16 half | pure16 bfloat16 | pure16 float | Eigen float | "
          "half / Eigen | bfloat16 / Eigen | float / Eigen |")
        w("|---|---|---|---|---|---|---|---|")
        for s in shapes:
            e = g.get(("eigen_float", s))
            h, bf, f = (g.get((k, s)) for k in ("pure16_half", "pure16_bfloat16", "pure16_float"))
            w(f"| {s} | {fmt(h)} | {fmt(bf)} | {fmt(f)} | {fmt(e)} | {fmt(ratio(h, e))} | "
              f"{fmt(ratio(bf, e))} | {fmt(ratio(f, e))} |")
        w("")

    w("## Per-layer time of one training step, 1 thread (ms: forward / backward)\n")
    for net, desc in NETS:
        ent = {p: p16.get(("train", net, p, 1)) for p in PRECISIONS}
        if not ent["fp16"]:
            continue
        keys = sorted(k[:-4] for k in ent["fp16"] if re.match(r"\d\d_\w+_fwd$", k))
        w(f"**{desc}**\n")
        w("| layer | " + " | ".join(p for p in PRECISIONS if ent[p]) + " |")
        w("|---|" + "---|" * sum(1 for p in PRECISIONS if ent[p]))
        for k in keys + ["loss", "update"]:
            cells = []
            for p in PRECISIONS:
                e = ent[p]
                if not e:
                    continue
                if k in ("loss", "update"):
                    cells.append(f"{e.get(k, 0):.3f}")
                else:
                    cells.append(f"{e.get(k + '_fwd', 0):.3f} / {e.get(k + '_bwd', 0):.3f}")
            w(f"| {k} | " + " | ".join(cells) + " |")
        w("")

    # goals of issue 10
    w("## Goals\n")
    goals = []
    for net in ("mnist_mlp", "cifar_small_cnn"):
        r = ratio(epoch(net, "fp16", 1), t_epoch(net, "fp32", 1))
        goals.append((f"{net}: pure16 fp16 <= 1.0x PyTorch fp32 (1 thread)", r, 1.0))
        r = ratio(epoch(net, "fp16", 1), epoch(net, "fp32", 1))
        goals.append((f"{net}: pure16 fp16 <= 0.9x pure16 fp32 (1 thread)", r, 0.9))
        r = ratio(epoch(net, "bf16", 1), t_epoch(net, "bf16", 1))
        bf16hw = "avx512_bf16" in system.get("isa_flags", [])
        goals.append((f"{net}: pure16 bf16 <= 0.1x PyTorch bf16 (1 thread"
                      + ("; this CPU HAS AVX512_BF16, the goal is stated for CPUs without" if bf16hw
                         else "") + ")", r, 0.1))
        if gen.get(net):
            goals.append((f"{net}: pure16 bf16 <= 0.1x PyTorch bf16 without AVX512_BF16 kernels "
                          "(emulated, table above)", ratio(*gen[net]), 0.1))
        for p in PRECISIONS:
            r = ratio(step(net, p, 1), step(net, p, 2))
            goals.append((f"{net} {p}: 2 threads >= 1.7x one thread", None if r is None else 1 / r,
                          1 / 1.7))
    v = {p: p16.get(("b1", "mlp4096", p, 1)) for p in PRECISIONS}
    if v["fp16"] and v["fp32"]:
        goals.append(("batch-1 4096-MLP inference: fp16 <= 0.6x fp32",
                      to_seconds(v["fp16"]) / to_seconds(v["fp32"]), 0.6))
    c16, c32 = cifar.get("fp16"), cifar.get("fp32")
    if c16 and c32:
        goals.append(("peak memory of fp16 training <= 0.6x fp32",
                      c16["runs"][0]["peak_rss_bytes"] / c32["runs"][0]["peak_rss_bytes"], 0.6))
    w("| goal | measured | met |")
    w("|---|---|---|")
    for name, r, limit in goals:
        if r is None:
            w(f"| {name} | not measured | – |")
        elif "threads" in name:
            w(f"| {name} | {1 / r:.2f}x | {'yes' if r <= limit else 'no'} |")
        else:
            w(f"| {name} | {r:.2f}x | {'yes' if r <= limit else 'no'} |")
    w("")
    if args.notes and os.path.exists(args.notes):
        with open(args.notes) as f:
            w(f.read())
    if args.plot:
        w(f"![seconds per epoch]({os.path.relpath(args.plot, os.path.dirname(args.markdown) or '.')})\n")

    text = "\n".join(L) + "\n"
    tmp = args.markdown + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, args.markdown)

    if args.plot:
        plot(args.plot, epoch, t_epoch, system)


def plot(path, epoch, t_epoch, system):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nets = [(n, d) for n, d in NETS if epoch(n, "fp16", 1) is not None]
    series = [("pure16 fp16", lambda n: epoch(n, "fp16", 1)),
              ("pure16 bf16", lambda n: epoch(n, "bf16", 1)),
              ("pure16 fp32", lambda n: epoch(n, "fp32", 1)),
              ("PyTorch fp32", lambda n: t_epoch(n, "fp32", 1)),
              ("PyTorch bf16", lambda n: t_epoch(n, "bf16", 1))]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.16
    for i, (label, fn) in enumerate(series):
        xs, ys = [], []
        for j, (n, _) in enumerate(nets):
            v = fn(n)
            if v is not None:
                xs.append(j + (i - 2) * width)
                ys.append(v)
        bars = ax.bar(xs, ys, width, label=label)
        ax.bar_label(bars, fmt="%.3g", fontsize=7)
    ax.set_xticks(range(len(nets)), [n for n, _ in nets])
    ax.set_ylabel("seconds per epoch (1 thread)")
    ax.set_yscale("log")
    ax.set_title(f"Training time per epoch — {system.get('cpu_model', '')}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True, help="folder with the run's JSON files")
    ap.add_argument("--markdown", default="BENCHMARKS.md")
    ap.add_argument("--plot", default=None, help="PNG of seconds per epoch")
    ap.add_argument("--notes", default=None,
                    help="markdown appended after the goals (analysis that is not a table)")
    args = ap.parse_args()
    if not os.path.isdir(args.dir):
        sys.exit(f"bench_report: no folder '{args.dir}'")
    build(args)


if __name__ == "__main__":
    main()
