"""The PyTorch peer: the same workloads as the Swift benchmarks, on the CPU.

    python3 Benchmarks/peer_pytorch.py [--threads 1] [--images 8] [--repeat 3]

Optional (needs torch and numpy; neither the library nor its tests use it). It first
checks that its torch implementation gives the values of the float64 reference that
the Swift golden tests are checked against (Tests/Reference/hpm_reference.py), on a
small batch, then times label-smoothed cross-entropy forward+backward and L_T
forward+backward written with torch operations on the NYU-v2 batch (N × 40 × 480 × 640),
and the cross-entropy step compiled with torch.compile (checked against eager), all timed
in interleaved repetitions.
"""
import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Reference"))
from hpm_reference import evaluate  # noqa: E402

IGNORE = 255


def paper_ce(x, y, on=0.9):
    """Per-pixel label-smoothed CE with the paper's convention; 0 on ignored pixels."""
    C = x.shape[1]
    off = (1 - on) / (C - 1)
    logp = torch.log_softmax(x, dim=1)
    valid = y != IGNORE
    safe = torch.where(valid, y, 0).long()
    ce = -(off * logp.sum(1) + (on - off) * logp.gather(1, safe[:, None])[:, 0])
    return torch.where(valid, ce, torch.zeros_like(ce)), valid


def objective_lt(x, y, logd, depth, epoch, E=40.0, alpha=1.0, rho=0.5, gamma=1.0, grid=8, bw=10.0):
    """L_T with torch operations (weights and masks detached)."""
    N, C, H, W = x.shape
    beta = 0.0 if epoch < 10 else 10.0
    ce, valid = paper_ce(x, y)
    has_d = (depth >= 1) & (depth <= 256)
    R = torch.where(has_d, logd - torch.log(torch.where(has_d, depth, torch.ones_like(depth))), torch.zeros_like(depth))
    elig = valid & has_d
    w_r = torch.where(elig, R.abs(), torch.zeros_like(R)).detach()
    wrong = (x.argmax(1) != y) & valid
    B = int(np.ceil(255 / bw))
    rows = (torch.arange(H) * grid // H)[:, None]
    cols = (torch.arange(W) * grid // W)[None, :]
    bins = torch.clamp(torch.floor((depth - 1) / bw), max=B - 1).long().clamp(min=0)
    key = ((rows * grid + cols)[None] * B + bins)
    total = 0.0
    for k in range(N):
        e = elig[k]
        kk = key[k][e]
        cnt = torch.bincount(kk, minlength=grid * grid * B).double()
        err = torch.bincount(kk, weights=wrong[k][e].double(), minlength=grid * grid * B)
        z = (err / cnt.clamp(min=1)).float()
        w_z = torch.zeros(H, W)
        w_z[e] = z[kk]
        n = valid[k].sum().clamp(min=1)
        nd = has_d[k].sum().clamp(min=1)
        terms = ce[k][valid[k]].sum() / n
        r = R[k][has_d[k]]
        terms = terms + alpha * ((r ** 2).sum() / nd - rho * (r.sum() / nd) ** 2)
        for w, weight in ((w_r[k], beta), (w_z, gamma)):
            we = w[e]
            if we.numel() == 0:
                continue
            u1, u2 = we.median(), we.max()
            eta = u1 + epoch * (u2 - u1) / E
            mask = e & (w < eta)
            terms = terms + weight * (w * ce[k] * mask).sum() / n
        total = total + terms
    return total / N


def check_values():
    rng = np.random.default_rng(1)
    N, C, H, W = 2, 40, 16, 24
    x = (rng.standard_normal((N, C, H, W)) * 3).astype(np.float32)
    y = rng.integers(0, C, size=(N, H, W)).astype(np.int32)
    y[rng.random((N, H, W)) < 0.1] = IGNORE
    depth = rng.uniform(1, 256, size=(N, H, W)).astype(np.float32)
    depth[rng.random((N, H, W)) < 0.05] = 0
    logd = (np.log(np.maximum(depth, 1)) + rng.standard_normal((N, H, W)) * 0.3).astype(np.float32)
    ref = evaluate(x, y, logd, depth, dict(total_epochs=40.0), 20.0)
    got = objective_lt(torch.from_numpy(x), torch.from_numpy(y).long(), torch.from_numpy(logd), torch.from_numpy(depth), 20.0)
    rel = abs(float(got) - ref["batch"]["objective"]) / abs(ref["batch"]["objective"])
    print(f"value check: torch L_T {float(got):.6f}, float64 reference {ref['batch']['objective']:.6f}, relative {rel:.1e}")
    assert rel < 1e-4, "the torch peer disagrees with the reference"


def interleaved(fns, repeat):
    """Median milliseconds of each of `fns`, timed in turn `repeat` times (so that a change
    in the machine's speed touches every one alike)."""
    times = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t) * 1e3)
    return {name: float(np.median(v)) for name, v in times.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--classes", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-compile", action="store_true", help="skip torch.compile (about 35 s to compile)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    check_values()
    N, C, H, W = a.images, a.classes, 480, 640
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(N, C, H, W, generator=g) * 8 - 4).requires_grad_()
    y = torch.randint(0, C, (N, H, W), generator=g)
    y[torch.rand(N, H, W, generator=g) < 0.1] = IGNORE
    depth = torch.rand(N, H, W, generator=g) * 250 + 1
    logd = (torch.log(depth) + 0.1 * torch.rand(N, H, W, generator=g)).requires_grad_()

    def ce_loss(x):
        ce, valid = paper_ce(x, y)
        return (ce.sum((1, 2)) / valid.sum((1, 2))).mean()

    def step(loss):
        def run():
            x.grad = None
            loss(x).backward()
        return run

    def lt_step():
        x.grad = None
        logd.grad = None
        objective_lt(x, y, logd, depth, 20.0).backward()

    fns = {"CE fwd+grad": step(ce_loss), "L_T fwd+grad": lt_step}
    if not a.no_compile:
        compiled = torch.compile(ce_loss)
        t = time.perf_counter()
        step(compiled)()
        print(f"torch.compile of the CE step: {time.perf_counter() - t:.0f} s (first call)")
        # The compiled loss must agree with the eager one, value and gradient.
        x.grad = None
        eager = ce_loss(x); eager.backward(); g_eager = x.grad.clone()
        x.grad = None
        fast = compiled(x); fast.backward()
        rel = abs(fast.item() - eager.item()) / abs(eager.item())
        gdiff = float((x.grad - g_eager).abs().max())
        print(f"value check: compiled CE {fast.item():.6f} vs eager {eager.item():.6f} (relative {rel:.1e}), gradient max |diff| {gdiff:.1e}")
        assert rel < 1e-5 and gdiff < 1e-6, "torch.compile disagrees with eager"
        fns["CE fwd+grad (torch.compile)"] = step(compiled)
    for fn in fns.values():
        fn()  # warm-up
    gb = N * C * H * W * 4 / 1e9
    for name, ms in interleaved(fns, a.repeat).items():
        print(f"{name} {N}x{C}x{H}x{W} threads={a.threads}: median {ms:.0f} ms, {2 * gb / (ms / 1e3):.2f} GB/s (logits read + gradient written)")


if __name__ == "__main__":
    main()
