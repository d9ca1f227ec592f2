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
#endif
