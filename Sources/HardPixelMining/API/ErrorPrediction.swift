/// The error-prediction losses of Gong et al., "Erroneous pixel prediction for semantic
/// image segmentation": an error-prediction branch learns where the segmentation branch is
/// wrong, a detail branch is trained on those pixels, and the two are fused.
///
/// Per labelled pixel `i` of an image with `n` labelled pixels, with the segmentation
/// branch's first argmax `ŷ_i` and largest class probability `q_i = max_j p_ij`:
///
///     error map       E*_i = [ŷ_i ≠ y_i]
///     weights         w_i = w1 if E*_i and q_i ≤ ρ (easy error), w2 if E*_i and q_i > ρ (hard),
///                     w3 = (Σ E*) / n if correct
///     balanced BCE    L_ep = (1/n) Σ w_i · BCE(σ(z_i), E*_i)      ∂L/∂z_i = w_i (σ(z_i) − E*_i) / (N n)
///     binarised map   E_i = [σ(z_i) > t]                           (weights of the detail branch's CE)
///     fusion          P_f = E · P_db + (1 − E) · P_sb
///
/// Defaults: ρ = 0.95, w1 = 1.0, w2 = 1.5, t = 0.7. `z` is the error branch's logit (N·H·W).
/// The weights and maps are constants for differentiation. Batch values are means over images.
public struct ErrorPrediction: Sendable, Hashable {
    /// ρ: an erroneous pixel is hard when its largest class probability exceeds this.
    public var confidence: Double = 0.95
    /// w1, the weight of easy erroneous pixels.
    public var easyWeight: Double = 1.0
    /// w2, the weight of hard erroneous pixels.
    public var hardWeight: Double = 1.5
    /// t, the threshold that binarises the predicted error probability.
    public var threshold: Double = 0.7
    public var ignoreLabel: Int32 = 255

    public init() {}

    /// The balanced BCE per image and for the batch.
    public struct Loss: Sendable, Hashable {
        /// The batch value: the mean of `images`.
        public var value: Double
        /// Each image's L_ep (0 without labelled pixels).
        public var images: [Double]
        /// Each image's fraction of erroneous pixels (w3).
        public var errorFractions: [Double]
    }

    /// Error-pixel IoU and hard recall over the batch's labelled pixels; nil where undefined.
    public struct Metrics: Sendable, Hashable {
        /// |predicted ∧ true errors| / |predicted ∨ true errors|.
        public var errorIoU: Double?
        /// The share of hard true errors (q > ρ) that the branch predicts.
        public var hardRecall: Double?
    }

    func validate() throws {
        try Check.parameter(confidence, "confidence", "in 0...1", { (0...1).contains($0) })
        try Check.weight(easyWeight, "easyWeight")
        try Check.weight(hardWeight, "hardWeight")
        try Check.parameter(threshold, "threshold", "in 0...1", { (0...1).contains($0) })
    }

    public func errorMap(segmentationLogits: [Float], labels: [Int32], shape: BatchShape) throws -> [Bool] {
        try shape.validate()
        try validate()
        return try computeErrorMap(segmentationLogits: segmentationLogits, labels: labels, shape: shape)
    }

    /// The balanced BCE of the error-prediction branch and its gradient with respect to `errorLogits`.
    public func balancedLoss(
        errorLogits: [Float], segmentationLogits: [Float], labels: [Int32], shape: BatchShape,
        gradient: inout [Float]
    ) throws -> Loss {
        try shape.validate()
        try validate()
        try Check.count(errorLogits.count, shape.pixelCount, "errorLogits")
        try Check.count(gradient.count, shape.pixelCount, "gradient")
        try errorLogits.withUnsafeBufferPointer { try Check.allFinite($0, "errorLogits") }
        return try computeBalancedLoss(
            errorLogits: errorLogits, segmentationLogits: segmentationLogits, labels: labels, shape: shape,
            gradient: &gradient)
    }

    /// The binarised error map E = [σ(z) > t] as 0/1 pixel weights for the detail branch's
    /// cross-entropy: `LabelSmoothedCrossEntropy().evaluate(..., pixelWeights: detailWeights)`.
    public func detailWeights(errorLogits: [Float]) throws -> [Float] {
        try validate()
        try errorLogits.withUnsafeBufferPointer { try Check.allFinite($0, "errorLogits") }
        return computeDetailWeights(errorLogits: errorLogits)
    }

    /// The fused class probabilities P_f = E · softmax(detail) + (1 − E) · softmax(segmentation),
    /// in the logits' layout (`shape.logitLayout`).
    public func fuse(
        segmentationLogits: [Float], detailLogits: [Float], errorLogits: [Float], shape: BatchShape
    ) throws -> [Float] {
        try shape.validate()
        try validate()
        try Check.count(errorLogits.count, shape.pixelCount, "errorLogits")
        try errorLogits.withUnsafeBufferPointer { try Check.allFinite($0, "errorLogits") }
        return try computeFusion(
            segmentationLogits: segmentationLogits, detailLogits: detailLogits, errorLogits: errorLogits, shape: shape)
    }

    /// Error-pixel IoU and hard recall of the predicted error map against the true one.
    public func metrics(
        errorLogits: [Float], segmentationLogits: [Float], labels: [Int32], shape: BatchShape
    ) throws -> Metrics {
        try shape.validate()
        try validate()
        try Check.count(errorLogits.count, shape.pixelCount, "errorLogits")
        try errorLogits.withUnsafeBufferPointer { try Check.allFinite($0, "errorLogits") }
        return try computeMetrics(
            errorLogits: errorLogits, segmentationLogits: segmentationLogits, labels: labels, shape: shape)
    }
}
