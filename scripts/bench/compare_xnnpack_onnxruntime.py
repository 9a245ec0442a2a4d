#!/usr/bin/env python3
"""Single-thread latency of the Examples in Kiln (portable kernels and the XNNPACK backend, fp32
and, when this kiln has --quantize, int8) and in onnxruntime on the same models, in one go.

    python3 scripts/bench/compare_xnnpack_onnxruntime.py [--kiln PATH] [--examples-dir DIR]
        [--iterations N] [--warmup N] [--rounds R] [--samples DIR] [--work DIR] [--json OUT.json]

For each Example (DIR/NAME/NAME.kir, its sidecar and input.npy, as `swift run GenerateExamples`
writes them; default Examples/) it compiles with `kiln compile` (portable; `--backends xnnpack`;
with `--quantize int8 --calibration SAMPLES/NAME/calibration` for the int8 rows, the samples
written by scripts/quant/make_samples.py when missing) and times each .pte with
`kiln bench --json --threads 1` on input.npy, R times interleaved (alternating the order), taking
the median of the R medians. onnxruntime (pip's wheel; the script installs it
into a virtual environment under --work when it is missing) runs the committed ONNX export of the
same model and weights (Tests/KilnCaptureTests/Fixtures/onnx_examples/NAME.opset17.onnx, whose
weights are external data in NAME.kir.bin) with one intra-op and one inter-op thread, all graph
optimizations, timed around session.run. Prints median latencies and the ratios Kiln/onnxruntime.

The bar the XNNPACK backend is held to (issue 11): xnnpack faster than portable on every
Example; int8 faster than fp32 on the CNN; CNN and decoder_block fp32 within 1.5x of
onnxruntime. The script prints each check and exits 1 when a measured one fails.

Without --quantize in this kiln (KilnQuant not built in), the int8 rows use a pre-quantized graph
DIR/NAME/NAME_int8.kir when there is one: the CNN quantized by hand as PT2E's XNNPACK quantizer
would (per-channel int8 weights, per-tensor int8 activations), which the XNNPACK tests write with
    KILN_XNNPACK_WRITE_INT8_CNN=DIR/cnn/cnn_int8.kir swift test --filter QuantizedCNNTests
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
NAMES = ["mlp", "cnn", "decoder_block"]
ONNX_DIR = os.path.join(ROOT, "Tests", "KilnCaptureTests", "Fixtures", "onnx_examples")


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        lines = (r.stderr.strip() or r.stdout.strip() or f"exit {r.returncode}").splitlines()
        raise RuntimeError(f"{' '.join(cmd[:3])}...: {lines[-1]}")
    return r.stdout


def kiln_median(kiln, pte, x, warmup, iterations):
    out = run([kiln, "bench", pte, "--input", x, "--json", "--threads", "1", "--warmup", str(warmup),
               "--iterations", str(iterations)])
    return json.loads(out)["median_ms"]


def import_onnxruntime(work):
    """onnxruntime, from this Python or from a virtual environment the script makes."""
    try:
        import onnxruntime  # noqa: F401
        import numpy  # noqa: F401
        return None
    except ImportError:
        venv = os.path.join(work, "venv")
        if not os.path.exists(venv):
            subprocess.run([sys.executable, "-m", "venv", venv], check=True)
            subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q", "onnxruntime", "numpy"], check=True)
        return os.path.join(venv, "bin", "python")


ORT_TIMER = r"""
import json, statistics, sys, time
import numpy as np, onnxruntime as ort
path, x_path, warmup, iterations = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
options = ort.SessionOptions()
options.intra_op_num_threads = 1
options.inter_op_num_threads = 1
options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
feed = {session.get_inputs()[0].name: np.load(x_path)}
for _ in range(warmup + 1):
    session.run(None, feed)
samples = []
for _ in range(iterations):
    start = time.perf_counter_ns()
    session.run(None, feed)
    samples.append(time.perf_counter_ns() - start)
print(json.dumps({"median_ms": statistics.median(samples) / 1e6, "version": ort.__version__}))
"""


def ort_median(python, onnx_path, x, warmup, iterations):
    return json.loads(run([python, "-c", ORT_TIMER, onnx_path, x, str(warmup), str(iterations)]))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kiln", default=os.path.join(ROOT, ".build", "release", "kiln"))
    p.add_argument("--examples-dir", default=os.path.join(ROOT, "Examples"))
    p.add_argument("--iterations", type=int, default=300)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--rounds", type=int, default=3,
                   help="time every Kiln program this many times, interleaved, and report the median of the rounds' "
                        "medians (portable and xnnpack then see the same machine state)")
    p.add_argument("--samples", default=os.path.join(ROOT, "out", "samples"),
                   help="calibration samples, DIR/NAME/calibration (scripts/quant/make_samples.py writes them there "
                        "when missing)")
    p.add_argument("--work", default=None)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    if not os.access(args.kiln, os.X_OK):
        sys.exit(f"no kiln at {args.kiln}: build it with `swift build -c release --product kiln`")
    work = args.work or tempfile.mkdtemp(prefix="kiln-xnnpack-ort-")
    os.makedirs(work, exist_ok=True)
    python = import_onnxruntime(work) or sys.executable
    has_quantize = "--quantize" in run([args.kiln, "compile", "--help"])
    if has_quantize and not all(os.path.isdir(os.path.join(args.samples, n, "calibration")) for n in NAMES):
        run([python, os.path.join(ROOT, "scripts", "quant", "make_samples.py"), args.samples])

    rows = []
    programs = []  # (row, key, pte, input)
    for name in NAMES:
        folder = os.path.join(args.examples_dir, name)
        kir, x = os.path.join(folder, f"{name}.kir"), os.path.join(folder, "input.npy")
        if not os.path.exists(kir):
            sys.exit(f"missing {kir}: run `swift run -c release GenerateExamples` (scripts/setup.sh does)")
        row = {"name": name}
        variants = [("portable_fp32", []), ("xnnpack_fp32", ["--backends", "xnnpack"])]
        int8_kir = os.path.join(folder, f"{name}_int8.kir")
        if has_quantize:
            q = ["--quantize", "int8", "--calibration", os.path.join(args.samples, name, "calibration")]
            variants += [("portable_int8", q), ("xnnpack_int8", ["--backends", "xnnpack"] + q)]
        elif os.path.exists(int8_kir):
            variants += [("portable_int8", []), ("xnnpack_int8", ["--backends", "xnnpack"])]
        for key, flags in variants:
            pte = os.path.join(work, f"{name}.{key}.pte")
            source = int8_kir if key.endswith("int8") and not has_quantize else kir
            row[key] = None
            try:
                run([args.kiln, "compile", source, "-o", pte] + flags)
                programs.append((row, key, pte, x))
            except RuntimeError as e:
                row[key + "_error"] = str(e)
        # onnxruntime reads the export's weights from NAME.kir.bin next to the .onnx file.
        onnx_src = os.path.join(ONNX_DIR, f"{name}.opset17.onnx")
        onnx_path = os.path.join(work, f"{name}.onnx")
        shutil.copyfile(onnx_src, onnx_path)
        shutil.copyfile(os.path.join(folder, f"{name}.kir.bin"), os.path.join(work, f"{name}.kir.bin"))
        ort = ort_median(python, onnx_path, x, args.warmup, args.iterations)
        row["onnxruntime_fp32"] = ort["median_ms"]
        row["onnxruntime_version"] = ort["version"]
        rows.append(row)

    medians = {}
    for r in range(args.rounds):
        # Alternate the order so neither variant always runs first.
        for row, key, pte, x in (programs if r % 2 == 0 else reversed(programs)):
            try:
                medians.setdefault(pte, []).append(kiln_median(args.kiln, pte, x, args.warmup, args.iterations))
            except RuntimeError as e:
                row[key + "_error"] = str(e)
    for row, key, pte, _ in programs:
        if pte in medians and key + "_error" not in row:
            row[key] = statistics.median(medians[pte])
            row[key + "_rounds"] = medians[pte]

    def ms(v):
        return f"{v:8.3f}" if v is not None else "     n/a"

    def ratio(a, b):
        return f"{a / b:6.2f}x" if a is not None and b else "    n/a"

    print(f"median latency, 1 thread, ms (Kiln: median of {args.rounds} interleaved rounds of {args.iterations} runs "
          f"after {args.warmup} warm-up; "
          f"onnxruntime {rows[0]['onnxruntime_version']})")
    print(f"{'model':<14}{'portable':>9}{'xnnpack':>9}{'port.int8':>10}{'xnn.int8':>9}{'ort':>9}"
          f"{'port/ort':>9}{'xnn/ort':>9}{'xnn.i8/ort':>11}")
    for r in rows:
        print(f"{r['name']:<14}{ms(r['portable_fp32'])} {ms(r['xnnpack_fp32'])} {ms(r.get('portable_int8'))}  "
              f"{ms(r.get('xnnpack_int8'))} {ms(r['onnxruntime_fp32'])}  "
              f"{ratio(r['portable_fp32'], r['onnxruntime_fp32'])}  {ratio(r['xnnpack_fp32'], r['onnxruntime_fp32'])}  "
              f"{ratio(r.get('xnnpack_int8'), r['onnxruntime_fp32'])}")
    for r in rows:
        for key in [k for k in r if k.endswith("_error")]:
            print(f"  {r['name']} {key[:-6]}: {r[key]}")
    if not has_quantize:
        print("  int8: this kiln has no `compile --quantize` (KilnQuant not in this build); int8 rows, where "
              "present, time the hand-quantized NAME_int8.kir")

    checks = []
    by = {r["name"]: r for r in rows}
    for r in rows:
        if r["xnnpack_fp32"] is not None and r["portable_fp32"] is not None:
            checks.append((f"{r['name']}: xnnpack faster than portable (fp32)", r["xnnpack_fp32"] < r["portable_fp32"]))
    cnn = by["cnn"]
    if cnn.get("xnnpack_int8") is not None:
        checks.append(("cnn: xnnpack int8 faster than fp32", cnn["xnnpack_int8"] < cnn["xnnpack_fp32"]))
    for name in ["cnn", "decoder_block"]:
        r = by[name]
        if r["xnnpack_fp32"] is not None:
            checks.append((f"{name}: xnnpack fp32 within 1.5x of onnxruntime",
                           r["xnnpack_fp32"] <= 1.5 * r["onnxruntime_fp32"]))
    for text, ok in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {text}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "checks": [{"check": t, "ok": ok} for t, ok in checks]}, f, indent=2)
    sys.exit(0 if all(ok for _, ok in checks) else 1)


if __name__ == "__main__":
    main()
