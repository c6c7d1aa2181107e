#!/usr/bin/python3
"""Train a PyTorch MLP on MNIST, load it into pure16 in fp32, fp16 and bf16, and report the
test accuracy of each and their prediction agreement with PyTorch (not run in CI).

Usage:
  /usr/bin/python3 tests/interop/torch_mnist_agreement.py \
      --tool build/<dir>/tests/interop/pure16_interop_tool \
      [--data /work/shared/data/mnist] [--hidden 256] [--epochs 1] [--work /tmp/p16_mnist]

The MNIST IDX .gz files are read with gzip + numpy; inputs are scaled to [0, 1] and
normalized with mean 0.1307 and std 0.3081 in float32, identically for every model (pure16
rounds them to its scalar type when it reads them). The network is
Linear(784, H)-ReLU-Linear(H, H)-ReLU-Linear(H, 10), trained with SGD momentum 0.9, lr 0.05,
batch 128, seed 0.
"""
import argparse
import gzip
import os
import struct
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_format  # noqa: E402


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, n = struct.unpack(">II", data[:8])
    dims = magic & 0xFF
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(folder, prefix):
    x = idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz")).reshape(-1, 784)
    y = idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz"))
    x = ((x.astype(np.float32) / 255.0 - 0.1307) / 0.3081).astype(np.float32)
    return torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tool", required=True)
    ap.add_argument("--data", default="/work/shared/data/mnist")
    ap.add_argument("--work", default="/tmp/pure16_mnist_agreement")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    xtr, ytr = load(args.data, "train")
    xte, yte = load(args.data, "t10k")
    h = args.hidden
    net = torch.nn.Sequential(torch.nn.Linear(784, h), torch.nn.ReLU(), torch.nn.Linear(h, h),
                              torch.nn.ReLU(), torch.nn.Linear(h, 10))
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    t0 = time.time()
    for epoch in range(args.epochs):
        perm = torch.randperm(len(xtr))
        net.train()
        for i in range(0, len(xtr), 128):
            b = perm[i:i + 128]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(xtr[b]), ytr[b])
            loss.backward()
            opt.step()
        print(f"epoch {epoch + 1}: last batch loss {loss.item():.4f} ({time.time() - t0:.0f} s)")
    net.eval()
    with torch.no_grad():
        logits_t = net(xte).double()
    pred_t = logits_t.argmax(1)

    weights = os.path.join(args.work, "mlp_torch.safetensors")
    inputs = os.path.join(args.work, "test_inputs.safetensors")
    st_format.save_torch_model(weights, net)
    st_format.write(inputs, {"input": xte})
    print(f"torch fp32   accuracy {float((pred_t == yte).double().mean()) * 100:.2f} %")
    preds = {}
    for p in ("fp32", "fp16", "bf16"):
        out = os.path.join(args.work, f"logits_{p}.safetensors")
        subprocess.run([args.tool, "run", weights, p, inputs, out], check=True)
        logits = st_format.read(out)[0]["output"]
        pred = logits.argmax(1)
        preds[p] = pred
        acc = float((pred == yte).double().mean()) * 100
        agree = float((pred == pred_t).double().mean()) * 100
        dmax = float((logits - logits_t).abs().max())
        print(f"pure16 {p} accuracy {acc:.2f} %, agreement with torch {agree:.2f} % "
              f"({int((pred != pred_t).sum())} of {len(yte)} differ), max |logit diff| {dmax:.3g}")
    agree = float((preds["fp16"] == preds["fp32"]).double().mean()) * 100
    print(f"pure16 fp16 vs pure16 fp32 agreement {agree:.2f} %")


if __name__ == "__main__":
    main()
