"""Independent float64 NumPy reference of every HardPixelMining loss (SPEC §2–3).

Written from the equations, not from the Swift code: softmax by NumPy, medians by
sorting, regions by dictionaries. Inputs are float32 arrays (as a trainer holds
them); every computation is float64.
"""
import math
import numpy as np

IGNORE = 255


def smoothing_targets(smoothing, classes):
    kind, value = smoothing
    if kind == "none":
        return 1.0, 0.0
    if kind == "paper":
        return value, (1.0 - value) / (classes - 1)
    if kind == "pytorch":
        return 1.0 - value + value / classes, value / classes
    raise ValueError(kind)


DEFAULT_CONFIG = dict(
    smoothing=("paper", 0.9), ignore=IGNORE, alpha=1.0, rho=0.5,
    beta_initial=0.0, beta_later=10.0, beta_switch=10.0, gamma=1.0,
    grid=(8, 8), dmin=1.0, dmax=256.0, bin_width=10.0,
    total_epochs=None, pace_segmentation=False, propagate=False,
    class_weights=None, reduction="per_image_mean",
    # Composable terms: focal (Lin et al., softmax form) as dict(gamma=, alpha=[per class] or None,
    # through=True: the gradient goes through (1 - p_t)^gamma), PolyLoss-1's epsilon, and a
    # caller's per-pixel map as an additive term (coefficient, paced).
    focal=None, poly_epsilon=0.0, map_coefficient=None, map_paced=False,
)


def lower_median_and_max(values):
    s = np.sort(np.asarray(values, dtype=np.float64))
    return s[(len(s) - 1) // 2], s[-1]


def learning_pace(values, epoch, total_epochs):
    """eta = u1 + e (u2 - u1) / E over `values`, or None when empty."""
    if len(values) == 0:
        return None
    u1, u2 = lower_median_and_max(values)
    return u1 + epoch * (u2 - u1) / total_epochs


def evaluate(logits, labels, pred, depth, config, epoch, pixel_weights=None, pixel_map=None):
    """Every term, sum, map and gradient of the objective for one batch.

    With focal or PolyLoss-1, every labelled pixel's loss is
    loss_i = a_y (1 - p_t)^g (ce_i + eps (1 - p_t)), and W_i (the additive weight) multiplies it;
    with a caller's map, W_i gains c * map_i where the map counts.
    """
    cfg = dict(DEFAULT_CONFIG, **config)
    N, C, H, W = logits.shape
    HW = H * W
    on, off = smoothing_targets(cfg["smoothing"], C)
    ign = cfg["ignore"]
    dmin, dmax, bw = cfg["dmin"], cfg["dmax"], cfg["bin_width"]
    B = max(1, math.ceil((dmax - dmin) / bw))
    gh, gw = (H, W) if cfg["grid"] == "per_pixel" else cfg["grid"]
    alpha, rho, gamma = cfg["alpha"], cfg["rho"], cfg["gamma"]
    beta = cfg["beta_initial"] if epoch < cfg["beta_switch"] else cfg["beta_later"]
    uses_dep = alpha != 0
    uses_r = not (cfg["beta_initial"] == 0 and cfg["beta_later"] == 0)
    uses_z = gamma != 0
    E = cfg["total_epochs"]
    paced = E is not None
    # Class weights c_j (PyTorch's weight=): ce = -[off sum_j c_j log p_j + (on - off) c_y log p_y],
    # and every segmentation term divides by sum of c_y over labelled pixels instead of n.
    cw = np.ones(C) if cfg["class_weights"] is None else np.asarray(cfg["class_weights"], dtype=np.float32).astype(np.float64)
    reduction = cfg["reduction"]
    lab_all = labels.reshape(N, HW).astype(np.int64)
    counts_w = [float(cw[lab_all[k][lab_all[k] != ign]].sum()) for k in range(N)]
    pooled = {"per_image_mean": None, "mean": sum(counts_w), "sum": 1.0}[reduction]

    out = dict(images=[], grad_logits=np.zeros((N, C, H, W)), grad_depth=np.zeros((N, H, W)),
               pixel_ce=np.zeros((N, H, W)), w_r=np.zeros((N, H, W)), w_z=np.zeros((N, H, W)),
               pixel_loss=np.zeros((N, H, W)),
               pixel_weight=np.zeros((N, H, W)),
               predictions=np.zeros((N, H, W), dtype=np.int64), tables=[])
    for k in range(N):
        x = logits[k].astype(np.float64).reshape(C, HW)
        lab = labels[k].reshape(HW).astype(np.int64)
        valid = lab != ign
        m = x.max(axis=0)
        lse = m + np.log(np.exp(x - m).sum(axis=0))
        logp = x - lse
        prob = np.exp(logp)
        safe = np.where(valid, lab, 0)
        ce = -(off * (cw[:, None] * logp).sum(axis=0) + (on - off) * cw[safe] * logp[safe, np.arange(HW)])
        ce = np.where(valid, ce, 0.0)
        # Focal and PolyLoss-1, from their papers' formulas: q = 1 - p_t, loss = a q^g (ce + eps q).
        focal, eps = cfg["focal"], cfg["poly_epsilon"]
        modulated = focal is not None or eps != 0
        logp_t = logp[safe, np.arange(HW)]
        q = -np.expm1(logp_t)
        ell = ce + eps * q
        if focal is not None:
            g_f = focal["gamma"]
            a_f = np.ones(HW) if focal.get("alpha") is None else \
                np.asarray(focal["alpha"], dtype=np.float32).astype(np.float64)[safe]
            mfac = a_f * q ** g_f
        else:
            mfac = np.ones(HW)
        loss_mod = np.where(valid, mfac * ell, 0.0)
        pred_cls = x.argmax(axis=0)  # first index of the largest logit
        wrong = valid & (pred_cls != lab)

        d = depth[k].reshape(HW).astype(np.float64)
        with np.errstate(invalid="ignore"):
            has_d = (d >= dmin) & (d <= dmax)
        R = np.zeros(HW)
        R[has_d] = pred[k].reshape(HW).astype(np.float64)[has_d] - np.log(d[has_d])
        elig = valid & has_d
        n = int(valid.sum())
        nd = int(has_d.sum())
        wR = np.where(elig, np.abs(R), 0.0)

        # Depth-aware segmentation error: regions = (grid cell, depth bin).
        counts, errors = {}, {}
        keys = np.full(HW, -1, dtype=np.int64)
        table = np.zeros((gh, gw, B, 2), dtype=np.int64)
        for i in np.nonzero(elig)[0]:
            yy, xx = divmod(int(i), W)
            cy, cx = (yy * gh) // H, (xx * gw) // W
            b = min(int(math.floor((d[i] - dmin) / bw)), B - 1)
            key = (cy * gw + cx) * B + b
            keys[i] = key
            counts[key] = counts.get(key, 0) + 1
            errors[key] = errors.get(key, 0) + int(wrong[i])
            table[cy, cx, b, 0] += 1
            table[cy, cx, b, 1] += int(wrong[i])
        wZ = np.zeros(HW)
        for i in np.nonzero(elig)[0]:
            wZ[i] = errors[keys[i]] / counts[keys[i]]

        eta_r = eta_z = eta_s = None
        if paced:
            if uses_r:
                eta_r = learning_pace(wR[elig], epoch, E)
            if uses_z:
                eta_z = learning_pace(wZ[elig], epoch, E)
            if cfg["pace_segmentation"]:
                eta_s = learning_pace(ce[valid], epoch, E)

        def counted(w, eta, base):
            if not paced:
                return base.copy()
            if eta is None:
                return np.zeros(HW, dtype=bool)
            return base & (w < eta)

        mask_s = counted(ce, eta_s, valid) if cfg["pace_segmentation"] else valid.copy()
        mask_r = counted(wR, eta_r, elig)
        mask_z = counted(wZ, eta_z, elig)
        pw = np.ones(HW) if pixel_weights is None else pixel_weights[k].reshape(HW).astype(np.float64)
        uses_m = cfg["map_coefficient"] is not None
        wM = np.zeros(HW) if not uses_m else pixel_map[k].reshape(HW).astype(np.float64)
        eta_m = None
        if uses_m and cfg["map_paced"]:
            lab_vals = wM[valid]
            eta_m = learning_pace(lab_vals, epoch, E)
            mask_m = np.zeros(HW, dtype=bool) if eta_m is None else valid & (wM < eta_m)
        else:
            mask_m = valid.copy() if uses_m else np.zeros(HW, dtype=bool)

        sums = dict(n=n, nd=nd, eligible=int(elig.sum()),
                    ce_sum=float((pw * loss_mod)[mask_s].sum()),
                    r_sum=float(R[has_d].sum()) if (uses_dep or uses_r) else 0.0,
                    r2_sum=float((R[has_d] ** 2).sum()) if (uses_dep or uses_r) else 0.0,
                    r_weighted=float((wR * loss_mod)[mask_r].sum()) if uses_r else 0.0,
                    z_weighted=float((wZ * loss_mod)[mask_z].sum()) if uses_z else 0.0,
                    eta_r=eta_r, eta_z=eta_z, eta_s=eta_s)
        if uses_m:
            sums["m_weighted"] = float((wM * loss_mod)[mask_m].sum())
            sums["eta_m"] = eta_m
            sums["m_counted"] = int(mask_m.sum())
        div = counts_w[k] if pooled is None else pooled
        if cfg["class_weights"] is not None or pooled is not None:
            sums["label_weight_sum"] = counts_w[k]
            sums["pooled_divisor"] = pooled
        l_seg = sums["ce_sum"] / div if div > 0 else 0.0
        l_r = sums["r_weighted"] / div if div > 0 else 0.0
        l_z = sums["z_weighted"] / div if div > 0 else 0.0
        l_dep = 0.0
        if uses_dep and nd:
            l_dep = sums["r2_sum"] / nd - rho * (sums["r_sum"] / nd) ** 2
        l_m = (sums["m_weighted"] / div if div > 0 else 0.0) if uses_m else 0.0
        objective = l_seg + alpha * l_dep + beta * l_r + gamma * l_z
        if uses_m:
            objective += cfg["map_coefficient"] * l_m
        out["images"].append(dict(segmentation=l_seg, depth=l_dep, dpe=l_r, dse=l_z, map=l_m,
                                  objective=objective, sums=sums))

        # Gradients: weights and masks are constants.
        Wt = pw * mask_s
        if uses_r:
            Wt = Wt + beta * wR * mask_r
        if uses_z:
            Wt = Wt + gamma * wZ * mask_z
        if uses_m:
            Wt = Wt + cfg["map_coefficient"] * wM * mask_m
        scale = (1.0 / (N * div) if pooled is None else 1.0 / div) if div > 0 else 0.0
        if modulated:
            # d loss / d x_j = m d ce/d x_j + (m eps p_t + [through] ell a g q^(g-1) p_t) (p_j - [j = y]),
            # since d q / d x_j = p_t (p_j - [j = y]).
            a = np.repeat((off * cw)[:, None], HW, axis=1)
            a[safe, np.arange(HW)] += (on - off) * cw[safe]
            dce = a.sum(axis=0) * prob - a
            onehot = np.zeros((C, HW))
            onehot[safe, np.arange(HW)] = 1.0
            lf = mfac * eps * np.exp(logp_t)
            if focal is not None and focal.get("through", True) and g_f != 0:
                with np.errstate(divide="ignore", invalid="ignore"):
                    qg1 = np.where(q > 0, q ** (g_f - 1.0), 0.0 if g_f > 1 else 1.0)
                lf = lf + ell * a_f * g_f * qg1 * np.exp(logp_t)
            g = (Wt * scale) * (mfac * dce + lf * (prob - onehot)) * valid
        elif cfg["class_weights"] is None and pooled is None:  # Eq. 1's gradient, W (p - y) / (N n)
            y = np.full((C, HW), off)
            y[safe, np.arange(HW)] = np.where(valid, on, off)
            g = np.zeros((C, HW))
            if n:
                g = (Wt / (N * n)) * (prob - y) * valid
        else:  # d ce / d x_j = A p_j - a_j with a_j = off c_j + (on - off) c_y [j = y], A = sum_j a_j
            a = np.repeat((off * cw)[:, None], HW, axis=1)
            a[safe, np.arange(HW)] += (on - off) * cw[safe]
            A = a.sum(axis=0)
            g = (Wt * scale) * (A * prob - a) * valid
        out["grad_logits"][k] = g.reshape(C, H, W)
        gd = np.zeros(HW)
        if uses_dep and nd:
            gd = np.where(has_d, alpha / N * 2.0 / nd * (R - rho * R[has_d].mean()), 0.0)
        if cfg["propagate"] and uses_r and div > 0:
            gd = gd + beta * np.sign(R) * loss_mod * mask_r * scale if pooled is not None or cfg["class_weights"] is not None \
                or modulated else gd + beta * np.sign(R) * ce * mask_r / (N * n)
        out["grad_depth"][k] = gd.reshape(H, W)
        out["pixel_ce"][k] = ce.reshape(H, W)
        out["w_r"][k] = wR.reshape(H, W)
        out["w_z"][k] = wZ.reshape(H, W)
        # W_i, the per-pixel loss weight (the journal's Loss Weight Module), 0 where ignored.
        out["pixel_weight"][k] = np.where(valid, Wt * mfac, 0.0).reshape(H, W)
        out["pixel_loss"][k] = loss_mod.reshape(H, W)
        out["predictions"][k] = pred_cls.reshape(H, W)
        out["tables"].append(table)

    batch = {key: float(np.mean([im[key] for im in out["images"]]))
             for key in ("segmentation", "depth", "dpe", "dse", "map", "objective")}
    if pooled is not None:  # the shares add up; the depth term stays a mean over images
        for key in ("segmentation", "dpe", "dse", "map"):
            batch[key] = float(np.sum([im[key] for im in out["images"]]))
        batch["objective"] = batch["segmentation"] + alpha * batch["depth"] + beta * batch["dpe"] + gamma * batch["dse"]
        if cfg["map_coefficient"] is not None:
            batch["objective"] += cfg["map_coefficient"] * batch["map"]
    out["batch"] = batch
    return out


def mined_cross_entropy(logits, labels, smoothing, mining, ignore=IGNORE, pixel_weights=None):
    """Cross-entropy over the mined pixels of each image (loss-rank OHEM), and its gradient.

    mining = ("top", fraction): the ceil(fraction * n) labelled pixels with the largest ce,
             ties by lower index;
    mining = ("probability", threshold, minimum_kept): labelled pixels whose true-class
             probability is below max(threshold, p_(m)), m = min(minimum_kept, n - 1).
    """
    N, C, H, W = logits.shape
    HW = H * W
    on, off = smoothing_targets(smoothing, C)
    out = dict(images=[], selected=[], grad=np.zeros((N, C, H, W)))
    for k in range(N):
        x = logits[k].astype(np.float64).reshape(C, HW)
        lab = labels[k].reshape(HW).astype(np.int64)
        valid = lab != ignore
        lse = x.max(0) + np.log(np.exp(x - x.max(0)).sum(0))
        logp = x - lse
        safe = np.where(valid, lab, 0)
        ce = -(off * logp.sum(0) + (on - off) * logp[safe, np.arange(HW)])
        idx = np.nonzero(valid)[0]
        n = len(idx)
        chosen = np.zeros(HW, dtype=bool)
        if n:
            if mining[0] == "top":
                keep = min(n, math.ceil(mining[1] * n))
                order = sorted(idx, key=lambda i: (-ce[i], i))
                chosen[order[:keep]] = True
            else:
                _, threshold, minimum_kept = mining
                p = np.exp(logp[safe, np.arange(HW)])
                ranked = np.sort(p[idx])
                limit = max(threshold, ranked[min(minimum_kept, n - 1)])
                chosen = valid & (p < limit)
        s = int(chosen.sum())
        pw = np.ones(HW) if pixel_weights is None else pixel_weights[k].reshape(HW).astype(np.float64)
        loss = float((pw * ce)[chosen].sum() / s) if s else 0.0
        y = np.full((C, HW), off)
        y[safe, np.arange(HW)] = np.where(valid, on, off)
        if s:
            out["grad"][k] = ((pw * chosen / (N * s)) * (np.exp(logp) - y)).reshape(C, H, W)
        out["images"].append(dict(loss=loss, selected=s))
        out["selected"].append(chosen.reshape(H, W))
    out["batch"] = float(np.mean([im["loss"] for im in out["images"]]))
    return out


def depth_mix(images, labels, depth, partners, margin=0.0, dmin=1.0, dmax=256.0):
    """DepthMix: M = valid(D_i) & (~valid(D_j) | D_i < D_j + eps), in float32 as the package."""
    N = images.shape[0]
    out_images, out_labels, out_depth, masks = images.copy(), labels.copy(), depth.copy(), np.zeros(depth.shape, bool)
    with np.errstate(invalid="ignore"):
        for k in range(N):
            j = partners[k]
            di, dj = depth[k], depth[j]
            vi = (di >= dmin) & (di <= dmax)
            vj = (dj >= dmin) & (dj <= dmax)
            m = vi & (~vj | (di < (dj + np.float32(margin)).astype(np.float32)))
            masks[k] = m
            out_images[k] = np.where(m[None], images[k], images[j])
            out_labels[k] = np.where(m, labels[k], labels[j])
            out_depth[k] = np.where(m, di, dj)
    return dict(images=out_images, labels=out_labels, depth=out_depth, masks=masks)


def error_prediction(seg_logits, labels, error_logits, detail_logits, rho=0.95, w1=1.0, w2=1.5, t=0.7, ignore=IGNORE):
    """Gong et al.'s error-prediction losses: balanced BCE, detail weights, fusion, metrics."""
    N, C, H, W = seg_logits.shape
    HW = H * W
    x = seg_logits.astype(np.float64).reshape(N, C, HW)
    p_sb = np.exp(x - x.max(1, keepdims=True))
    p_sb /= p_sb.sum(1, keepdims=True)
    d = detail_logits.astype(np.float64).reshape(N, C, HW)
    p_db = np.exp(d - d.max(1, keepdims=True))
    p_db /= p_db.sum(1, keepdims=True)
    z = error_logits.astype(np.float64).reshape(N, HW)
    sig = 1 / (1 + np.exp(-z))
    lab = labels.reshape(N, HW).astype(np.int64)
    valid = lab != ignore
    wrong = valid & (x.argmax(1) != lab)
    q = p_sb.max(1)
    images, fractions = [], []
    grad = np.zeros((N, HW))
    for k in range(N):
        n = int(valid[k].sum())
        frac = wrong[k].sum() / n if n else 0.0
        w = np.where(wrong[k], np.where(q[k] > rho, w2, w1), frac)
        target = wrong[k].astype(np.float64)
        bce = np.maximum(z[k], 0) - z[k] * target + np.log1p(np.exp(-np.abs(z[k])))
        images.append(float((w * bce)[valid[k]].sum() / n) if n else 0.0)
        fractions.append(float(frac))
        if n:
            grad[k] = np.where(valid[k], w * (sig[k] - target) / (N * n), 0.0)
    E = sig > t
    fused = np.where(E[:, None, :], p_db, p_sb)
    pred_err = E & valid
    inter = (pred_err & wrong).sum()
    union = (pred_err | wrong).sum()
    hard = wrong & (q > rho)
    return dict(value=float(np.mean(images)), images=images, fractions=fractions, grad=grad.reshape(N, H, W),
                detail_weights=E.astype(np.float32).reshape(N, H, W), fused=fused.reshape(N, C, H, W),
                error_map=wrong.reshape(N, H, W),
                iou=float(inter / union) if union else None,
                hard_recall=float((hard & E).sum() / hard.sum()) if hard.sum() else None)


def _blocks(size, out):
    starts = [(i * size) // out for i in range(out)]
    return [(a, max(a + 1, ((i + 1) * size) // out)) for i, a in enumerate(starts)]


def resample_labels(labels, h, w):
    N, H, W = labels.shape
    rows = [(y * H) // h for y in range(h)]
    cols = [(x * W) // w for x in range(w)]
    return labels[:, rows][:, :, cols]


def resample_depth(depth, h, w, dmin=1.0, dmax=256.0):
    N, H, W = depth.shape
    out = np.zeros((N, h, w), dtype=np.float32)
    for k in range(N):
        for y, (y0, y1) in enumerate(_blocks(H, h)):
            for x, (x0, x1) in enumerate(_blocks(W, w)):
                block = depth[k, y0:y1, x0:x1].astype(np.float64)
                with np.errstate(invalid="ignore"):
                    ok = block[(block >= dmin) & (block <= dmax)]
                out[k, y, x] = np.float32(ok.mean()) if ok.size else 0.0
    return out


def resample_weights(weights, h, w):
    N, H, W = weights.shape
    out = np.zeros((N, h, w))
    for k in range(N):
        for y, (y0, y1) in enumerate(_blocks(H, h)):
            for x, (x0, x1) in enumerate(_blocks(W, w)):
                out[k, y, x] = weights[k, y0:y1, x0:x1].astype(np.float64).mean()
    return out


def multi_scale(outputs, labels, depth, config, epoch):
    """outputs: list of (logits N×C×h×w, pred N×h×w, weight). Total = Σ λ_s L(s)."""
    total, results = 0.0, []
    for logits, pred, lam in outputs:
        h, w = logits.shape[2:]
        r = evaluate(logits, resample_labels(labels, h, w), pred, resample_depth(depth, h, w), config, epoch)
        total += lam * r["batch"]["objective"]
        results.append(dict(value=r["batch"]["objective"], grad_logits=lam * r["grad_logits"],
                            grad_depth=lam * r["grad_depth"]))
    return total, results
