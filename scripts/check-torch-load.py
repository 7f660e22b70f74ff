#!/usr/bin/python3
"""Loads a gradflow checkpoint into the equivalent PyTorch nn.Sequential and compares outputs.

Usage: check-torch-load.py CHECKPOINT [MNIST_DIR]

Builds nn.Sequential from the checkpoint's gradflow.model metadata, calls
load_state_dict(strict=True) with the stored tensors, and (given MNIST_DIR) prints the test
accuracy PyTorch computes, as JSON. The file is read with a small safetensors reader (json +
torch.frombuffer) where the `safetensors` package is absent; with it installed,
safetensors.torch.load_file(path) returns the same dictionary.
Exits 77 when PyTorch is not installed.
"""
import gzip, json, os, struct, sys

try:
    import torch
except ImportError:
    print("PyTorch is not installed (Debian: apt-get install python3-torch)", file=sys.stderr)
    sys.exit(77)


def load_file(path):
    try:
        from safetensors.torch import load_file as st_load
        return st_load(path), read_header(path).get("__metadata__", {})
    except ImportError:
        pass
    header = read_header(path)
    with open(path, "rb") as f:
        blob = f.read()
    start = 8 + struct.unpack("<Q", blob[:8])[0]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        assert entry["dtype"] == "F32", entry
        b, e = entry["data_offsets"]
        t = torch.frombuffer(bytearray(blob[start + b:start + e]), dtype=torch.float32)
        tensors[name] = t.reshape(entry["shape"])
    return tensors, header.get("__metadata__", {})


def read_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n))


def build(spec):
    layers, features = [], spec["input"]
    for layer in spec["layers"]:
        if layer["type"] == "dense":
            layers.append(torch.nn.Linear(features, layer["units"]))
            features = layer["units"]
        elif layer["type"] == "relu":
            layers.append(torch.nn.ReLU())
        elif layer["type"] == "leaky_relu":
            layers.append(torch.nn.LeakyReLU(layer["negative_slope"]))
        elif layer["type"] == "tanh":
            layers.append(torch.nn.Tanh())
        elif layer["type"] == "sigmoid":
            layers.append(torch.nn.Sigmoid())
        elif layer["type"] == "gelu":
            layers.append(torch.nn.GELU())
        elif layer["type"] == "dropout":
            layers.append(torch.nn.Dropout(layer["p"]))
        elif layer["type"] == "batch_norm":
            layers.append(torch.nn.BatchNorm1d(features, eps=layer["eps"], momentum=layer["momentum"],
                                               affine=layer.get("affine", True)))
        elif layer["type"] == "gaussian_noise":
            layers.append(torch.nn.Identity())  # the identity in eval mode
        else:
            raise SystemExit("no PyTorch equivalent known for layer type " + layer["type"])
    return torch.nn.Sequential(*layers)


def read_idx(path):
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return torch.tensor(list(data[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims)


def find(d, stem):
    for s in (stem, stem + ".gz"):
        if os.path.exists(os.path.join(d, s)):
            return os.path.join(d, s)
    raise SystemExit("missing " + os.path.join(d, stem))


def main():
    path = sys.argv[1]
    tensors, meta = load_file(path)
    spec = json.loads(meta["gradflow.model"])
    model = build(spec)
    model.load_state_dict(tensors, strict=True)
    model.eval()
    result = {"checkpoint": path, "loaded": True, "tensors": sorted(tensors)}
    if len(sys.argv) > 2:
        config = json.loads(meta.get("gradflow.config", "{}"))
        mean = config.get("data", {}).get("mean", 0.0)
        std = config.get("data", {}).get("std", 1.0)
        x = read_idx(find(sys.argv[2], "t10k-images-idx3-ubyte")).reshape(-1, spec["input"]).float() / 255
        x = (x - mean) / std
        y = read_idx(find(sys.argv[2], "t10k-labels-idx1-ubyte")).long()
        with torch.no_grad():
            result["test_accuracy"] = (model(x).argmax(1) == y).float().mean().item()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
