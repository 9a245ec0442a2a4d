#!/usr/bin/env python3
"""Writes `.pte` files with ExecuTorch itself (pip's executorch 1.5.1), for interop tests.

    python3 scripts/pte/executorch_export.py --out DIR [--examples] [--tiny]

--examples  the three Examples (Examples/README.md), rebuilt in torch from the same weights as
            scripts/fixtures/examples_torch.py does: DIR/<name>.pte, plus DIR/<name>.input.npy and
            DIR/<name>.executorch.npy (ExecuTorch's own runtime output for that input). The weights
            are read from EXAMPLES_DIR/<name>/<name>.kir (--examples-dir, default Examples/; run
            `swift run GenerateExamples` first — this script never builds anything itself).
--tiny      small seeded models whose files are small enough to commit as test fixtures:
            DIR/tiny_mlp.pte, DIR/tiny_cnn.pte (+ .input.npy / .executorch.npy).

Pipeline: torch.export.export -> executorch.exir.to_edge -> to_executorch (portable kernels, no
delegation). Seeded and single-threaded; the files are deterministic for a given wheel version.
"""
import argparse
import os
import sys

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))
import examples_torch  # noqa: E402  (the Example models in torch, loaded from the .kir weights)


def export(model, x, path):
    from executorch.exir import to_edge
    from executorch.runtime import Runtime

    model = model.eval()
    with torch.no_grad():
        program = torch.export.export(model, (x,))
        et = to_edge(program).to_executorch()
    with open(path, "wb") as f:
        f.write(et.buffer)
    method = Runtime.get().load_program(path).load_method("forward")
    (y,) = method.execute([x])
    base = path[: -len(".pte")]
    np.save(base + ".input.npy", x.numpy())
    np.save(base + ".executorch.npy", y.numpy())
    with torch.no_grad():
        ref = model(x).numpy()
    err = float(np.abs(y.numpy() - ref).max())
    print(f"{os.path.basename(path)}: {os.path.getsize(path)} bytes; ExecuTorch vs eager torch max abs error {err:.3g}")


class TinyMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(16, 32), nn.Linear(32, 4)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


class TinyCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        y = torch.relu(self.bn(self.conv(x)))
        y = nn.functional.adaptive_avg_pool2d(y, 1).flatten(1)
        return torch.softmax(self.fc(y), dim=-1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--examples", action="store_true")
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--examples-dir", default=examples_torch.EXAMPLES,
                        help="where the generated Examples are (default: Examples/)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    torch.set_num_threads(1)

    if args.tiny:
        with torch.no_grad():
            cnn = TinyCNN()
            cnn.bn.running_mean.uniform_(-0.1, 0.1)
            cnn.bn.running_var.uniform_(0.5, 1.5)
        export(TinyMLP(), torch.randn(2, 16), os.path.join(args.out, "tiny_mlp.pte"))
        export(cnn, torch.randn(1, 3, 8, 8), os.path.join(args.out, "tiny_cnn.pte"))

    if args.examples:
        for name in examples_torch.NAMES:
            folder = os.path.join(args.examples_dir, name)
            kir = os.path.join(folder, f"{name}.kir")
            if not os.path.exists(kir):
                sys.exit(f"{kir} is missing: run `swift run GenerateExamples` (or pass --examples-dir)")
            _, _, constants = examples_torch.read_kir(kir)
            x = torch.from_numpy(np.load(os.path.join(folder, "input.npy")))
            export(examples_torch.load(name, constants), x, os.path.join(args.out, f"{name}.pte"))


if __name__ == "__main__":
    main()
