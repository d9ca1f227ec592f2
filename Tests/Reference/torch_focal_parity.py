"""Parity fixtures for the softmax focal loss, computed by PyTorch's autograd in float64 in the
two conventions of its peers, both differentiated through (1 - p_t)^gamma:

- kornia's `focal_loss(pred, target, alpha=None, gamma, weight=w, ignore_index=255,
  reduction="sum")`: per pixel -w_y (1 - p_t)^gamma log p_t on labelled pixels, summed
  (the package: `FocalModulation(focusing: gamma, classAlpha: w)`, `reduction: .sum`, no smoothing);
- the `F.nll_loss((1 - p)^gamma * log p, y, weight=w, ignore_index=255)` form (mmocr's
  FocalLoss and many segmentation repositories), a mean over sum of w_y (the package:
  `FocalModulation(focusing: gamma)`, `classWeights: w`, `reduction: .mean`, no smoothing).

Both are written here from those libraries' documented formulas with torch operations (kornia
itself is not needed). kornia's reduction="mean" divides by every pixel, ignored ones included:
that is `.sum` with a gradient scale of 1/(N*H*W).

    pip install torch            # only to regenerate; the tests read the committed JSON
    python3 Tests/Reference/torch_focal_parity.py
"""
import base64
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Fixtures", "torch_focal_parity.json")
IGNORE = 255


def b64(array, dtype):
    return base64.b64encode(np.ascontiguousarray(array, dtype=dtype).tobytes()).decode()


def kornia_convention(x, y, gamma, weight):
    logp = x.log_softmax(1)
    valid = y != IGNORE
    safe = torch.where(valid, y, torch.zeros_like(y))
    logp_t = logp.gather(1, safe.unsqueeze(1)).squeeze(1)
    w = torch.ones(x.shape[1], dtype=x.dtype) if weight is None else weight
    per_pixel = -w[safe] * torch.pow(1.0 - logp_t.exp(), gamma) * logp_t
    return (per_pixel * valid).sum()


def nll_convention(x, y, gamma, weight):
    logp = x.log_softmax(1)
    return F.nll_loss(torch.pow(1.0 - logp.exp(), gamma) * logp, y, weight=weight, ignore_index=IGNORE)


def main():
    rng = np.random.default_rng(20261202)
    cases = []
    for (N, C, H, W) in [(2, 5, 6, 7), (2, 19, 5, 9), (1, 3, 91, 93)]:
        logits = (rng.standard_normal((N, C, H, W)) * 3).astype(np.float32)
        labels = rng.integers(0, C, size=(N, H, W)).astype(np.int32)
        labels[rng.random((N, H, W)) < 0.15] = IGNORE
        weights = rng.uniform(0.1, 4.0, size=C).astype(np.float32)
        for convention in ("kornia_sum", "nll_mean"):
            for gamma in (0.5, 2.0):
                for weighted in (False, True):
                    if H * W > 8192 and (gamma == 0.5 or not weighted):
                        continue
                    x = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
                    y = torch.tensor(labels, dtype=torch.int64)
                    w = torch.tensor(weights, dtype=torch.float64) if weighted else None
                    f = kornia_convention if convention == "kornia_sum" else nll_convention
                    loss = f(x, y, gamma, w)
                    loss.backward()
                    cases.append(dict(
                        name=f"{convention}_{N}x{C}x{H}x{W}_gamma{gamma:g}_{'weighted' if weighted else 'unweighted'}",
                        convention=convention, shape=dict(images=N, classes=C, height=H, width=W), gamma=gamma,
                        class_weights=[float(v) for v in weights] if weighted else None, value=float(loss.item()),
                        logits=b64(logits, "<f4"), labels=b64(labels, "<i4"), grad=b64(x.grad.numpy(), "<f8")))
    with open(OUT, "w") as f:
        json.dump(dict(generator="Tests/Reference/torch_focal_parity.py", torch=torch.__version__.split("+")[0],
                       cases=cases), f, indent=0)
    print(f"wrote {len(cases)} cases to {os.path.relpath(OUT)} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
