"""Regenerates Tests/Fixtures/*.json from the float64 reference.

    python3 Tests/Reference/generate_fixtures.py
    HPM_ONLY=weighting python3 Tests/Reference/generate_fixtures.py   # weighting.json alone
    HPM_ONLY=c_reference python3 Tests/Reference/generate_fixtures.py # c_reference.json alone

Inputs are float32/int32 and stored bit-exactly (base64, little-endian), so NaN
depths survive; expected values are float64. Deterministic for a fixed seed.
"""
import base64
import json
import os

import numpy as np

from hpm_reference import IGNORE, evaluate

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Fixtures")


def b64(array, dtype):
    return base64.b64encode(np.ascontiguousarray(array, dtype=dtype).tobytes()).decode()


def make_batch(rng, N, C, H, W, *, extreme=False, ties=True, all_ignored_image=None, no_depth_image=None):
    logits = (rng.standard_normal((N, C, H, W)) * 3).astype(np.float32)
    labels = rng.integers(0, C, size=(N, H, W)).astype(np.int32)
    labels[rng.random((N, H, W)) < 0.12] = IGNORE
    depth = rng.uniform(1, 256, size=(N, H, W)).astype(np.float32)
    flat = depth.reshape(-1)
    # Invalid depth of every kind, and the edges of the valid range and of bins.
    specials = [0.0, -3.0, np.nan, 300.0, np.inf, 1.0, 256.0, 11.0, 21.0, 255.99]
    idx = rng.choice(flat.size, size=min(flat.size, 2 * len(specials)), replace=False)
    for j, i in enumerate(idx):
        flat[i] = specials[j % len(specials)]
    safe = np.where((depth >= 1) & (depth <= 256), depth, 1.0)
    pred = (np.log(safe.astype(np.float64)) + rng.standard_normal((N, H, W)) * 0.3).astype(np.float32)
    if ties:  # exact ties for the largest logit, in many pixels
        for k in range(N):
            for i in rng.choice(H * W, size=max(1, H * W // 5), replace=False):
                y, x = divmod(int(i), W)
                col = logits[k, :, y, x]
                top = col.argmax()
                other = (top + 1 + rng.integers(0, C - 1)) % C
                col[other] = col[top]
                if rng.random() < 0.5:  # make the label one of the tied classes
                    labels[k, y, x] = min(top, other)
    if extreme:  # logits up to ±1e4
        mask = rng.random((N, 1, H, W)) < 0.3
        big = (rng.uniform(-1e4, 1e4, size=(N, C, H, W))).astype(np.float32)
        logits = np.where(mask, big, logits).astype(np.float32)
        logits[0, 0, 0, 0] = 1e4
        logits[0, 1 % C, 0, 0] = -1e4
    if all_ignored_image is not None:
        labels[all_ignored_image] = IGNORE
    if no_depth_image is not None:
        depth[no_depth_image] = np.where(rng.random((H, W)) < 0.5, 0.0, np.nan).astype(np.float32)
    return logits, labels, pred, depth


def config_json(cfg):
    out = dict(cfg)
    if "smoothing" in out:
        out["smoothing"] = {"kind": out["smoothing"][0], "value": out["smoothing"][1]}
    if "grid" in out:
        out["grid"] = "per_pixel" if out["grid"] == "per_pixel" else {"rows": out["grid"][0], "columns": out["grid"][1]}
    return out


def case(name, batch, config, epoch, pixel_weights=None, pixel_map=None):
    logits, labels, pred, depth = batch
    r = evaluate(logits, labels, pred, depth, config, epoch, pixel_weights, pixel_map)
    N, C, H, W = logits.shape
    return dict(
        name=name, shape=dict(images=N, classes=C, height=H, width=W), epoch=epoch,
        config=config_json(config),
        logits=b64(logits, "<f4"), labels=b64(labels, "<i4"), predicted=b64(pred, "<f4"), depth=b64(depth, "<f4"),
        pixel_weights=None if pixel_weights is None else b64(pixel_weights, "<f4"),
        batch=r["batch"], images=r["images"],
        grad_logits=b64(r["grad_logits"], "<f8"), grad_depth=b64(r["grad_depth"], "<f8"),
        pixel_ce=b64(r["pixel_ce"], "<f8"), w_r=b64(r["w_r"], "<f8"), w_z=b64(r["w_z"], "<f8"),
        pixel_weight=b64(r["pixel_weight"], "<f8"),
        **({} if pixel_map is None else dict(pixel_map=b64(pixel_map, "<f4"), pixel_loss=b64(r["pixel_loss"], "<f8"))),
        predictions=b64(r["predictions"], "<i4"),
        tables=[b64(t, "<i8") for t in r["tables"]],
    )


def write_fixture(name, **families):
    """Writes one feature's fixture file: Tests/Fixtures/<name> with each family's cases."""
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(dict(generator="Tests/Reference/generate_fixtures.py", **families), f, indent=0)
    counts = ", ".join(f"{len(cases)} {family}" for family, cases in families.items())
    print(f"wrote {counts} to {os.path.relpath(path)}")


def c_reference_cases():
    """Cross-entropy alone on images larger than the C reference kernel's 1,024-pixel tiles
    (whole tiles and a tail), for Benchmarks/Tests/CReferenceKernelTests. Writes
    Tests/Fixtures/c_reference.json."""
    rng = np.random.default_rng(20261202)
    cases = []
    for name, (N, C, H, W), smoothing in [("c_reference_c40_paper", (1, 40, 48, 50), None),
                                         ("c_reference_c19_pytorch", (2, 19, 40, 61), ("pytorch", 0.1))]:
        logits = (rng.standard_normal((N, C, H, W)) * 3).astype(np.float32)
        labels = rng.integers(0, C, size=(N, H, W)).astype(np.int32)
        labels[rng.uniform(size=(N, H, W)) < 0.1] = IGNORE
        depth = rng.uniform(1, 256, size=(N, H, W)).astype(np.float32)
        pred = np.log(depth).astype(np.float32)
        config = dict(alpha=0, beta_initial=0, beta_later=0, gamma=0)
        if smoothing is not None:
            config["smoothing"] = smoothing
        cases.append(case(name, (logits, labels, pred, depth), config, 0))
    write_fixture("c_reference.json", cases=cases)


def main():
    rng = np.random.default_rng(20261121)
    cases = []
    # Shapes: C = 2 and C = 40, odd sizes, and a multi-chunk image (> 8192 pixels).
    b2 = make_batch(rng, 3, 2, 7, 13, all_ignored_image=1)
    b40 = make_batch(rng, 2, 40, 7, 13, no_depth_image=1)
    bx = make_batch(rng, 2, 5, 9, 11, extreme=True)
    big = make_batch(rng, 2, 3, 91, 93)
    tiny = make_batch(rng, 2, 4, 1, 1, ties=False)

    cases.append(case("seg_only_c2_paper", b2, dict(alpha=0, beta_initial=0, beta_later=0, gamma=0), 0))
    cases.append(case("seg_only_c40_pytorch", b40, dict(alpha=0, beta_initial=0, beta_later=0, gamma=0,
                                                        smoothing=("pytorch", 0.1)), 0))
    cases.append(case("seg_only_c40_none", b40, dict(alpha=0, beta_initial=0, beta_later=0, gamma=0,
                                                     smoothing=("none", 0)), 0))
    pw = rng.uniform(0, 3, size=(3, 7, 13)).astype(np.float32)
    cases.append(case("seg_only_c2_pixel_weights", b2, dict(alpha=0, beta_initial=0, beta_later=0, gamma=0), 0, pw))
    cases.append(case("seg_depth_rho0", b40, dict(beta_initial=0, beta_later=0, gamma=0, rho=0.0), 0))
    cases.append(case("seg_depth_rho1", b2, dict(beta_initial=0, beta_later=0, gamma=0, rho=1.0), 0))
    cases.append(case("hpm_c2_epoch12", b2, {}, 12))
    cases.append(case("hpm_c40_epoch5_beta0", b40, {}, 5))
    cases.append(case("hpm_c40_epoch12", b40, {}, 12))
    cases.append(case("hpm_extreme_logits", bx, {}, 12))
    cases.append(case("hpm_grid_global", b40, dict(grid=(1, 1)), 12))
    cases.append(case("hpm_grid_per_pixel", b40, dict(grid="per_pixel"), 12))
    cases.append(case("hpm_grid_3x5_bin7", b2, dict(grid=(3, 5), bin_width=7.0, dmax=200.0), 12))
    cases.append(case("hpm_propagate", b40, dict(propagate=True), 12))
    for e in (0.0, 20.0, 40.0):
        cases.append(case(f"paced_c40_epoch{int(e)}", b40, dict(total_epochs=40.0), e))
    cases.append(case("paced_c2_epoch0", b2, dict(total_epochs=40.0), 0.0))
    cases.append(case("paced_extreme_epoch25", bx, dict(total_epochs=40.0, propagate=True), 25.0))
    cases.append(case("spl_segmentation_epoch7", b40, dict(alpha=0, beta_initial=0, beta_later=0, gamma=0,
                                                           total_epochs=30.0, pace_segmentation=True), 7.0))
    cases.append(case("seg_dse_only", b2, dict(alpha=0, beta_initial=0, beta_later=0), 3))
    cases.append(case("hpm_multichunk", big, {}, 12))
    cases.append(case("paced_multichunk_epoch10", big, dict(total_epochs=20.0), 10.0))
    cases.append(case("hpm_1x1", tiny, {}, 12))
    cases.append(case("paced_1x1_per_pixel", tiny, dict(total_epochs=4.0, grid="per_pixel"), 2.0))
    small_residual_cases(cases)
    class_weight_cases(cases)

    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "objective.json")
    with open(path, "w") as f:
        json.dump(dict(generator="Tests/Reference/generate_fixtures.py", cases=cases), f, indent=0)
    print(f"wrote {len(cases)} cases to {os.path.relpath(path)} ({os.path.getsize(path)} bytes)")
    extension_cases()
    peer_cases()
    half_precision_cases()
    weighting_cases()



def small_residual_cases(cases):
    """Residuals R = log D - log D* of about 1e-3 and 1e-4 on small images, where a
    Float log's error (about 2.6e-7 per residual) would dominate; and subnormal depths with a
    subnormal minimum depth. A generator of its own, so the earlier cases stay bit for bit."""
    rng = np.random.default_rng(1010)
    for (N, C, H, W), scale in [((2, 3, 4, 5), 1e-3), ((1, 2, 3, 3), 1e-4), ((2, 5, 6, 7), 1e-4)]:
        logits, labels, _, depth = make_batch(rng, N, C, H, W, ties=False)
        safe = np.where((depth >= 1) & (depth <= 256), depth, 1.0).astype(np.float64)
        pred = (np.log(safe) + rng.standard_normal((N, H, W)) * scale).astype(np.float32)
        batch = (logits, labels, pred, depth)
        tag = f"{N}x{C}x{H}x{W}_r{scale:g}"
        cases.append(case(f"small_residual_depth_{tag}", batch, dict(beta_initial=0, beta_later=0, gamma=0), 0))
        cases.append(case(f"small_residual_hpm_{tag}", batch, {}, 12))
        cases.append(case(f"small_residual_paced_{tag}", batch, dict(total_epochs=20.0), 10.0))
    # Subnormal and tiny depths, valid with a subnormal minimum: their logs are exact in float64.
    logits, labels, _, _ = make_batch(rng, 1, 3, 3, 4, ties=False)
    depth = np.array([1e-40, 3e-42, 1e-45, 2e-38, 1e-30, 0.5, 1.0, 7.0, 0.0, -1e-40, 1e-39, 3.0],
                     dtype=np.float32).reshape(1, 3, 4)
    with np.errstate(divide="ignore", invalid="ignore"):
        logd = np.where(depth > 0, np.log(depth.astype(np.float64)), 0.0)
    pred = (logd + rng.standard_normal((1, 3, 4)) * 1e-3).astype(np.float32)
    cases.append(case("subnormal_depth", (logits, labels, pred, depth),
                      dict(dmin=float(np.float32(1e-45)), dmax=256.0, bin_width=10.0), 12))


def class_weight_cases(cases):
    """Class weights (PyTorch's weight=, with label smoothing as F.cross_entropy
    weighs it) and the pooled mean and sum reductions, on L_seg alone and on every segmentation
    term of the objective. A generator of its own, so the earlier cases stay bit for bit."""
    rng = np.random.default_rng(1111)
    b2 = make_batch(rng, 3, 2, 7, 13, all_ignored_image=1)
    b40 = make_batch(rng, 2, 40, 7, 13, no_depth_image=1)
    big = make_batch(rng, 2, 3, 91, 93)
    w40 = [float(v) for v in rng.uniform(0.1, 3.0, size=40).astype(np.float32)]
    w40[3] = 0.0  # a class that counts for nothing
    w2 = [0.25, 2.5]
    w3 = [1.5, 0.5, 0.0]
    seg = dict(alpha=0, beta_initial=0, beta_later=0, gamma=0)
    for red in ("per_image_mean", "mean", "sum"):
        cases.append(case(f"cw_seg_c40_pytorch_{red}", b40, dict(seg, smoothing=("pytorch", 0.1), class_weights=w40,
                                                                reduction=red), 0))
        cases.append(case(f"cw_hpm_c40_epoch12_{red}", b40, dict(class_weights=w40, reduction=red), 12))
        cases.append(case(f"reduction_hpm_c2_epoch12_{red}", b2, dict(reduction=red), 12))
    cases.append(case("cw_seg_c2_paper_all_ignored_image", b2, dict(seg, class_weights=w2), 0))
    cases.append(case("cw_seg_c40_none_sum", b40, dict(seg, smoothing=("none", 0), class_weights=w40, reduction="sum"), 0))
    pw = rng.uniform(0, 3, size=(3, 7, 13)).astype(np.float32)
    cases.append(case("cw_seg_c2_pixel_weights_mean", b2, dict(seg, class_weights=w2, reduction="mean"), 0, pw))
    cases.append(case("cw_paced_c40_epoch20_mean_propagate", b40, dict(class_weights=w40, reduction="mean",
                                                                       total_epochs=40.0, propagate=True), 20.0))
    cases.append(case("cw_spl_segmentation_epoch7_sum", b40, dict(seg, class_weights=w40, reduction="sum",
                                                                  total_epochs=30.0, pace_segmentation=True), 7.0))
    cases.append(case("cw_hpm_multichunk_mean", big, dict(class_weights=w3, reduction="mean"), 12))
    zero = [0.0] * 40
    cases.append(case("cw_all_zero_weights_mean", b40, dict(seg, class_weights=zero, reduction="mean"), 0))


def to_float16(x):
    """Float32 values rounded to IEEE binary16 (NumPy: to nearest, ties to even), as float32."""
    return np.asarray(x, dtype=np.float32).astype(np.float16).astype(np.float32)


def to_bfloat16(x):
    """Float32 values rounded to bfloat16 (to nearest, ties to even; finite inputs), as float32."""
    bits = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    return rounded.astype(np.uint32).view(np.float32)


def half_precision_cases():
    """Half-precision logits. The logits are rounded to float16 or bfloat16 here and
    the float64 reference is evaluated on the rounded values, so a test compares the package's
    half-precision path with the exact result on the very inputs it reads; the gradient it
    writes is then off by at most its format's rounding. Written to half_precision.json."""
    rng = np.random.default_rng(1112)
    b40 = make_batch(rng, 2, 40, 7, 13, no_depth_image=1)
    bx = make_batch(rng, 2, 5, 9, 11, extreme=True)  # logits up to ±1e4: within both formats
    big = make_batch(rng, 2, 3, 91, 93)  # gradients ~1e-5: Float16 subnormals
    w40 = [float(v) for v in rng.uniform(0.1, 3.0, size=40).astype(np.float32)]
    seg = dict(alpha=0, beta_initial=0, beta_later=0, gamma=0)
    cases = []
    for precision, rounding in (("float16", to_float16), ("bfloat16", to_bfloat16)):
        def rounded(batch):
            logits, labels, pred, depth = batch
            return rounding(logits), labels, pred, depth
        for name, batch, config, epoch in [
            ("seg_c40_pytorch", b40, dict(seg, smoothing=("pytorch", 0.1)), 0),
            ("cw_seg_c40_mean", b40, dict(seg, class_weights=w40, reduction="mean"), 0),
            ("hpm_c40_epoch12", b40, {}, 12),
            ("paced_c40_epoch20_propagate", b40, dict(total_epochs=40.0, propagate=True), 20.0),
            ("hpm_extreme_logits", bx, {}, 12),
            ("seg_multichunk", big, seg, 0),
            ("paced_multichunk_epoch10", big, dict(total_epochs=20.0), 10.0),
        ]:
            c = case(f"{precision}_{name}", rounded(batch), config, epoch)
            c["precision"] = precision
            cases.append(c)
    path = os.path.join(OUT, "half_precision.json")
    with open(path, "w") as f:
        json.dump(dict(generator="Tests/Reference/generate_fixtures.py", cases=cases), f, indent=0)
    print(f"wrote {len(cases)} cases to {os.path.relpath(path)} ({os.path.getsize(path)} bytes)")


def extension_cases():
    """Fixtures for the mining and DepthMix losses: mined cross-entropy and DepthMix."""
    from hpm_reference import depth_mix, mined_cross_entropy
    rng = np.random.default_rng(5)
    mined = []
    for (N, C, H, W) in [(3, 5, 7, 13), (2, 40, 9, 11), (2, 3, 91, 93)]:
        logits, labels, _, _ = make_batch(rng, N, C, H, W, extreme=(C == 5))
        labels[0, :2] = IGNORE
        if N == 3:
            labels[1] = IGNORE  # an all-ignored image
        minings = [("top", 0.2), ("top", 1.0), ("top", 0.013), ("probability", 0.7, 10), ("probability", 0.3, 0),
                   ("probability", 0.7, 100000)]
        for mining in (minings if H * W < 8192 else [minings[0], minings[3]]):
            for smoothing in ([("paper", 0.9), ("none", 0)] if H * W < 8192 else [("paper", 0.9)]):
                r = mined_cross_entropy(logits, labels, smoothing, mining)
                mined.append(dict(
                    name=f"mined_{N}x{C}x{H}x{W}_{'_'.join(map(str, mining))}_{smoothing[0]}",
                    shape=dict(images=N, classes=C, height=H, width=W),
                    mining=dict(kind=mining[0], value=mining[1], minimum_kept=mining[2] if len(mining) > 2 else 0),
                    smoothing={"kind": smoothing[0], "value": smoothing[1]},
                    logits=b64(logits, "<f4"), labels=b64(labels, "<i4"), batch=r["batch"],
                    images=r["images"], grad=b64(r["grad"], "<f8"),
                    selected=b64(np.array(r["selected"]).astype(np.uint8), "u1")))
    mixes = []
    for (N, ch, H, W, margin) in [(4, 3, 6, 7, 0.0), (3, 1, 5, 5, 2.5), (2, 4, 1, 9, -1.0)]:
        images = rng.standard_normal((N, ch, H, W)).astype(np.float32)
        labels = rng.integers(0, 9, size=(N, H, W)).astype(np.int32)
        depth = rng.uniform(1, 40, size=(N, H, W)).astype(np.float32)
        flat = depth.reshape(-1)
        for j, v in enumerate([0.0, np.nan, 300.0, -1.0, 1.0, 256.0]):
            flat[(j * 7) % flat.size] = v
        depth[0, 0, 0] = depth[1 % N, 0, 0]  # an exact tie
        partners = list(rng.permutation(N))
        r = depth_mix(images, labels, depth, partners, margin)
        mixes.append(dict(
            shape=dict(images=N, height=H, width=W), channels=ch, margin=margin, partners=[int(p) for p in partners],
            images=b64(images, "<f4"), labels=b64(labels, "<i4"), depth=b64(depth, "<f4"),
            mixed_images=b64(r["images"], "<f4"), mixed_labels=b64(r["labels"], "<i4"),
            mixed_depth=b64(r["depth"], "<f4"), masks=b64(r["masks"].astype(np.uint8), "u1")))
    from hpm_reference import error_prediction
    errors = []
    for (N, C, H, W, sharp) in [(2, 4, 7, 13, 1.0), (3, 19, 6, 5, 4.0), (1, 2, 1, 1, 1.0)]:
        logits, labels, _, _ = make_batch(rng, N, C, H, W)
        logits = (logits * sharp).astype(np.float32)  # sharp logits make confident (hard) errors
        if N == 3:
            labels[2] = IGNORE
        error_logits = (rng.standard_normal((N, H, W)) * 2).astype(np.float32)
        detail = (rng.standard_normal((N, C, H, W)) * 2).astype(np.float32)
        r = error_prediction(logits, labels, error_logits, detail)
        errors.append(dict(
            shape=dict(images=N, classes=C, height=H, width=W),
            logits=b64(logits, "<f4"), labels=b64(labels, "<i4"), error_logits=b64(error_logits, "<f4"),
            detail_logits=b64(detail, "<f4"), value=r["value"], images=r["images"], fractions=r["fractions"],
            grad=b64(r["grad"], "<f8"), detail_weights=b64(r["detail_weights"], "<f4"), fused=b64(r["fused"], "<f8"),
            error_map=b64(r["error_map"].astype(np.uint8), "u1"), iou=r["iou"], hard_recall=r["hard_recall"]))
    from hpm_reference import multi_scale, resample_depth, resample_labels, resample_weights
    scales = []
    for (N, C, H, W, sizes, config, epoch) in [
        (2, 5, 16, 20, [(16, 20, 1.0), (8, 10, 0.5), (4, 5, 0.25), (3, 7, 0.4)], {}, 12.0),
        (2, 4, 12, 9, [(12, 9, 1.0), (5, 4, 0.7)], dict(total_epochs=20.0), 10.0),
        (1, 3, 7, 6, [(9, 11, 0.3)], dict(alpha=0, beta_initial=0, beta_later=0, gamma=0), 0.0),
    ]:
        _, labels, _, depth = make_batch(rng, N, C, H, W)
        depth[0, :4, :4] = np.nan  # a block with no valid depth
        outs = []
        for (h, w, lam) in sizes:
            logits = (rng.standard_normal((N, C, h, w)) * 3).astype(np.float32)
            pred = (np.log(np.clip(resample_depth(depth, h, w), 1, None)) + rng.standard_normal((N, h, w)) * 0.3).astype(np.float32)
            outs.append((logits, pred, lam))
        total, results = multi_scale(outs, labels, depth, config, epoch)
        weights_map = rng.uniform(0, 2, size=(N, H, W)).astype(np.float32)
        scales.append(dict(
            shape=dict(images=N, classes=C, height=H, width=W), config=config_json(config), epoch=epoch,
            labels=b64(labels, "<i4"), depth=b64(depth, "<f4"), total=total, weights_map=b64(weights_map, "<f4"),
            outputs=[dict(height=o[0].shape[2], width=o[0].shape[3], weight=o[2], logits=b64(o[0], "<f4"),
                          predicted=b64(o[1], "<f4"), value=r["value"], grad_logits=b64(r["grad_logits"], "<f8"),
                          grad_depth=b64(r["grad_depth"], "<f8"),
                          labels=b64(resample_labels(labels, o[0].shape[2], o[0].shape[3]), "<i4"),
                          depth=b64(resample_depth(depth, o[0].shape[2], o[0].shape[3]), "<f4"),
                          weights_map=b64(resample_weights(weights_map, o[0].shape[2], o[0].shape[3]), "<f8"))
                     for o, r in zip(outs, results)]))
    write_fixture("pixel_mining.json", mined=mined)
    write_fixture("depth_mix.json", depth_mix=mixes)
    write_fixture("error_prediction.json", error_prediction=errors)
    write_fixture("multi_scale.json", multi_scale=scales)


def peer_cases():
    """Fixtures of the conventions of DeepLab, mmsegmentation, BTS/AdaBins and Hoyer et al."""
    from peer_reference import deeplab_top_k, hoyer_depth_mix, mmseg_ohem, silog
    rng = np.random.default_rng(12)
    top_k, ohem = [], []
    for (N, C, H, W) in [(3, 5, 7, 13), (2, 40, 9, 11), (2, 3, 91, 93)]:
        logits, labels, _, _ = make_batch(rng, N, C, H, W, extreme=(C == 5))
        labels[0, :2] = IGNORE
        if N == 3:
            labels[1] = IGNORE  # an all-ignored image
        small = H * W < 8192
        pw = rng.uniform(0, 3, size=(N, H, W)).astype(np.float32)
        for fraction, smoothing, weights in ([(0.2, ("none", 0), None), (1.0, ("none", 0), None),
                                              (0.9, ("paper", 0.9), None), (0.0001, ("none", 0), None),
                                              (0.3, ("pytorch", 0.1), pw)] if small else [(0.2, ("none", 0), None)]):
            r = deeplab_top_k(logits, labels, smoothing, fraction, pixel_weights=weights)
            top_k.append(dict(
                name=f"deeplab_{N}x{C}x{H}x{W}_{fraction}_{smoothing[0]}{'_weighted' if weights is not None else ''}",
                shape=dict(images=N, classes=C, height=H, width=W), fraction=fraction,
                smoothing={"kind": smoothing[0], "value": smoothing[1]},
                logits=b64(logits, "<f4"), labels=b64(labels, "<i4"),
                pixel_weights=None if weights is None else b64(weights, "<f4"),
                value=r["value"], kept=r["kept"], grad=b64(r["grad"], "<f8"),
                chosen=b64(r["chosen"].astype(np.uint8), "u1")))
        for threshold, min_kept, avg, smoothing, weights in ([
                (0.7, 10, False, ("none", 0), None), (0.7, 10, True, ("none", 0), None),
                (0.3, 0, True, ("paper", 0.9), None), (None, 20, False, ("none", 0), None),
                (None, 20, True, ("none", 0), pw), (0.7, 100000, False, ("none", 0), None),
                (None, 100000, True, ("none", 0), None)] if small else [(0.7, 1000, False, ("none", 0), None),
                                                                        (None, 1000, True, ("none", 0), None)]):
            r = mmseg_ohem(logits, labels, smoothing, threshold, min_kept, avg, pixel_weights=weights)
            ohem.append(dict(
                name=f"ohem_{N}x{C}x{H}x{W}_{threshold}_{min_kept}_{'avg' if avg else 'all'}_{smoothing[0]}"
                     f"{'_weighted' if weights is not None else ''}",
                shape=dict(images=N, classes=C, height=H, width=W), threshold=threshold, minimum_kept=min_kept,
                average_non_ignored=avg, smoothing={"kind": smoothing[0], "value": smoothing[1]},
                logits=b64(logits, "<f4"), labels=b64(labels, "<i4"),
                pixel_weights=None if weights is None else b64(weights, "<f4"),
                value=r["value"], kept=r["kept"], grad=b64(r["grad"], "<f8"),
                chosen=b64(r["chosen"].astype(np.uint8), "u1")))
    silogs = []
    for (N, H, W) in [(2, 7, 13), (3, 9, 11), (1, 1, 2), (2, 1, 1)]:
        _, _, pred, depth = make_batch(rng, N, 2, H, W, ties=False)
        if N == 3:
            depth[2] = np.nan  # an image without valid depth
        if H * W <= 2:  # two valid pixels; then a single valid pixel in the batch
            depth[...] = np.array([5.0, 7.0], np.float32).reshape(depth.shape)
            if N == 2:
                depth[1] = 0.0
        for lam, scale, unbiased in [(0.85, 10.0, False), (0.85, 10.0, True), (1.0, 1.0, False), (0.0, 2.5, True)]:
            r = silog(pred, depth, lam, scale, unbiased)
            silogs.append(dict(
                name=f"silog_{N}x{H}x{W}_{lam}_{scale}_{'unbiased' if unbiased else 'biased'}",
                shape=dict(images=N, height=H, width=W), variance_focus=lam, scale=scale, unbiased=unbiased,
                predicted=b64(pred, "<f4"), depth=b64(depth, "<f4"), value=r["value"], pixels=r["pixels"],
                grad=b64(r["grad"], "<f8"),
                images=[silog(pred[k:k + 1], depth[k:k + 1], lam, scale, unbiased)["value"] for k in range(N)]))
    objectives = []
    for (N, C, H, W, config, epoch, lam, scale, unbiased) in [
            (2, 40, 7, 13, {}, 12.0, 0.85, 10.0, False),
            (3, 2, 7, 13, dict(total_epochs=40.0, propagate=True), 25.0, 0.85, 10.0, True),
            (2, 5, 9, 11, dict(alpha=0.5, beta_initial=0, beta_later=0, gamma=0), 0.0, 0.5, 1.0, False)]:
        batch = make_batch(rng, N, C, H, W)
        logits, labels, pred, depth = batch
        alpha = config.get("alpha", 1.0)
        seg = evaluate(logits, labels, pred, depth, dict(config, alpha=0), epoch)
        s = silog(pred, depth, lam, scale, unbiased)
        images = [dict(im, depth=silog(pred[k:k + 1], depth[k:k + 1], lam, scale, unbiased)["value"])
                  for k, im in enumerate(seg["images"])]
        objective = float(np.mean([im["objective"] for im in seg["images"]])) + alpha * s["value"]
        objectives.append(dict(
            name=f"objective_silog_{N}x{C}x{H}x{W}_{lam}_{'unbiased' if unbiased else 'biased'}",
            shape=dict(images=N, classes=C, height=H, width=W), config=config_json(config), epoch=epoch,
            variance_focus=lam, scale=scale, unbiased=unbiased,
            logits=b64(logits, "<f4"), labels=b64(labels, "<i4"), predicted=b64(pred, "<f4"),
            depth=b64(depth, "<f4"), objective=objective, depth_term=s["value"],
            segmentation=seg["batch"]["segmentation"], image_depth=[im["depth"] for im in images],
            grad_logits=b64(seg["grad_logits"], "<f8"),
            grad_depth=b64(seg["grad_depth"] + alpha * s["grad"], "<f8")))
    mixes = []
    for (N, ch, C, H, W, margin, ft) in [(4, 3, 5, 6, 7, 0.03, 0.0), (2, 1, 3, 5, 5, 0.0, 0.2),
                                         (3, 2, 4, 1, 9, 0.1, 0.0)]:
        disparity = rng.uniform(0.01, 2.0, size=(N, H, W)).astype(np.float32)
        disparity[0, 0, 0] = disparity[0].max()  # an exact tie after normalisation with image 1
        disparity[1 % N, 0, 0] = disparity[1 % N].max()
        if N == 3:
            disparity[2] = 0.5  # one value: normalises to 0
        images = rng.standard_normal((N, ch, H, W)).astype(np.float32)
        labels = rng.integers(0, C, size=(N, H, W)).astype(np.int32)
        soft = rng.dirichlet(np.ones(C), size=(N, H, W)).transpose(0, 3, 1, 2).astype(np.float32)
        soft[0, :, 0, 1] = 0.0  # a pixel without any target: ignored after mixing
        partners = [(k + 1) % N for k in range(N)]
        r = hoyer_depth_mix(disparity, partners, margin, ft, images=images, labels=labels, soft_targets=soft)
        mixes.append(dict(
            shape=dict(images=N, height=H, width=W), channels=ch, classes=C, margin=margin,
            foreground_threshold=ft, partners=partners,
            disparity=b64(disparity, "<f4"), images=b64(images, "<f4"), labels=b64(labels, "<i4"),
            soft_targets=b64(soft, "<f4"), masks=b64(r["masks"].astype(np.uint8), "u1"),
            mixed_images=b64(r["images"], "<f4"), mixed_labels=b64(r["labels"], "<i4"),
            mixed_soft_targets=b64(r["soft_targets"], "<f4"), soft_labels=b64(r["soft_labels"], "<i4")))
    write_fixture("batch_mining.json", deeplab=top_k, ohem=ohem)
    write_fixture("silog.json", silog=silogs, objective_silog=objectives)
    write_fixture("hoyer_depth_mix.json", hoyer_mix=mixes)


def reference_gradient_self_check(batch, config, epoch, pixel_map=None, h=1e-6):
    """The reference's analytic logit gradient against central differences of its own float64
    value, for configurations whose value is smooth in the logits (no ties, no paced ce)."""
    logits, labels, pred, depth = batch
    x = logits.astype(np.float64)
    r = evaluate(x, labels, pred, depth, config, epoch, None, pixel_map)
    rng = np.random.default_rng(3)
    worst = 0.0
    for flat in rng.choice(x.size, size=min(40, x.size), replace=False):
        idx = np.unravel_index(flat, x.shape)
        up, down = x.copy(), x.copy()
        up[idx] += h
        down[idx] -= h
        numeric = (evaluate(up, labels, pred, depth, config, epoch, None, pixel_map)["batch"]["objective"]
                   - evaluate(down, labels, pred, depth, config, epoch, None, pixel_map)["batch"]["objective"]) / (2 * h)
        worst = max(worst, abs(numeric - r["grad_logits"][idx]))
    assert worst < 1e-7, (config, worst)
    return worst


def weighting_cases():
    """Composable weighting terms: focal (softmax, per-class alpha, through the factor or held
    constant), PolyLoss-1, and a caller's per-pixel map beside DPE and DSE, alone and composed,
    under every reduction. Writes Tests/Fixtures/weighting.json."""
    rng = np.random.default_rng(20261202)
    seg = dict(alpha=0, beta_initial=0, beta_later=0, gamma=0)
    b5 = make_batch(rng, 3, 5, 7, 13, all_ignored_image=2)
    b40 = make_batch(rng, 2, 40, 9, 11)
    smooth = make_batch(rng, 2, 4, 5, 6, ties=False)
    # Confident pixels: p_t = 1 in float32 (label logit 60 above the rest) and p_t -> 0.
    conf = make_batch(rng, 2, 3, 4, 5, ties=False)
    logits, labels = conf[0], conf[1]
    for k in range(2):
        for i in range(0, 20, 3):
            y, x = divmod(i, 5)
            lab = labels[k, y, x] if labels[k, y, x] != IGNORE else 0
            labels[k, y, x] = lab
            logits[k, :, y, x] = -30.0
            logits[k, lab, y, x] = 30.0 if i % 2 == 0 else -60.0
    alpha5 = [0.25, 1.0, 2.0, 0.0, 0.75]
    alpha40 = list(rng.uniform(0, 2, size=40).astype(np.float32).astype(float))
    cases = []
    focal2 = dict(gamma=2.0, alpha=None, through=True)
    for reduction in ("per_image_mean", "mean", "sum"):
        cases.append(case(f"focal_ce_none_{reduction}", b5, dict(seg, smoothing=("none", 0), focal=focal2,
                                                                 reduction=reduction), 0))
        cases.append(case(f"focal_alpha_class_weights_pytorch_{reduction}", b5, dict(
            seg, smoothing=("pytorch", 0.1), focal=dict(gamma=1.5, alpha=alpha5, through=True),
            class_weights=[0.5, 2.0, 0.0, 1.25, 3.0], reduction=reduction), 0))
        cases.append(case(f"poly_ce_{reduction}", b40, dict(seg, smoothing=("none", 0), poly_epsilon=1.0,
                                                            reduction=reduction), 0))
    cases.append(case("focal_ce_paper_smoothing", b40, dict(seg, focal=dict(gamma=2.0, alpha=alpha40, through=True)), 0))
    cases.append(case("focal_held_constant", b40, dict(seg, focal=dict(gamma=2.0, alpha=None, through=False)), 0))
    cases.append(case("focal_poly", b5, dict(seg, smoothing=("none", 0), focal=focal2, poly_epsilon=2.0), 0))
    pw = rng.uniform(0, 3, size=(3, 7, 13)).astype(np.float32)
    cases.append(case("focal_pixel_weights", b5, dict(seg, focal=dict(gamma=3.0, alpha=None, through=True)), 0, pw))
    for g in (0.5, 1.0, 2.0):
        cases.append(case(f"focal_confident_gamma{g}", conf, dict(seg, smoothing=("none", 0),
                                                                   focal=dict(gamma=g, alpha=None, through=True)), 0))
    cases.append(case("focal_gamma0_is_ce", b5, dict(seg, focal=dict(gamma=0.0, alpha=None, through=True)), 0))
    # The objective: focal and poly under L_HPM and L_T, and a caller's map.
    map5 = rng.uniform(0, 2, size=(3, 7, 13)).astype(np.float32)
    map40 = rng.uniform(0, 3, size=(2, 9, 11)).astype(np.float32)
    cases.append(case("hpm_focal", b40, dict(focal=focal2), 12))
    cases.append(case("paced_focal_poly_propagate", b40, dict(total_epochs=40.0, focal=focal2, poly_epsilon=0.5,
                                                             propagate=True), 20))
    cases.append(case("seg_map", b5, dict(seg, map_coefficient=0.5), 0, None, map5))
    cases.append(case("hpm_map", b40, dict(map_coefficient=2.0), 12, None, map40))
    cases.append(case("paced_map", b40, dict(total_epochs=40.0, map_coefficient=1.0, map_paced=True), 20, None, map40))
    cases.append(case("paced_map_unpaced_term", b5, dict(total_epochs=20.0, map_coefficient=1.5), 5, None, map5))
    for reduction in ("mean", "sum"):
        cases.append(case(f"hpm_map_focal_class_weights_{reduction}", b5, dict(
            map_coefficient=0.75, focal=dict(gamma=2.0, alpha=alpha5, through=True),
            class_weights=[1.5, 0.25, 2.0, 0.0, 1.0], reduction=reduction, smoothing=("pytorch", 0.2)), 12, None, map5))
    # The reference's own analytic gradient against its finite differences.
    smooth_map = rng.uniform(0, 2, size=(2, 5, 6)).astype(np.float32)
    for cfg, m in [(dict(seg, smoothing=("none", 0), focal=focal2), None),
                   (dict(seg, focal=dict(gamma=0.7, alpha=[1.0, 0.5, 2.0, 0.0], through=True), poly_epsilon=1.5), None),
                   (dict(focal=dict(gamma=2.0, alpha=None, through=True), map_coefficient=1.0, class_weights=[1, 2, 0.5, 1],
                         reduction="mean"), smooth_map)]:
        reference_gradient_self_check(smooth, cfg, 12, m)
    path = os.path.join(OUT, "weighting.json")
    with open(path, "w") as f:
        json.dump(dict(generator="Tests/Reference/generate_fixtures.py", cases=cases), f, indent=0)
    print(f"wrote {len(cases)} weighting cases to {os.path.relpath(path)} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    # HPM_ONLY=weighting (or c_reference) regenerates that fixture file alone.
    only = os.environ.get("HPM_ONLY")
    if only == "weighting":
        weighting_cases()
    elif only == "c_reference":
        c_reference_cases()
    else:
        main()
        c_reference_cases()
