"""Parity fixtures from PyTorch itself: torch.nn.functional.cross_entropy with weight=,
ignore_index=, label_smoothing= and reduction=, value and gradient by autograd in float64.

    pip install torch            # only to regenerate; the tests read the committed JSON
    python3 Tests/Reference/torch_parity.py

Writes Tests/Fixtures/torch_parity.json. Inputs are float32 (stored bit-exactly as base64,
little-endian) and promoted to float64 for torch, so the expected values carry no float32
rounding. "per_image_mean" is the paper's reduction spelled in torch: the mean over images
of each image's F.cross_entropy(reduction="mean"). Deterministic for a fixed seed.
"""
import base64
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Fixtures", "torch_parity.json")
IGNORE = 255


def b64(array, dtype):
    return base64.b64encode(np.ascontiguousarray(array, dtype=dtype).tobytes()).decode()


def torch_loss(x, y, weight, epsilon, reduction):
    if reduction == "per_image_mean":
        return torch.stack([
            F.cross_entropy(x[k:k + 1], y[k:k + 1], weight=weight, ignore_index=IGNORE, label_smoothing=epsilon,
                            reduction="mean")
            for k in range(x.shape[0])]).mean()
    return F.cross_entropy(x, y, weight=weight, ignore_index=IGNORE, label_smoothing=epsilon, reduction=reduction)


def main():
    rng = np.random.default_rng(20261123)
    cases = []
    for (N, C, H, W) in [(2, 5, 6, 7), (3, 19, 5, 9), (2, 40, 4, 11), (1, 3, 91, 93)]:
        logits = (rng.standard_normal((N, C, H, W)) * 3).astype(np.float32)
        labels = rng.integers(0, C, size=(N, H, W)).astype(np.int32)
        labels[rng.random((N, H, W)) < 0.15] = IGNORE
        weights = rng.uniform(0.1, 4.0, size=C).astype(np.float32)
        weights[0] = 0.0  # a class weighted 0 still carries the smoothing term of the others
        for weighted in (False, True):
            for epsilon in (0.0, 0.1, 0.35):
                for reduction in ("mean", "sum", "per_image_mean"):
                    if H * W > 8192 and (epsilon == 0.35 or reduction == "sum"):
                        continue  # keep the file small: the large image only covers the chunking
                    x = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
                    y = torch.tensor(labels, dtype=torch.int64)
                    w = torch.tensor(weights, dtype=torch.float64) if weighted else None
                    loss = torch_loss(x, y, w, epsilon, reduction)
                    loss.backward()
                    cases.append(dict(
                        name=f"{N}x{C}x{H}x{W}_{'weighted' if weighted else 'unweighted'}_eps{epsilon:g}_{reduction}",
                        shape=dict(images=N, classes=C, height=H, width=W),
                        class_weights=[float(v) for v in weights] if weighted else None,
                        epsilon=epsilon, reduction=reduction, value=float(loss.item()),
                        logits=b64(logits, "<f4"), labels=b64(labels, "<i4"),
                        grad=b64(x.grad.numpy(), "<f8")))
    with open(OUT, "w") as f:
        json.dump(dict(generator="Tests/Reference/torch_parity.py", torch=torch.__version__.split("+")[0],
                       cases=cases), f, indent=0)
    print(f"wrote {len(cases)} cases to {os.path.relpath(OUT)} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
