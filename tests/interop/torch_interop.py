#!/usr/bin/python3
"""PyTorch <-> pure16 interchange test.

For an MLP (Linear-ReLU-Linear-Tanh-Linear) and a CNN (Conv2d-BatchNorm2d-ReLU-MaxPool2d-
Conv2d-ReLU-Flatten-Linear-BatchNorm1d-ReLU-Linear):
  torch -> pure16: torch's state_dict is written as safetensors (with pure16's architecture
    metadata); interop_tool rebuilds the model in fp32, fp16, bf16 and fp64 and runs fixed
    inputs. fp32 outputs must agree with torch's fp32 outputs to 1e-5 (max-norm relative);
    fp16/bf16/fp64 outputs must lie within a rigorous first-order forward-error bound, built
    from the unit roundoff u of the precision, around torch's float64 outputs (see bound()).
  pure16 -> torch: interop_tool builds the same architecture, initializes it with pure16's
    own generator, moves its batch-norm statistics, and saves it (F32, and F16); torch loads
    the file with load_state_dict(strict=True) and its outputs must agree with pure16's fp32
    outputs to 1e-5.
Exit status: 0 pass, 1 fail, 77 skip (no torch).
"""
import argparse
import copy
import math
import os
import subprocess
import sys

try:
    import torch
except Exception as e:  # pragma: no cover - depends on the machine
    print(f"SKIP: import torch failed: {e}")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_format  # noqa: E402

U = {"fp16": 2.0 ** -11, "bf16": 2.0 ** -8, "fp64": 2.0 ** -53}
U32 = 2.0 ** -24  # pure16 accumulates fp16/bf16/fp32 reductions in float
FAILURES = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        FAILURES.append(what)


def gamma(n, u):
    return n * u / (1 - n * u)


def bound(net64, x64, u):
    """Componentwise bound on |pure16_T(x) - net(x)| for a model whose weights, inputs and
    every layer output are rounded to a precision with unit roundoff u, and whose dot
    products accumulate in acc (float: unit roundoff U32; double for fp64), to first order.
    Each layer maps (value h, error bound e) to the next, the values taken exactly in float64:
      Linear/Conv: |W| e + u |W|(|h|+e) + u |b| + gamma_{n+1}(acc) (|W|(|h|+e)+|b|),
                   then + u (|y| + that) for the rounding of the output;
      BatchNorm (eval, a = gamma/sqrt(var+eps)): |a| (e + u|mean|) + 1.5u |a||h-mean| + u|beta|
                   + float rounding, then the output rounding;
      ReLU, MaxPool: 1-Lipschitz and exact in T: the error passes through (max over the window);
      Tanh: 1-Lipschitz, evaluated in float and rounded to T.
    """
    ua = U32 if u > U32 else u
    h = x64
    e = u * x64.abs()
    for m in net64:
        with torch.no_grad():
            y = m(h)
            if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
                am = copy.deepcopy(m)
                am.weight.copy_(m.weight.abs())
                if am.bias is not None:
                    am.bias.zero_()
                absb = m.bias.abs() if m.bias is not None else torch.zeros(1, dtype=h.dtype)
                if isinstance(m, torch.nn.Conv2d):
                    absb = absb.reshape(1, -1, 1, 1)
                    n = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
                else:
                    n = m.in_features
                we = am(e)
                mag = am(h.abs() + e) + absb
                pre = we + u * am(h.abs() + e) + u * absb + gamma(n + 1, ua) * mag * (1 + u)
                e = pre + u * (y.abs() + pre)
            elif isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                shape = [1, -1] + [1] * (h.dim() - 2)
                a = (m.weight / torch.sqrt(m.running_var + m.eps)).reshape(shape)
                mu = m.running_mean.reshape(shape)
                beta = m.bias.reshape(shape)
                dev = (h - mu).abs()
                pre = (a.abs() * (e + u * mu.abs()) + 1.5 * u * a.abs() * dev + u * beta.abs()
                       + 8 * ua * (a.abs() * (dev + e + u * mu.abs()) + beta.abs()))
                e = pre * (1 + 2 * u) + u * (y.abs() + pre)
            elif isinstance(m, torch.nn.MaxPool2d):
                e = torch.nn.functional.max_pool2d(e, m.kernel_size, m.stride)
            elif isinstance(m, torch.nn.Flatten):
                e = m(e)
            elif isinstance(m, torch.nn.ReLU):
                pass
            elif isinstance(m, torch.nn.Tanh):
                e = e + 4 * ua * y.abs() + u * (y.abs() + e)
            else:
                raise ValueError(m)
        h = y
    return e


def tool(args, *cmd):
    r = subprocess.run([args.tool, *map(str, cmd)], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"interop_tool {' '.join(map(str, cmd))} failed: {r.stderr}")


def pure16_run(args, weights, precision, x):
    inp = os.path.join(args.work, "input.safetensors")
    out = os.path.join(args.work, f"out_{precision}.safetensors")
    st_format.write(inp, {"input": x.float()})
    tool(args, "run", weights, precision, inp, out)
    return st_format.read(out)[0]["output"]


def rel_maxnorm(a, ref):
    return float((a - ref).abs().max() / ref.abs().max())


def nets():
    torch.manual_seed(1234)
    mlp = torch.nn.Sequential(
        torch.nn.Linear(20, 32), torch.nn.ReLU(), torch.nn.Linear(32, 16), torch.nn.Tanh(),
        torch.nn.Linear(16, 5))
    cnn = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
        torch.nn.MaxPool2d(2), torch.nn.Conv2d(8, 4, 3, stride=2), torch.nn.ReLU(),
        torch.nn.Flatten(), torch.nn.Linear(16, 12), torch.nn.BatchNorm1d(12), torch.nn.ReLU(),
        torch.nn.Linear(12, 10))
    return [("mlp", mlp, (8, 20)), ("cnn", cnn, (6, 3, 12, 12))]


def torch_to_pure16(args, name, net, in_shape):
    # Move batch-norm statistics away from (0, 1) with a few training batches.
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.randn(16, *in_shape[1:]) * 2 + 0.5)
    net.eval()
    x = torch.randn(*in_shape)
    weights = os.path.join(args.work, f"{name}_torch.safetensors")
    st_format.save_torch_model(weights, net)
    with torch.no_grad():
        y32 = net(x)
        net64 = copy.deepcopy(net).double()
        y64 = net64(x.double())

    r = rel_maxnorm(pure16_run(args, weights, "fp32", x), y32.double())
    check(r <= 1e-5, f"{name} torch->pure16 fp32: max-norm relative difference {r:.2e} <= 1e-5")
    r = rel_maxnorm(pure16_run(args, weights, "fp64", x), y64)
    check(r <= 1e-12, f"{name} torch->pure16 fp64: max-norm relative difference {r:.2e} <= 1e-12")
    for p in ("fp16", "bf16"):
        # The inputs pure16 sees are the float32 values: x is exact in float64.
        yp = pure16_run(args, weights, p, x)
        b = bound(net64, x.double(), U[p]) + 1e-12 * y64.abs()
        err = (yp - y64).abs()
        ratio = float((err / b).max())
        check(bool((err <= b).all()),
              f"{name} torch->pure16 {p}: |pure16 - torch fp64| within the u-bound "
              f"(max error {float(err.max()):.2e}, max error/bound {ratio:.3f})")
    # Control: the bound notices a layout bug (the rows of the first weight reversed).
    sd, meta = st_format.read(weights)
    first = next(k for k in sd if k.endswith("weight"))
    sd[first] = sd[first].flip(0).contiguous()
    bad = os.path.join(args.work, f"{name}_flipped.safetensors")
    st_format.write(bad, sd, meta)
    err = (pure16_run(args, bad, "fp16", x) - y64).abs()
    b = bound(net64, x.double(), U["fp16"]) + 1e-12 * y64.abs()
    check(bool((err > b).any()),
          f"{name} control: reversed rows of '{first}' fall outside the fp16 bound")


def pure16_to_torch(args, name, net, in_shape):
    arch = os.path.join(args.work, f"{name}_arch.json")
    with open(arch, "w") as f:
        f.write(st_format.architecture(net))
    xtrain = torch.randn(16, *in_shape[1:]) * 2 + 0.5
    inp = os.path.join(args.work, f"{name}_train_input.safetensors")
    st_format.write(inp, {"input": xtrain})
    x = torch.randn(*in_shape)
    for dtype in ("F32", "F16"):
        weights = os.path.join(args.work, f"{name}_pure16_{dtype}.safetensors")
        tool(args, "make", arch, 99, inp, weights, dtype)
        sd, meta = st_format.read(weights)
        fresh = copy.deepcopy(net)
        try:
            fresh.load_state_dict(sd, strict=True)
            loaded = True
        except RuntimeError as e:
            print(e)
            loaded = False
        check(loaded, f"{name} pure16->torch {dtype}: torch load_state_dict(strict=True) "
                      f"accepts the {len(sd)} tensors")
        if not loaded:
            continue
        check(meta.get("format") == "pt", f"{name} pure16->torch {dtype}: metadata format 'pt'")
        bn = [k for k in sd if k.endswith("running_var")]
        moved = all(not torch.equal(sd[k], torch.ones_like(sd[k])) for k in bn)
        check(moved, f"{name} pure16->torch {dtype}: batch-norm statistics were trained "
                     f"({len(bn)} layers)")
        fresh.eval()
        with torch.no_grad():
            yt = fresh(x)
        r = rel_maxnorm(pure16_run(args, weights, "fp32", x), yt.double())
        check(r <= 1e-5, f"{name} pure16->torch {dtype}: max-norm relative difference {r:.2e} "
                         f"<= 1e-5")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tool", required=True, help="path of interop_tool")
    ap.add_argument("--work", required=True, help="scratch folder")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    torch.set_num_threads(1)
    for name, net, shape in nets():
        torch_to_pure16(args, name, net, shape)
        pure16_to_torch(args, name, net, shape)
    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed")
        return 1
    print("all interop checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
