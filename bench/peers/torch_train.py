#!/usr/bin/env python3
"""PyTorch peer of pure16's bench suites: the same networks, batch sizes, thread counts and
optimizer (SGD, momentum 0.9) in fp32 and bf16 (Debian's PyTorch has no CPU fp16 matmul).

For each network it times one training step (forward, softmax cross-entropy, backward, SGD
update) and one inference pass (eval mode, no_grad) on random inputs and labels, the median
of several repetitions; seconds per epoch = step time x steps per epoch (the epoch sizes of
bench/bench_models.cpp). It also times batch-1 inference of a 4096-4096-4096-10 MLP.

Run with the system interpreter (python3-torch): /usr/bin/python3 bench/peers/torch_train.py
  --threads 1 --out peer.json [--quick]
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed from this process's environment before
torch loads, so OpenBLAS picks its own kernels for this CPU (scripts/bench.sh does the same).
OpenBLAS's own thread pool is set to the thread count of each run (set_blas_threads).
"""
import argparse
import ctypes
import json
import os
import platform
import statistics
import sys
import time

for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(var, None)

import torch  # noqa: E402  (imported after the environment is cleaned)
import torch.nn as nn  # noqa: E402

# name -> (builder, input shape without batch, batch, samples per epoch)
EPOCH = {
    "mnist_mlp": 60000,
    "lenet": 60000,
    "cifar_small_cnn": 10000,
    "cifar_alexnet": 50000,
}


def mnist_mlp():
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                         nn.Linear(512, 10))


def lenet():
    return nn.Sequential(nn.Conv2d(1, 6, 5, 1, 2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                         nn.Linear(84, 10))


def cifar_small_cnn():
    return nn.Sequential(nn.Conv2d(3, 32, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(64, 64, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(1024, 128), nn.ReLU(), nn.Linear(128, 10))


def cifar_alexnet():
    return nn.Sequential(nn.Conv2d(3, 64, 3, 2, 1), nn.ReLU(), nn.MaxPool2d(2, 2),
                         nn.Conv2d(64, 96, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(3, 2),
                         nn.Conv2d(96, 256, 3, 1, 1), nn.ReLU(),
                         nn.Conv2d(256, 256, 3, 1, 1), nn.ReLU(),
                         nn.Conv2d(256, 512, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(3, 2),
                         nn.Flatten(), nn.Linear(512, 4096), nn.Tanh(), nn.Dropout(0.5),
                         nn.Linear(4096, 4096), nn.Tanh(), nn.Dropout(0.5), nn.Linear(4096, 10))


NETS = {
    "mnist_mlp": (mnist_mlp, (784,), 128),
    "lenet": (lenet, (1, 28, 28), 64),
    "cifar_small_cnn": (cifar_small_cnn, (3, 32, 32), 64),
    "cifar_alexnet": (cifar_alexnet, (3, 32, 32), 256),
}
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def timed(fn, reps, min_seconds):
    """(wall seconds, process CPU seconds) of one fn() call: medians over `reps` repetitions,
    each of >= min_seconds in total. With one thread the CPU time is the figure that other
    processes on the machine disturb least; with more, only wall time says what they gain."""
    fn()  # warm-up
    wall, cpu = [], []
    for _ in range(reps):
        n, t0, c0 = 0, time.perf_counter(), time.process_time()
        while True:
            fn()
            n += 1
            dt = time.perf_counter() - t0
            if dt >= min_seconds:
                break
        wall.append(dt / n)
        cpu.append((time.process_time() - c0) / n)
    return statistics.median(wall), statistics.median(cpu)


def bench_net(name, dtype, reps, min_seconds):
    builder, shape, batch = NETS[name]
    torch.manual_seed(1)
    model = builder().to(dtype)
    x = torch.randn((batch,) + shape).to(dtype)
    y = torch.randint(0, 10, (batch,))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    model.train()
    t_step, c_step = timed(step, reps, min_seconds)
    model.eval()

    def infer():
        with torch.no_grad():
            model(x)

    t_inf, c_inf = timed(infer, reps, min_seconds)
    steps = -(-EPOCH[name] // batch)
    return {"network": name, "batch": batch, "train_step_s": t_step, "inference_s": t_inf,
            "train_step_cpu_s": c_step, "inference_cpu_s": c_inf,
            "steps_per_epoch": steps, "epoch_s": t_step * steps}


def bench_large_mlp(dtype, reps, min_seconds):
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, 4096), nn.ReLU(),
                          nn.Linear(4096, 10)).to(dtype).eval()
    x = torch.randn(1, 4096).to(dtype)

    def infer():
        with torch.no_grad():
            model(x)

    return timed(infer, reps, min_seconds)


def loaded_blas():
    """BLAS shared objects mapped into this process (BLAS_INFO=generic in Debian's build means
    "the system libblas.so.3", which update-alternatives points at OpenBLAS when installed)."""
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1]
                if "blas" in path or "lapack" in path:
                    libs.add(os.path.realpath(path))
    except OSError:
        pass
    return sorted(libs)


def set_blas_threads(n):
    """OpenBLAS (pthreads build) keeps its own pool of one thread per CPU: torch.set_num_threads
    does not reach it in Debian's build (BLAS_INFO=generic), so a '1-thread' PyTorch run would
    compute its BLAS calls on every CPU (and count their spinning as CPU time). Sets the
    pool of each loaded OpenBLAS to n threads; returns the libraries it was set in."""
    done = []
    for path in loaded_blas():
        if "openblas" not in os.path.basename(path):
            continue
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_set_num_threads(ctypes.c_int(n))
            done.append(path)
        except (OSError, AttributeError):
            pass
    return done


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=list(DTYPES))
    ap.add_argument("--networks", nargs="+", default=list(NETS), choices=list(NETS))
    ap.add_argument("--quick", action="store_true", help="fewer, shorter repetitions")
    ap.add_argument("--out", default="-", help="JSON file (default: stdout)")
    ap.add_argument("--no-mkldnn", action="store_true",
                    help="torch.backends.mkldnn.enabled = False: the generic CPU kernels PyTorch "
                         "uses for bf16 where the CPU lacks AVX512 bf16 support (oneDNN's bf16 "
                         "kernels need it), so that a CPU with AVX512_BF16 can measure that case")
    a = ap.parse_args()
    if a.no_mkldnn:
        torch.backends.mkldnn.enabled = False
    reps, min_s = (3, 0.3) if a.quick else (5, 1.0)

    results = []
    blas_threads_set = []
    for threads in a.threads:
        torch.set_num_threads(threads)
        blas_threads_set = set_blas_threads(threads)
        for prec in a.precisions:
            dtype = DTYPES[prec]
            for name in a.networks:
                # bf16 AlexNet in PyTorch 1.13 takes minutes per step on CPUs without bf16
                # kernels; it is timed all the same (quick mode skips it)
                if a.quick and name == "cifar_alexnet" and prec == "bf16":
                    continue
                r = bench_net(name, dtype, reps, min_s)
                r.update(threads=threads, precision=prec)
                results.append(r)
                print(f"torch {prec} {threads}t {name}: step {r['train_step_s'] * 1e3:.2f} ms, "
                      f"epoch {r['epoch_s']:.2f} s, inference {r['inference_s'] * 1e3:.2f} ms",
                      file=sys.stderr)
            t, c = bench_large_mlp(dtype, reps, min_s)
            results.append({"network": "mlp_4096x3_b1", "batch": 1, "inference_s": t,
                            "inference_cpu_s": c, "threads": threads, "precision": prec})
            print(f"torch {prec} {threads}t mlp_4096x3 batch 1: {t * 1e3:.3f} ms", file=sys.stderr)

    doc = {
        "peer": "pytorch",
        "torch_version": torch.__version__,
        "torch_config": torch.__config__.show(),
        "blas_info": {k: v for k, v in (kv.split("=", 1) for kv in torch.__config__.show()
                                        .replace(",", "\n").split() if "=" in kv)
                      if k in ("BLAS_INFO", "LAPACK_INFO")},
        "blas_libraries_loaded": loaded_blas(),
        "blas_threads_set_in": blas_threads_set,
        "openblas_env": {v: os.environ.get(v) for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
        "python": platform.python_version(),
        "quick": a.quick,
        "mkldnn_enabled": torch.backends.mkldnn.enabled,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "results": results,
    }
    text = json.dumps(doc, indent=1)
    if a.out == "-":
        print(text)
    else:
        with open(a.out + ".tmp", "w") as f:
            f.write(text)
        os.replace(a.out + ".tmp", a.out)


if __name__ == "__main__":
    main()
