"""Float64 NumPy reference of the conventions of the systems users come from.

Written from the cited public code's semantics, not from this package's Swift code:

- DeepLab top-k: detectron2 projects/DeepLab/deeplab/loss.py, `DeepLabCE.forward`.
- OHEM: mmsegmentation mmseg/models/samplers/ohem_pixel_sampler.py,
  `OHEMPixelSampler.sample`, then mmseg/models/losses/cross_entropy_loss.py,
  `cross_entropy` with `weight_reduce_loss` (utils.py), with and without `avg_non_ignore`.
- SILog: BTS pytorch/bts.py `silog_loss.forward` (biased variance) and AdaBins
  loss.py `SILogLoss.forward` (`torch.var`, unbiased).
- DepthMix: lhoyer/improving_segmentation_with_selfsupervised_depth, train.py
  `Trainer.generate_mix_mask` (mode "depthcomp"), loader/transformsgpu.py `mix`,
  and the per-image min-max normalisation of the disparity in train.py.
"""
import math

import numpy as np

from hpm_reference import IGNORE, smoothing_targets


def _pixel_losses(logits, labels, smoothing, ignore):
    """ce per pixel (0 on ignored ones), log-probabilities, the one-hot targets and validity."""
    N, C, H, W = logits.shape
    x = logits.astype(np.float64).transpose(1, 0, 2, 3).reshape(C, -1)  # C x (N H W), NHW order
    lab = labels.reshape(-1).astype(np.int64)
    valid = lab != ignore
    safe = np.where(valid, lab, 0)
    m = x.max(0)
    logp = x - (m + np.log(np.exp(x - m).sum(0)))
    on, off = smoothing_targets(smoothing, C)
    idx = np.arange(lab.size)
    ce = np.where(valid, -(off * logp.sum(0) + (on - off) * logp[safe, idx]), 0.0)
    y = np.full((C, lab.size), off)
    y[safe, idx] = np.where(valid, on, off)
    return ce, logp, y, valid, safe


def _gradient(coefficient, logp, y, shape):
    N, C, H, W = shape
    g = coefficient[None, :] * (np.exp(logp) - y)  # C x NHW
    return g.reshape(C, N, H, W).transpose(1, 0, 2, 3)


def deeplab_top_k(logits, labels, smoothing, fraction, ignore=IGNORE, pixel_weights=None):
    """DeepLabCE: per-pixel losses (ignored = 0) times the pixel weights, flattened over the
    batch; k = int(fraction * N*H*W); the mean of the k largest (ties: lower index first).
    k = 0 gives 0 here (torch: the mean of an empty tensor, NaN)."""
    ce, logp, y, valid, _ = _pixel_losses(logits, labels, smoothing, ignore)
    w = np.ones(ce.size) if pixel_weights is None else pixel_weights.reshape(-1).astype(np.float64)
    losses = np.where(valid, w * ce, 0.0)
    total = losses.size
    k = int(fraction * total)
    chosen = np.zeros(total, bool)
    if k > 0:
        order = sorted(range(total), key=lambda i: (-losses[i], i))
        chosen[order[:k]] = True
    value = float(losses[chosen].sum() / k) if k else 0.0
    coefficient = np.where(chosen & valid, w / k if k else 0.0, 0.0)
    return dict(value=value, kept=k, chosen=chosen, grad=_gradient(coefficient, logp, y, logits.shape))


def mmseg_ohem(logits, labels, smoothing, threshold, min_kept, avg_non_ignore, ignore=IGNORE, pixel_weights=None):
    """OHEMPixelSampler over the batch, then the cross-entropy with the sampler's weights.

    batch_kept = min_kept * N. With a threshold: p = softmax(x)[label] on valid pixels, sorted
    ascending; min_threshold = sorted[min(batch_kept, n - 1)] (0 when n = 0); keep p < max(that,
    threshold). Without: the batch_kept largest valid losses (ties: lower index first).
    Loss: sum(w * seg_weight * ce) / (N*H*W), or / (valid count) with avg_non_ignore (0 when
    that count is 0).
    """
    N = logits.shape[0]
    ce, logp, y, valid, safe = _pixel_losses(logits, labels, smoothing, ignore)
    batch_kept = min_kept * N
    idx = np.nonzero(valid)[0]
    n = idx.size
    chosen = np.zeros(ce.size, bool)
    if threshold is not None:
        p = np.exp(logp[safe, np.arange(ce.size)])
        if n:
            min_threshold = np.sort(p[idx])[min(batch_kept, n - 1)]
        else:
            min_threshold = 0.0
        limit = max(min_threshold, threshold)
        chosen = valid & (p < limit)
    else:
        order = sorted(idx.tolist(), key=lambda i: (-ce[i], i))
        chosen[order[:batch_kept]] = True
    w = np.ones(ce.size) if pixel_weights is None else pixel_weights.reshape(-1).astype(np.float64)
    divisor = float(n) if avg_non_ignore else float(ce.size)
    value = float((w * ce)[chosen].sum() / divisor) if divisor > 0 else 0.0
    coefficient = np.where(chosen, w / divisor, 0.0) if divisor > 0 else np.zeros(ce.size)
    return dict(value=value, kept=int(chosen.sum()), divisor=divisor, chosen=chosen,
                grad=_gradient(coefficient, logp, y, logits.shape))


def silog(pred_log_depth, depth, variance_focus=0.85, scale=10.0, unbiased=False, dmin=1.0, dmax=256.0):
    """scale * sqrt(D) over the batch's valid pixels, d = log D_pred - log D*:
    BTS    D = mean(d^2) - lambda mean(d)^2            (= var_biased + (1 - lambda) mean^2)
    AdaBins D = var_unbiased(d) + (1 - lambda) mean(d)^2  (torch.var; NaN for one pixel, where this gives 0)
    The value is 0 without valid pixels; the gradient is 0 where D <= 0 (sqrt's kink)."""
    with np.errstate(invalid="ignore"):
        valid = (depth >= dmin) & (depth <= dmax)
    d = np.where(valid, pred_log_depth.astype(np.float64) - np.log(np.where(valid, depth, 1.0).astype(np.float64)), 0.0)
    n = int(valid.sum())
    grad = np.zeros(depth.shape)
    if n == 0 or (unbiased and n < 2):  # torch.var of one element is NaN: the package gives 0
        return dict(value=0.0, grad=grad, pixels=n)
    dv = d[valid]
    mean = dv.mean()
    centred = ((dv - mean) ** 2).sum()
    m = (n - 1) if unbiased else n
    variance = centred / m if m > 0 else 0.0
    D = variance + (1.0 - variance_focus) * mean * mean
    value = scale * math.sqrt(max(D, 0.0))
    if D > 0:
        dD = (2.0 * (d - mean) / m if m > 0 else 0.0 * d) + 2.0 * (1.0 - variance_focus) * mean / n
        grad = np.where(valid, scale / (2.0 * math.sqrt(D)) * dD, 0.0)
    return dict(value=value, grad=grad, pixels=n)


def normalised_disparity(disparity):
    """Per image: (d - min) / (max - min); an image of one value normalises to 0 (torch: NaN)."""
    out = np.zeros(disparity.shape, np.float64)
    for k in range(disparity.shape[0]):
        d = disparity[k].astype(np.float64)
        lo, hi = d.min(), d.max()
        out[k] = (d - lo) / (hi - lo) if hi > lo else 0.0
    return out


def hoyer_depth_mix(disparity, partners, margin=0.03, foreground_threshold=0.0, images=None, labels=None,
                    soft_targets=None, ignore=IGNORE):
    """M_k = (disp_k >= disp_partner - margin) * (disp_k >= ft) on normalised disparity;
    mixed = M * own + (1 - M) * partner, for images, hard labels and soft targets (C x H x W);
    labels of the mixed soft targets: argmax (first), ignore where the maximum is 0."""
    nd = normalised_disparity(disparity)
    N = disparity.shape[0]
    masks = np.zeros(disparity.shape, bool)
    for k in range(N):
        j = partners[k]
        masks[k] = (nd[k] >= nd[j] - margin) & (nd[k] >= foreground_threshold)
    out = dict(masks=masks, normalised=nd)
    if images is not None:
        out["images"] = np.stack([np.where(masks[k][None], images[k], images[partners[k]]) for k in range(N)])
    if labels is not None:
        out["labels"] = np.stack([np.where(masks[k], labels[k], labels[partners[k]]) for k in range(N)])
    if soft_targets is not None:
        mixed = np.stack([masks[k][None] * soft_targets[k].astype(np.float64)
                          + (1.0 - masks[k][None]) * soft_targets[partners[k]].astype(np.float64) for k in range(N)])
        out["soft_targets"] = mixed
        am = mixed.argmax(1)
        out["soft_labels"] = np.where(mixed.max(1) == 0, ignore, am).astype(np.int32)
    return out
