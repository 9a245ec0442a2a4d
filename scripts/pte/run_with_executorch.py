#!/usr/bin/env python3
"""Runs a .pte file in ExecuTorch's own runtime (pip's executorch 1.5.1, portable kernels).

    python3 scripts/pte/run_with_executorch.py MODEL.pte --input x.npy [--input ...]
        [--method NAME] [--output-dir DIR] [--expect y.npy --rtol R]

Writes DIR/output_0.npy, ... when --output-dir is given. With --expect, compares output 0 with
the file: max |diff| <= rtol * max(1, max |expected|), printing both errors; exits 1 when it is
larger, or when ExecuTorch cannot load or run the program (its error is printed). Prints a line
starting "SKIP:" and exits 0 when the runtime is not installed.
"""
import argparse
import os
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("--input", action="append", default=[])
    parser.add_argument("--output-dir")
    parser.add_argument("--expect")
    parser.add_argument("--rtol", type=float, default=1e-6)
    parser.add_argument("--method", help="the method to run (default: the program's only method)")
    args = parser.parse_args()
    try:
        import numpy as np
        import torch
        from executorch.runtime import Runtime
    except Exception as error:  # the wheel or torch is missing
        print(f"SKIP: ExecuTorch runtime not available ({error})")
        return
    inputs = [torch.from_numpy(np.load(p)) for p in args.input]
    try:
        program = Runtime.get().load_program(args.model)
        names = sorted(program.method_names)
        if args.method is None and len(names) != 1:
            sys.exit(f"{args.model}: the program has methods {names}; choose one with --method")
        method = program.load_method(args.method or names[0])
        outputs = method.execute(inputs)
    except Exception as error:
        sys.exit(f"{args.model}: ExecuTorch could not run it: {error}")
    outputs = [o.numpy() if hasattr(o, "numpy") else np.asarray(o) for o in outputs]
    if args.output_dir:
        os.makedirs(args.output_dir, exist_ok=True)
        for i, o in enumerate(outputs):
            np.save(os.path.join(args.output_dir, f"output_{i}.npy"), o)
    for i, o in enumerate(outputs):
        print(f"output {i}: {o.dtype}{list(o.shape)}")
    if args.expect:
        expected = np.load(args.expect)
        got = outputs[0]
        if got.shape != expected.shape:
            sys.exit(f"{args.model}: output 0 has shape {list(got.shape)}, expected {list(expected.shape)}")
        diff = float(np.abs(got.astype(np.float64) - expected).max()) if got.size else 0.0
        scale = max(1.0, float(np.abs(expected).max()) if expected.size else 0.0)
        print(f"max abs error {diff:.3g}, relative to max(1, |expected|) {diff / scale:.3g}")
        if diff > args.rtol * scale:
            sys.exit(f"{args.model}: output differs from {args.expect} by {diff:.3g} (allowed {args.rtol * scale:.3g})")


if __name__ == "__main__":
    main()
