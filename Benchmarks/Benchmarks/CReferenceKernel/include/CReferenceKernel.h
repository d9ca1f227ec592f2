// An independent C kernel of exactly the package's one-pass cross-entropy (NCHW Float logits,
// label smoothing with targets `on`/`off`, an ignore label, the per-image mean, the gradient
// overwritten): the yardstick the package's kernel is timed against in the same run. It
// shares no code with the package; Tests/CReferenceKernelTests checks it against the NumPy
// float64 fixtures.
#ifndef C_REFERENCE_KERNEL_H
#define C_REFERENCE_KERNEL_H
#include <stddef.h>
#include <stdint.h>

/// Returns L_seg = (1/N) Σ_k (1/n_k) Σ_{labelled i of image k} ce_i and writes
/// ∂L/∂x_ij = (p_ij − t_ij) / (N n_k) (0 on ignored pixels) into `gradient` (N·C·H·W, NCHW),
/// with t_ij = `on` for the label and `off` elsewhere. `threads` ≥ 1 workers take runs of
/// tiles from an atomic counter. Returns NaN when a logit is not finite (the gradient is then
/// unspecified).
double cref_cross_entropy(
    const float *logits, const int32_t *labels, int images, int classes, ptrdiff_t plane, float on, float off,
    int32_t ignore_label, float *gradient, int threads);

/// The logit passes of the hard-pixel objective L_T, as a C programmer would write them, with
/// the per-pixel weights W given (the objective computes them between the passes from whole
/// images; that weighing is not part of this kernel):
/// 1. the statistics pass: the cross-entropy's tiles without a gradient, writing each pixel's
///    maximum, log Σe and ce (0 if ignored) into `state` (3·N·plane floats);
/// 2. the gradient pass: the logits read again, row by row, ∂/∂x_ij = W_i (p_ij − t_ij) / (N n_k)
///    (0 on ignored pixels) written into `gradient`.
/// Returns (1/N) Σ_k (1/n_k) Σ_{labelled i of image k} W_i ce_i, or NaN when a logit is not
/// finite (the gradient is then not written). A lower bound, by the work of its logit passes
/// alone, on what the objective can take.
double cref_two_pass(
    const float *logits, const int32_t *labels, const float *weights, int images, int classes, ptrdiff_t plane,
    float on, float off, int32_t ignore_label, float *gradient, float *state, int threads);
#endif
