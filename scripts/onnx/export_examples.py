#!/usr/bin/env python3
"""Writes the Examples as ONNX models (torch.onnx.export at opsets 17 and 20) and onnxruntime's
outputs for them, for Tests/KilnCaptureTests/ONNXExamplesTests.swift.

    python3 scripts/onnx/export_examples.py [--examples DIR]

DIR (default Examples/) holds what `swift run GenerateExamples [DIR]` writes: NAME/NAME.kir, its
sidecar NAME.kir.bin and input.npy. Each model is the torch definition in
scripts/fixtures/examples_torch.py with the Examples' weights loaded, exported with
do_constant_folding=False (so weights keep their layout; Kiln folds the exporter's Transposes
at import). The exported initializers are then rewritten as ONNX external data pointing into
NAME.kir.bin (matched by their bytes), so the committed .onnx files stay small: the test writes
the same seeded Example next to them and imports them through the external-data path. An
initializer not found in the sidecar stays inline (the script fails if it is over 64 KiB).

Outputs, under Tests/KilnCaptureTests/Fixtures/onnx_examples/:
    NAME.opsetN.onnx      the graph, weights as external data in NAME.kir.bin
    NAME.opsetN.ort.npy   onnxruntime's output on the Example's input.npy (CPU, one thread)
"""
import argparse
import os
import shutil
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import examples_torch as ex  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "KilnCaptureTests", "Fixtures", "onnx_examples")
OPSETS = [17, 20]
INLINE_LIMIT = 64 * 1024


class DecomposedRMSNorm(torch.nn.Module):
    """nn.RMSNorm written out (x * rsqrt(mean(x^2) + eps) * weight): the TorchScript exporter has
    no aten::rms_norm below opset 23, and this is the form exporters emit for it."""

    def __init__(self, norm):
        super().__init__()
        self.weight = norm.weight
        self.eps = norm.eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def exportable(model):
    for parent in list(model.modules()):
        for child_name, child in list(parent.named_children()):
            if isinstance(child, torch.nn.RMSNorm):
                setattr(parent, child_name, DecomposedRMSNorm(child))
    return model


def externalize(model, sidecar, sidecar_name, label):
    """Points every initializer whose bytes occur in `sidecar` at them (4-byte aligned)."""
    for t in model.graph.initializer:
        raw = numpy_helper.to_array(t).astype(numpy_helper.to_array(t).dtype.newbyteorder("<")).tobytes()
        offset = -1
        start = 0
        while True:
            offset = sidecar.find(raw, start) if raw else -1
            if offset < 0 or offset % 4 == 0:
                break
            start = offset + 1
        if offset < 0 or len(raw) == 0:
            if len(raw) > INLINE_LIMIT:
                sys.exit(f"{label}: initializer {t.name} ({len(raw)} bytes) is not in {sidecar_name}")
            continue
        t.ClearField("raw_data")
        t.ClearField("float_data")
        t.ClearField("int64_data")
        t.ClearField("int32_data")
        t.data_location = onnx.TensorProto.EXTERNAL
        del t.external_data[:]
        for key, value in (("location", sidecar_name), ("offset", str(offset)), ("length", str(len(raw)))):
            entry = t.external_data.add()
            entry.key, entry.value = key, value


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", default=os.path.join(ROOT, "Examples"))
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    for name in ex.NAMES:
        folder = os.path.join(args.examples, name)
        _, _, constants = ex.read_kir(os.path.join(folder, f"{name}.kir"))
        sidecar_name = f"{name}.kir.bin"
        with open(os.path.join(folder, sidecar_name), "rb") as f:
            sidecar = f.read()
        x = np.load(os.path.join(folder, "input.npy"))
        model = exportable(ex.load(name, constants))
        for opset in OPSETS:
            label = f"{name} opset {opset}"
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "model.onnx")
                torch.onnx.export(model, (torch.from_numpy(x),), path, opset_version=opset, dynamo=False,
                                  do_constant_folding=False, input_names=["x"], output_names=["y"])
                proto = onnx.load(path)
                externalize(proto, sidecar, sidecar_name, label)
                onnx_path = os.path.join(OUT, f"{name}.opset{opset}.onnx")
                onnx.save(proto, onnx_path)
                shutil.copy(os.path.join(folder, sidecar_name), os.path.join(tmp, sidecar_name))
                run_path = os.path.join(tmp, "run.onnx")
                onnx.save(proto, run_path)
                options = ort.SessionOptions()
                options.intra_op_num_threads = 1
                session = ort.InferenceSession(run_path, options, providers=["CPUExecutionProvider"])
                y = session.run(None, {"x": x})[0]
                with torch.no_grad():
                    reference = model(torch.from_numpy(x)).numpy()
            np.save(os.path.join(OUT, f"{name}.opset{opset}.ort.npy"), np.ascontiguousarray(y, dtype=np.float32))
            ops = sorted({n.op_type for n in proto.graph.node})
            print(f"{label}: {os.path.getsize(onnx_path)} bytes, ops {', '.join(ops)}; onnxruntime vs torch max abs "
                  f"difference {np.abs(y - reference).max():.3g}")


if __name__ == "__main__":
    main()
