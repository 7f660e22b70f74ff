#!/usr/bin/python3
"""Runs one of PyTorch's optimizers over a fixed sequence of gradients and prints the parameters
after every step, as JSON: the oracle for gradflow's optimizers (tests/test_optim.cpp). It runs on
the system Python, where Debian's python3-torch is.

Input (stdin), JSON: {"type": "adam" | "adamw" | "sgd", "options": {gradflow's option names},
                      "lr": [per-step learning rates], "init": [[tensor 0 values], ...]}
Gradient of element i of tensor k at step t (1-based), the same formula as the C++ test:
    g = sin(0.3 + 0.7 i + 1.3 t + 2.1 k) * (k + 1)
Output: {"steps": [[[tensor 0 values], ...] after step 1, ...]}. Exits 77 when torch is missing.
"""
import json
import math
import sys

try:
    import torch
except ImportError:
    print("PyTorch is not installed", file=sys.stderr)
    sys.exit(77)


def main():
    spec = json.load(sys.stdin)
    options = spec.get("options", {})
    params = [torch.tensor(values, dtype=torch.float32, requires_grad=True) for values in spec["init"]]
    kind = spec["type"]
    lr = spec["lr"][0]
    if kind in ("adam", "adamw"):
        cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
        kwargs = dict(lr=lr, betas=(options.get("beta1", 0.9), options.get("beta2", 0.999)),
                      eps=options.get("eps", 1e-8), amsgrad=options.get("amsgrad", False), foreach=False)
        if "weight_decay" in options:
            kwargs["weight_decay"] = options["weight_decay"]
        optimizer = cls(params, **kwargs)
    elif kind == "sgd":
        optimizer = torch.optim.SGD(params, lr=lr, momentum=options.get("momentum", 0.0),
                                    nesterov=options.get("nesterov", False),
                                    weight_decay=options.get("weight_decay", 0.0), foreach=False)
    else:
        sys.exit(f"unknown optimizer type {kind}")

    steps = []
    for t, rate in enumerate(spec["lr"], start=1):
        for group in optimizer.param_groups:
            group["lr"] = rate
        for k, p in enumerate(params):
            g = [math.sin(0.3 + 0.7 * i + 1.3 * t + 2.1 * k) * (k + 1) for i in range(p.numel())]
            p.grad = torch.tensor(g, dtype=torch.float32)
        optimizer.step()
        steps.append([p.detach().tolist() for p in params])
    json.dump({"steps": steps}, sys.stdout)


if __name__ == "__main__":
    main()
