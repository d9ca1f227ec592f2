/// Per-pixel loss weights for a trainer whose logits stay elsewhere (on an accelerator, in
/// another framework): the journal version's Loss Weight Module. From the argmax predictions
/// (N·H·W), the labels, the predicted log-depth and the ground-truth depth it writes
///
///     W_i = 1 + β(e) · wR_i · [counts] + γ · wZ_i · [counts]      on labelled pixels, 0 elsewhere
///
/// with wR, wZ, the pacing and every hyper-parameter exactly as ``HardPixelMiningObjective``
/// uses them for the same configuration and epoch, so that the trainer's own
/// `(1/n) Σ_i W_i · ce_i` per image (W held constant) is the objective's
/// `L_seg + β L_R + γ L_Z`, and its gradient the objective's logit gradient. Add `α L_dep`
/// with ``ScaleInvariantDepthLoss``.
///
///     let module = PixelLossWeights(.paperPaced(totalEpochs: 40))
///     let (weights, report) = try module.weights(
///         predictions: argmax, labels: labels, predictedLogDepth: logDepth,
///         groundTruthDepth: depth, shape: shape, epoch: 12)
///     // PyTorch: loss = (weights * F.cross_entropy(x, y, reduction="none")).sum((1, 2)) / n
///
/// Without logits there is no per-pixel loss, so a configuration that paces the
/// segmentation term itself (`pacesSegmentation`) is rejected. Every error is thrown before
/// `weights` is written.
public struct PixelLossWeights: Sendable, Hashable {
    public var configuration: ObjectiveConfiguration
    /// Threads used across images (default 1).
    public var threadCount: Int

    public init(_ configuration: ObjectiveConfiguration = .paper, threadCount: Int = 1) {
        self.configuration = configuration
        self.threadCount = threadCount
    }

    /// What the weights were made with.
    public struct Report: Sendable, Hashable {
        /// β(e), the DPE weight at this epoch.
        public var depthPredictionErrorWeight: Double
        /// γ, the DSE weight.
        public var segmentationErrorWeight: Double
        /// Per image: n, nd, the eligible pixels, η of each paced map
        /// (`depthPredictionErrorPace`, `segmentationErrorPace`; nil unpaced or without
        /// eligible pixels) and the pixels each map counted
        /// (`countedDepthPredictionErrorPixels`, `countedSegmentationErrorPixels`).
        public var images: [ImageSums]
    }

    /// Writes `W` (N·H·W) into `weights`.
    ///
    /// - Parameters:
    ///   - predictions: N·H·W predicted classes in `0..<C` (the first argmax of the logits).
    ///   - predictedLogDepth: N·H·W; may be empty when the configuration uses neither L_dep nor L_R.
    ///   - groundTruthDepth: N·H·W linear depths in the binning's units; may be empty when the
    ///     configuration uses no depth term.
    public func weights(
        predictions: UnsafeBufferPointer<Int32>, labels: UnsafeBufferPointer<Int32>,
        predictedLogDepth: UnsafeBufferPointer<Float>, groundTruthDepth: UnsafeBufferPointer<Float>,
        shape: BatchShape, epoch: Double, into weights: UnsafeMutableBufferPointer<Float>,
        workspace: ObjectiveWorkspace? = nil
    ) throws -> Report {
        let c = configuration
        try shape.validate()
        try c.validate(for: shape, epoch: epoch, threadCount: threadCount)
        if c.pacesSegmentation {
            throw HardPixelMiningError.invalidSetting(
                argument: "configuration.pacesSegmentation", value: "true",
                requirement: "false: predictions carry no per-pixel loss to pace")
        }
        if let focal = c.focal {
            throw HardPixelMiningError.invalidSetting(
                argument: "configuration.focal", value: "\(focal)",
                requirement: "nil: predictions carry no probabilities to modulate by")
        }
        if c.polyEpsilon != 0 {
            throw HardPixelMiningError.invalidParameter(
                argument: "configuration.polyEpsilon", value: c.polyEpsilon,
                requirement: "0: predictions carry no probabilities for PolyLoss-1")
        }
        if let map = c.pixelWeightMap {
            throw HardPixelMiningError.invalidSetting(
                argument: "configuration.pixelWeightMap", value: "\(map)",
                requirement: "nil: add a map of your own to the weights this returns")
        }
        try Check.count(predictions.count, shape.pixelCount, "predictions")
        try Check.count(labels.count, shape.pixelCount, "labels")
        try c.validateDepthCounts(predictedLogDepth, groundTruthDepth, shape)
        try Check.count(weights.count, shape.pixelCount, "weights")
        try Check.labels(labels, classCount: shape.classes, ignoreLabel: c.ignoreLabel, "labels")
        try Check.predictions(predictions, classCount: shape.classes, "predictions")
        if c.needsPredictedDepth { try Check.allFinite(predictedLogDepth, "predictedLogDepth") }
        let images = try c.withPlan(shape: shape, epoch: epoch) { plan in
            try c.withTargets(classCount: shape.classes) { targets in
                try LossWeightPass.run(
                    predictions: predictions.baseAddress!, labels: labels.baseAddress!,
                    predictedLogDepth: c.needsPredictedDepth ? predictedLogDepth.baseAddress : nil,
                    groundTruthDepth: c.needsGroundTruthDepth ? groundTruthDepth.baseAddress : nil, shape: shape,
                    plan: plan, targets: targets, into: weights.baseAddress!, workspace: workspace ?? ObjectiveWorkspace(),
                    threads: threadCount)
            }
        }
        return Report(
            depthPredictionErrorWeight: c.depthPredictionErrorWeight.value(atEpoch: epoch),
            segmentationErrorWeight: c.segmentationErrorWeight, images: images)
    }

    /// Returns `W` (N·H·W) and the report.
    public func weights(
        predictions: [Int32], labels: [Int32], predictedLogDepth: [Float] = [], groundTruthDepth: [Float] = [],
        shape: BatchShape, epoch: Double
    ) throws -> (weights: [Float], report: Report) {
        var out = [Float](repeating: 0, count: labels.count)
        let report = try predictions.withUnsafeBufferPointer { p in
            try labels.withUnsafeBufferPointer { y in
                try predictedLogDepth.withUnsafeBufferPointer { d in
                    try groundTruthDepth.withUnsafeBufferPointer { dStar in
                        try out.withUnsafeMutableBufferPointer { w in
                            try weights(
                                predictions: p, labels: y, predictedLogDepth: d, groundTruthDepth: dStar, shape: shape,
                                epoch: epoch, into: w)
                        }
                    }
                }
            }
        }
        return (out, report)
    }
}
