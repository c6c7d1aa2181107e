#!/usr/bin/env python3
"""Check mnist_autoencoder's --json report against an independent reference.

usage: check_autoencoder_json.py REPORT.json MNIST_DIR PRECISION[,PRECISION...]

Every run must be a regression run with a finite test MSE below that of the best constant
predictor (each pixel predicted by its mean over the test images, computed here from the
t10k IDX file in double): an autoencoder that learned anything beats it. Exits non-zero
with a message naming the problem.
"""
import gzip
import json
import math
import os
import sys


def fail(msg):
    print(f"check_autoencoder_json: {msg}", file=sys.stderr)
    sys.exit(1)


def test_images(mnist_dir, limit):
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte"):
        path = os.path.join(mnist_dir, name)
        if os.path.exists(path):
            raw = (gzip.open if name.endswith(".gz") else open)(path, "rb").read()
            n = int.from_bytes(raw[4:8], "big")
            rows, cols = int.from_bytes(raw[8:12], "big"), int.from_bytes(raw[12:16], "big")
            k = rows * cols
            n = min(n, limit)
            return [raw[16 + i * k:16 + (i + 1) * k] for i in range(n)], k
    fail(f"no t10k images in {mnist_dir}")


def main():
    if len(sys.argv) != 4:
        fail(__doc__)
    path, mnist_dir, want = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
    with open(path) as f:
        j = json.load(f)
    if j.get("task") != "regression":
        fail(f"{path}: task is {j.get('task')!r}, expected 'regression'")
    runs = j["runs"]
    if [r["precision"] for r in runs] != want:
        fail(f"{path}: runs are {[r['precision'] for r in runs]}, expected {want}")
    images, k = test_images(mnist_dir, j["test_samples"])
    n = len(images)
    if n != j["test_samples"]:
        fail(f"{path}: {j['test_samples']} test samples, the IDX file has {n}")
    mean = [sum(img[p] for img in images) / (255.0 * n) for p in range(k)]
    const_mse = sum((img[p] / 255.0 - mean[p]) ** 2 for img in images for p in range(k)) / (n * k)
    for r in runs:
        mse = r.get("test_loss")
        if not isinstance(mse, (int, float)) or not math.isfinite(mse) or mse <= 0:
            fail(f"{path}: run {r['precision']}: test_loss {mse!r} is not a positive number")
        if r.get("test_accuracy") is not None:
            fail(f"{path}: run {r['precision']}: a regression run reports an accuracy")
        if mse >= const_mse:
            fail(f"{path}: run {r['precision']}: test MSE {mse:.5f} not below the best constant "
                 f"predictor's {const_mse:.5f}")
    print(f"check_autoencoder_json: {path} OK: best constant {const_mse:.5f}; " +
          ", ".join(f"{r['precision']} {r['test_loss']:.5f}" for r in runs))


main()
