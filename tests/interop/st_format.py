"""Minimal safetensors reader/writer for torch tensors, and torch.nn.Sequential <-> pure16
architecture JSON. Used by the interop scripts of this folder (the `safetensors` Python
package is not required).

Format: u64 little-endian header length N, N bytes of JSON {name: {"dtype", "shape",
"data_offsets": [begin, end]}, "__metadata__": {str: str}} padded with spaces, then the
data section (little-endian, row-major).
"""
import json
import struct

import torch

DTYPES = {
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float32: "F32",
    torch.float64: "F64",
    torch.int64: "I64",
}
TORCH_DTYPES = {v: k for k, v in DTYPES.items()}


def write(path, tensors, metadata=None):
    """Write {name: tensor} (in insertion order) and optional {str: str} metadata."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def read(path):
    """Return ({name: tensor}, metadata) of a safetensors file."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    body = data[8 + n:]
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        dtype = TORCH_DTYPES[e["dtype"]]
        if b == end:
            out[name] = torch.empty(e["shape"], dtype=dtype)
        else:
            out[name] = torch.frombuffer(bytearray(body[b:end]), dtype=dtype).reshape(e["shape"])
    return out, meta


def architecture(net):
    """pure16's architecture JSON (layer specs) for a torch.nn.Sequential."""
    specs = []
    for m in net:
        if isinstance(m, torch.nn.Linear):
            specs.append({"type": "Dense", "args": {"in": m.in_features, "out": m.out_features,
                                                    "bias": int(m.bias is not None)}})
        elif isinstance(m, torch.nn.Conv2d):
            k, s, p = m.kernel_size, m.stride, m.padding
            assert k[0] == k[1] and s[0] == s[1] and p[0] == p[1], "square kernels only"
            specs.append({"type": "Conv2D", "args": {
                "in_channels": m.in_channels, "out_channels": m.out_channels, "kernel": k[0],
                "stride": s[0], "padding": p[0], "bias": int(m.bias is not None)}})
        elif isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            specs.append({"type": "BatchNorm", "args": {"num_features": m.num_features,
                                                        "eps": m.eps, "momentum": m.momentum}})
        elif isinstance(m, torch.nn.MaxPool2d):
            specs.append({"type": "MaxPool2D", "args": {"kernel": m.kernel_size,
                                                        "stride": m.stride}})
        elif isinstance(m, torch.nn.ReLU):
            specs.append({"type": "ReLU", "args": {}})
        elif isinstance(m, torch.nn.Tanh):
            specs.append({"type": "Tanh", "args": {}})
        elif isinstance(m, torch.nn.Flatten):
            specs.append({"type": "Flatten", "args": {}})
        else:
            raise ValueError(f"no pure16 layer for {m}")
    return json.dumps(specs)


def save_torch_model(path, net):
    """net's state_dict (float32, num_batches_tracked as I64) with pure16's architecture."""
    sd = {k: (v.float() if v.is_floating_point() else v) for k, v in net.state_dict().items()}
    write(path, sd, {"format": "pt", "architecture": architecture(net)})
