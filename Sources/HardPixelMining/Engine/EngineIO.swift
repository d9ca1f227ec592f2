import HardPixelMiningKernels
/// `x` as a Float, saturated at ±`limit` so that finite inputs, however extreme, give
/// finite outputs (an exact Double such as β · |R| / (N n) may exceed Float's range).
@inline(__always)
func saturatingFloat(_ x: Double, limit: Float = .greatestFiniteMagnitude) -> Float {
    Float(Swift.min(Swift.max(x, -Double(limit)), Double(limit)))
}

/// 1 where a pixel is eligible for the hard-pixel weights (a label other than `ignoreLabel`
/// and a valid depth), else 0: without a branch (both are scattered at random), so that the
/// loops calling it neither mispredict nor stay scalar.
@inline(__always)
func eligibility(label: Int32, hasDepth: UInt8, ignoreLabel: Int32) -> Int {
    (label != ignoreLabel ? 1 : 0) & (hasDepth != 0 ? 1 : 0)
}

/// Raw views of the inputs, already validated against the shape.
struct EngineInputs {
    var logits: LogitBuffer
    var labels: UnsafePointer<Int32>
    /// Predicted log-depth; given when the term uses L_dep or L_R.
    var predictedLogDepth: UnsafePointer<Float>? = nil
    /// Ground-truth depth; given when the term uses L_dep, L_R or L_Z.
    var groundTruthDepth: UnsafePointer<Float>? = nil
}

/// Raw views of the outputs; each is written only after all validation has passed.
struct EngineOutputs {
    var logitGradient: MutableLogitBuffer?
    var depthGradient: UnsafeMutablePointer<Float>? = nil
    var pixelLosses: UnsafeMutablePointer<Float>? = nil
    /// A factor on both gradients (a side output's λ, a user's scale), folded into the
    /// per-pixel coefficients.
    var gradientScale: Double = 1
    /// Add to the gradients' buffers instead of overwriting them.
    var accumulates = false
    /// Receives each pixel's loss weight `W_i` (0 where the label is ignored), when given.
    var lossWeights: UnsafeMutablePointer<Float>? = nil
    /// Receive wR and wZ on eligible pixels (0 elsewhere), when given.
    var depthPredictionErrorMap: UnsafeMutablePointer<Float>? = nil
    var segmentationErrorMap: UnsafeMutablePointer<Float>? = nil

    /// Whether any per-pixel map is asked for (which the one-pass cross-entropy does not write but ce).
    var hasMaps: Bool {
        pixelLosses != nil || lossWeights != nil || depthPredictionErrorMap != nil || segmentationErrorMap != nil
    }
}

/// What weighs each labelled pixel's cross-entropy: the engine's description of the
/// segmentation part of every loss (one case per kind of work, so that a loss says what it
/// computes instead of configuring the objective to imitate it).
enum SegmentationTerm {
    /// `Σ w_i loss_i / n` (w_i = 1, or a pixel weight; n reduced as `reduction` says; loss_i the
    /// cross-entropy, modulated by focal and PolyLoss-1 when given): one pass over the logits.
    case plain(pixelWeights: UnsafePointer<Float>?, reduction: Reduction, modulation: Modulation? = nil)
    /// Loss-rank mining: `Σ_{i ∈ S} w_i ce_i / |S|`; statistics, selection, gradient.
    case mined(PixelMining, pixelWeights: UnsafePointer<Float>?)
    /// A weighting plan (any Table II row, and the composable terms): statistics, weighing,
    /// gradient — or the one pass when the plan needs no weighing and no map is asked for.
    case weighted(WeightingPlan)
}
