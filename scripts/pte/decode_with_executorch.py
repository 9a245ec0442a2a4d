#!/usr/bin/env python3
"""Decodes .pte files to JSON with ExecuTorch's own tools: the flatc bundled in pip's
executorch 1.5.1 wheel and the wheel's schema (exir/_serialize/program.fbs).

    python3 scripts/pte/decode_with_executorch.py FILE.pte [FILE.pte ...] [--out DIR]

For each file it checks what ExecuTorch's loader relies on: the identifier, the extended header
(eh00, program size, segment base), one execution plan whose chain instructions name operators and
EValues in range, and constant offsets inside the constant segment. Prints one summary line per
file; exits 1 on the first problem. Exits 0 with a line starting "SKIP:" when the wheel is missing.
"""
import argparse
import json
import os
import site
import struct
import subprocess
import sys
import tempfile


def wheel_paths():
    for base in site.getsitepackages() + [site.getusersitepackages()]:
        flatc = os.path.join(base, "executorch", "data", "bin", "flatc")
        schema = os.path.join(base, "executorch", "exir", "_serialize", "program.fbs")
        if os.path.exists(flatc) and os.path.exists(schema):
            return flatc, schema
    return None, None


def fail(path, message):
    sys.exit(f"{path}: {message}")


def check(path, program, data):
    if data[4:8] != b"ET12":
        fail(path, f"identifier {data[4:8]!r}, expected b'ET12'")
    if data[8:12] != b"eh00":
        fail(path, "no extended header (eh00) after the identifier")
    length, program_size, segment_base = struct.unpack_from("<IQQ", data, 12)
    if program_size > len(data) or segment_base > len(data) or segment_base < program_size:
        fail(path, f"header says program {program_size} bytes, segments at {segment_base}; file is {len(data)}")
    plans = program.get("execution_plan", [])
    if len(plans) != 1:
        fail(path, f"{len(plans)} execution plans, expected 1")
    plan = plans[0]
    values, operators = plan.get("values", []), plan.get("operators", [])
    instructions = [i for c in plan.get("chains", []) for i in c.get("instructions", [])]
    for n, instruction in enumerate(instructions):
        kind, args = instruction["instr_args_type"], instruction["instr_args"]
        if kind == "KernelCall":
            if not 0 <= args["op_index"] < len(operators):
                fail(path, f"instruction {n}: op_index {args['op_index']} out of range")
            for a in args.get("args", []):
                if not 0 <= a < len(values):
                    fail(path, f"instruction {n}: argument {a} out of range ({len(values)} values)")
    segments = program.get("segments", [])
    constant = program.get("constant_segment")
    if constant and constant.get("offsets"):
        size = segments[constant["segment_index"]]["size"]
        if max(constant["offsets"]) > size:
            fail(path, "a constant offset is past the end of the constant segment")
    ops = ", ".join(sorted({f"{o['name']}.{o['overload']}" for o in operators}))
    print(f"{os.path.basename(path)}: {len(data)} bytes, {len(values)} values, {len(instructions)} instructions, "
          f"{len(segments)} segments; operators: {ops}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--out", help="keep the JSON files here")
    args = parser.parse_args()
    flatc, schema = wheel_paths()
    if flatc is None:
        print("SKIP: executorch wheel not installed (pip install executorch==1.5.1)")
        return
    out = args.out or tempfile.mkdtemp(prefix="pte-json-")
    os.makedirs(out, exist_ok=True)
    for path in args.files:
        result = subprocess.run([flatc, "--json", "--strict-json", "--raw-binary", "--defaults-json",
                                 "-o", out, schema, "--", path], capture_output=True, text=True)
        if result.returncode != 0:
            fail(path, f"ExecuTorch's flatc could not decode it: {result.stderr.strip() or result.stdout.strip()}")
        name = os.path.splitext(os.path.basename(path))[0] + ".json"
        with open(os.path.join(out, name), encoding="utf-8") as f:
            program = json.load(f)
        with open(path, "rb") as f:
            check(path, program, f.read())


if __name__ == "__main__":
    main()
