#!/usr/bin/env python3
"""Latency of the Examples in Kiln's runtime and in ExecuTorch's (pip's executorch 1.5.1,
portable kernels), on the same .pte files, in one session on this machine.

    python3 scripts/bench/compare_executorch.py --kiln PATH/TO/kiln [--examples-dir DIR]
        [--iterations N] [--warmup N] [--work DIR] [--json OUT.json]

For each Example it times, in both runtimes, the .pte Kiln compiled and the .pte ExecuTorch
exported (scripts/pte/executorch_export.py), on the Example's input.npy: load, first run, and
min/median over --iterations runs after --warmup. Kiln's figures come from `kiln bench --json`;
ExecuTorch's from `executorch.runtime` with time.perf_counter_ns around `method.execute`, which
includes its Python binding's per-call cost (tensor conversion in and out). A file one runtime
cannot run is listed with the reason. Prints a table; --json also writes every figure.
Prints "SKIP: ..." and exits 0 when the wheel is not installed.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
NAMES = ["mlp", "cnn", "decoder_block"]


def time_executorch(path, input_path, warmup, iterations):
    import numpy as np
    import torch
    from executorch.runtime import Runtime

    x = torch.from_numpy(np.load(input_path))
    start = time.perf_counter_ns()
    program = Runtime.get().load_program(path)
    method = program.load_method(sorted(program.method_names)[0])
    load = time.perf_counter_ns() - start
    start = time.perf_counter_ns()
    method.execute([x])
    first = time.perf_counter_ns() - start
    for _ in range(warmup):
        method.execute([x])
    samples = []
    for _ in range(iterations):
        start = time.perf_counter_ns()
        method.execute([x])
        samples.append(time.perf_counter_ns() - start)
    return {"load_ms": load / 1e6, "first_run_ms": first / 1e6, "min_ms": min(samples) / 1e6,
            "median_ms": statistics.median(samples) / 1e6}


def time_kiln(kiln, path, input_path, warmup, iterations):
    r = subprocess.run([kiln, "bench", path, "--input", input_path, "--json", "--warmup", str(warmup),
                        "--iterations", str(iterations)], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f"exit {r.returncode}")
    return json.loads(r.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kiln", required=True)
    parser.add_argument("--examples-dir", default=os.path.join(ROOT, "Examples"))
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--work")
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()
    try:
        import numpy  # noqa: F401
        import executorch.runtime  # noqa: F401
    except Exception as error:
        print(f"SKIP: executorch wheel not installed ({error})")
        return
    work = args.work or tempfile.mkdtemp(prefix="kiln-bench-")
    et_dir = os.path.join(work, "executorch")
    r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "pte", "executorch_export.py"), "--out", et_dir,
                        "--examples", "--examples-dir", args.examples_dir], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"executorch_export.py failed:\n{r.stdout}\n{r.stderr}")

    rows = []
    for name in NAMES:
        x = os.path.join(args.examples_dir, name, "input.npy")
        kiln_pte = os.path.join(work, f"{name}.kiln.pte")
        r = subprocess.run([args.kiln, "compile", os.path.join(args.examples_dir, name, f"{name}.kir"), "-o", kiln_pte],
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"{name}: kiln compile failed: {r.stderr.strip()}")
        for writer, path in [("kiln", kiln_pte), ("executorch", os.path.join(et_dir, f"{name}.pte"))]:
            row = {"model": name, "file_from": writer, "file_bytes": os.path.getsize(path)}
            for runtime, timer in [("kiln", lambda: time_kiln(args.kiln, path, x, args.warmup, args.iterations)),
                                   ("executorch", lambda: time_executorch(path, x, args.warmup, args.iterations))]:
                try:
                    row[runtime] = timer()
                except Exception as error:  # the runtime cannot run this file
                    row[runtime] = {"error": str(error).strip().splitlines()[-1][:160]}
            rows.append(row)

    def cell(figures, key):
        return f"{figures[key]:.4f}" if key in figures else "-"

    print(f"{'model':<14} {'file from':<10} {'kiln load':>10} {'kiln first':>10} {'kiln median':>11} "
          f"{'ET load':>9} {'ET first':>9} {'ET median':>9} {'ET/kiln':>8}   (ms)")
    for row in rows:
        k, e = row["kiln"], row["executorch"]
        ratio = f"{e['median_ms'] / k['median_ms']:.2f}x" if "median_ms" in k and "median_ms" in e else "-"
        print(f"{row['model']:<14} {row['file_from']:<10} {cell(k, 'load_ms'):>10} {cell(k, 'first_run_ms'):>10} "
              f"{cell(k, 'median_ms'):>11} {cell(e, 'load_ms'):>9} {cell(e, 'first_run_ms'):>9} "
              f"{cell(e, 'median_ms'):>9} {ratio:>8}")
        for runtime in ("kiln", "executorch"):
            if "error" in row[runtime]:
                print(f"    {runtime} cannot run it: {row[runtime]['error']}")
    if args.json_out:
        with open(args.json_out + ".tmp", "w") as f:
            json.dump({"iterations": args.iterations, "warmup": args.warmup, "rows": rows}, f, indent=1)
        os.replace(args.json_out + ".tmp", args.json_out)


if __name__ == "__main__":
    main()
