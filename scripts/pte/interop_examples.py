#!/usr/bin/env python3
"""ExecuTorch interop for the Examples, both ways, with pip's executorch 1.5.1:

  1. ExecuTorch writes each Example's .pte (scripts/pte/executorch_export.py); `kiln run` runs it;
     Kiln's outputs must match ExecuTorch's own runtime outputs.
  2. `kiln compile` writes each Example's .pte; ExecuTorch's runtime runs it; its outputs must
     match `kiln run`'s.

    python3 scripts/pte/interop_examples.py --kiln PATH/TO/kiln [--examples-dir DIR] [--work DIR]

--examples-dir holds <name>/<name>.kir and input.npy (default Examples/; `swift run GenerateExamples`
writes them). Prints one line per model and direction; a direction an op makes impossible is
reported with ExecuTorch's or Kiln's own error and counted as "unsupported", not as a mismatch.
Exits 1 on any mismatch or unexpected failure; prints "SKIP: ..." and exits 0 without the wheel.
"""
import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
NAMES = ["mlp", "cnn", "decoder_block"]
RTOL = 1e-5


def run(command):
    return subprocess.run(command, capture_output=True, text=True)


def compare(a_path, b_path):
    import numpy as np
    a, b = np.load(a_path), np.load(b_path)
    if a.shape != b.shape:
        return None, f"shapes {list(a.shape)} vs {list(b.shape)}"
    diff = float(np.abs(a.astype(np.float64) - b).max()) if a.size else 0.0
    scale = max(1.0, float(np.abs(b).max()) if b.size else 0.0)
    return diff / scale, None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kiln", required=True)
    parser.add_argument("--examples-dir", default=os.path.join(ROOT, "Examples"))
    parser.add_argument("--work")
    args = parser.parse_args()
    try:
        import numpy  # noqa: F401
        import executorch.runtime  # noqa: F401
    except Exception as error:
        print(f"SKIP: executorch wheel not installed ({error})")
        return
    work = args.work or tempfile.mkdtemp(prefix="kiln-interop-")
    et_dir = os.path.join(work, "executorch")
    result = run([sys.executable, os.path.join(HERE, "executorch_export.py"), "--out", et_dir, "--examples",
                  "--examples-dir", args.examples_dir])
    if result.returncode != 0:
        sys.exit(f"executorch_export.py failed:\n{result.stdout}\n{result.stderr}")

    failures = 0
    for name in NAMES:
        # 1. ExecuTorch's file in Kiln's runtime.
        out = os.path.join(work, f"{name}.kiln-on-et")
        r = run([args.kiln, "run", os.path.join(et_dir, f"{name}.pte"),
                 "--input", os.path.join(et_dir, f"{name}.input.npy"), "--output-dir", out])
        if r.returncode != 0:
            print(f"{name}: ExecuTorch .pte in kiln run: unsupported: {r.stderr.strip().splitlines()[-1]}")
        else:
            err, problem = compare(os.path.join(out, "output_0.npy"), os.path.join(et_dir, f"{name}.executorch.npy"))
            ok = problem is None and err <= RTOL
            failures += not ok
            print(f"{name}: ExecuTorch .pte in kiln run: {'ok' if ok else 'MISMATCH'} "
                  f"({problem or f'max relative error {err:.3g}'})")

        # 2. Kiln's file in ExecuTorch's runtime.
        kiln_pte = os.path.join(work, f"{name}.kiln.pte")
        model = os.path.join(args.examples_dir, name, f"{name}.kir")
        x = os.path.join(args.examples_dir, name, "input.npy")
        r = run([args.kiln, "compile", model, "-o", kiln_pte])
        if r.returncode != 0:
            failures += 1
            print(f"{name}: kiln compile failed: {r.stderr.strip()}")
            continue
        kiln_out = os.path.join(work, f"{name}.kiln-on-kiln")
        r = run([args.kiln, "run", kiln_pte, "--input", x, "--output-dir", kiln_out])
        if r.returncode != 0:
            failures += 1
            print(f"{name}: kiln run of Kiln's own file failed: {r.stderr.strip()}")
            continue
        r = run([sys.executable, os.path.join(HERE, "run_with_executorch.py"), kiln_pte, "--input", x,
                 "--expect", os.path.join(kiln_out, "output_0.npy"), "--rtol", str(RTOL)])
        last = (r.stderr.strip() or r.stdout.strip()).splitlines()[-1] if (r.stderr or r.stdout) else ""
        if r.returncode != 0 and "could not run it" in (r.stderr + r.stdout):
            print(f"{name}: Kiln .pte in ExecuTorch: unsupported: {last}")
        else:
            failures += r.returncode != 0
            print(f"{name}: Kiln .pte in ExecuTorch: {'ok' if r.returncode == 0 else 'MISMATCH'} ({last})")
    if failures:
        sys.exit(f"{failures} mismatch(es)")


if __name__ == "__main__":
    main()
