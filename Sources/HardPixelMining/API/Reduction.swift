/// How the per-pixel losses of the segmentation terms become one value (PyTorch's
/// `reduction=`). With class weights `w`, every "count" below is `Σ w_label` over the
/// labelled pixels, as `F.cross_entropy(weight=)` divides.
///
///     perImageMean:  (1/N) Σ_k [ Σ_{i∈k} W_i ce_i / Σ_{i∈k} w_label(i) ]     (the paper's)
///     mean:          Σ_i W_i ce_i / Σ_i w_label(i)                          (PyTorch's "mean")
///     sum:           Σ_i W_i ce_i                                           (PyTorch's "sum")
///
/// It applies to L_seg, L_R and L_Z (each divides by the same count); the depth terms keep
/// their own reduction (a per-image mean for L_dep, the pooled batch for SILog). With
/// ``PixelMining`` only `perImageMean` is accepted: each mining mode brings its own divisor.
/// Where every pixel is ignored (or every label's weight is 0) the value is 0, where PyTorch
/// gives NaN.
public enum Reduction: String, Sendable, Hashable, CaseIterable {
    /// Each image's mean over its labelled pixels, then the mean over the images (the default).
    case perImageMean
    /// The pooled mean over the batch's labelled pixels, PyTorch's `reduction="mean"`.
    case mean
    /// The sum over the batch's labelled pixels, PyTorch's `reduction="sum"`.
    case sum
}

extension Reduction {
    /// The batch's divisor of the segmentation terms for a pooled reduction (nil for the
    /// per-image mean): Σ over images of Σ w_label (or n) for `mean`, 1 for `sum`.
    static func pooledDivisor<S: Sequence<Double>>(_ reduction: Reduction, _ divisors: S) -> Double? {
        switch reduction {
        case .perImageMean: return nil
        case .sum: return 1
        case .mean: return divisors.reduce(0.0, +)
        }
    }
}

/// Class weights `w_j` (PyTorch's `weight=`): C values, each 0 or in 1e-6...1e6 (so that the
/// divisor Σ w_label, when not 0, keeps every gradient finite).
///
/// With label smoothing, PyTorch weighs the smoothing term per class, not per label:
///
///     ce_i = −[(on − off) · w_y log p_y + off · Σ_j w_j log p_j]
///
/// (with `on − off = 1 − ε` and `off = ε / C` in PyTorch's convention), which is what the
/// package computes; without class weights `w_j = 1` and this is Eq. 1.
func validateClassWeights(_ weights: [Float]?, classCount: Int, _ argument: @autoclosure () -> String) throws {
    guard let weights else { return }
    try Check.count(weights.count, classCount, argument())
    try weights.withUnsafeBufferPointer { try Check.weights($0, argument()) }
    for (j, w) in weights.enumerated() where w != 0 && w < 1e-6 {
        throw HardPixelMiningError.invalidParameter(
            argument: "\(argument())[\(j)]", value: Double(w), requirement: "0, or in 1e-6...1e6")
    }
}
