"""Seeded calibration and held-out samples for the Examples, for `kiln compile --quantize`.

Writes, for each Example, DIR/<model>/calibration/NNN/input_0.npy (32 samples) and
DIR/<model>/held_out/NNN/input_0.npy (8 samples): standard normal f32 inputs shaped like the
Example's input (Examples/NAME/input.npy), each sample from its own seeded stream, so reruns give identical bytes.
(The KilnQuant tests draw the same kind of samples in memory; see Tests/KilnQuantTests/Support.swift.)

Run: python3 scripts/quant/make_samples.py [DIR]      (DIR defaults to out/samples)
Then: kiln compile Examples/mlp/mlp.kir -o mlp-int8.pte --quantize int8 \
        --calibration out/samples/mlp/calibration --eval-samples out/samples/mlp/held_out --report mlp-int8.json
"""
import os
import sys
import zlib

import numpy as np

MODELS = ["mlp", "cnn", "decoder_block"]
EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Examples")
SPLITS = {"calibration": 32, "held_out": 8}
SEED = 20250101


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join("out", "samples")
    for model in MODELS:
        # Shaped like the Example's own input (Examples/NAME/input.npy).
        shape = np.load(os.path.join(EXAMPLES, model, "input.npy")).shape
        for split, count in SPLITS.items():
            for n in range(count):
                stream = zlib.crc32(f"{model}/{split}/{n}".encode())
                rng = np.random.default_rng([SEED, stream])
                folder = os.path.join(root, model, split, f"{n:03d}")
                os.makedirs(folder, exist_ok=True)
                np.save(os.path.join(folder, "input_0.npy"), rng.standard_normal(shape).astype(np.float32))
        print(f"{model}: {SPLITS['calibration']} calibration + {SPLITS['held_out']} held-out samples of {shape} "
              f"under {os.path.join(root, model)}")


if __name__ == "__main__":
    main()
