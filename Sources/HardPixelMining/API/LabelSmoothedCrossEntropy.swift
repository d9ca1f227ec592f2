/// Label-smoothed cross-entropy (the paper's Eq. 1), L_seg.
///
/// With `p = softmax(logits)` over classes, targets `on`/`off` from ``LabelSmoothing`` and
/// class weights `c_j` (1 without them):
///
///     ce_i  = −[off · Σ_j c_j log p_ij + (on − off) · c_label log p_i,label]
///     L_seg = (1/ñ) Σ_labelled w_i ce_i        (w_i = 1 without pixel weights; ñ = Σ c_label, or n)
///     ∂L/∂x_ij = w_i (A_i p_ij − a_ij) / (N ñ),  a_ij = off c_j + (on − off) c_label [j = label],
///                                                A_i = Σ_j a_ij   (= 1 without class weights)
///
/// computed with a max-shifted log-sum-exp; by default the batch value is the mean over
/// images of each image's L_seg (the paper's); ``Reduction`` gives PyTorch's pooled `mean`
/// and `sum`. PyTorch: `F.cross_entropy(x, y, weight=c, ignore_index=255,
/// label_smoothing=ε, reduction="mean")` is `reduction: .mean`, `classWeights: c`,
/// `smoothing: .pytorch(epsilon: ε)` — the same value and gradient to within 1e-6.
///
/// With ``focal`` and ``polyEpsilon`` each labelled pixel's loss becomes
/// `α_label (1 − p_t)^γ (ce_i + ε (1 − p_t))` (focal loss, PolyLoss-1; see
/// ``FocalModulation``), still in one pass over the logits.
public struct LabelSmoothedCrossEntropy: Sendable, Hashable {
    public var smoothing: LabelSmoothing
    public var ignoreLabel: Int32
    /// Loss-rank hard pixel mining; nil keeps every labelled pixel.
    public var mining: PixelMining?
    /// Class weights (C finite values in 0...1e6; PyTorch's `weight=`), or nil.
    public var classWeights: [Float]?
    /// How the per-pixel losses are reduced (default: the paper's per-image mean). Mining
    /// accepts only the default, since each mining mode brings its own divisor.
    public var reduction: Reduction
    /// Focal modulation of each pixel's loss, or nil. Not with mining.
    public var focal: FocalModulation?
    /// PolyLoss-1's ε (0...1000; 0: none). Not with mining.
    public var polyEpsilon: Double
    public var threadCount: Int

    public init(
        smoothing: LabelSmoothing = .paperDefault, ignoreLabel: Int32 = 255, mining: PixelMining? = nil,
        classWeights: [Float]? = nil, reduction: Reduction = .perImageMean, focal: FocalModulation? = nil,
        polyEpsilon: Double = 0, threadCount: Int = 1
    ) {
        self.smoothing = smoothing
        self.ignoreLabel = ignoreLabel
        self.mining = mining
        self.classWeights = classWeights
        self.reduction = reduction
        self.focal = focal
        self.polyEpsilon = polyEpsilon
        self.threadCount = threadCount
    }

    /// Evaluates the loss; the result's `value` is L_seg.
    ///
    /// Without mining this is one pass over the logits (a pass over the labels first):
    /// statistics and gradient per tile. Every input but the logits' finiteness is validated
    /// before anything is written; a NaN or infinite logit is found while the gradient is
    /// being written, so it throws with `gradient` and `pixelLosses` zero-filled (never
    /// partly written) — in overwrite mode; accumulating, every output stays untouched. With
    /// mining, the first of two passes may keep its exponentials in an overwritten Float NCHW
    /// `gradient`: a non-finite logit leaves `gradient` zero-filled in overwrite mode (whatever
    /// its type and layout) and `pixelLosses` untouched; any other error leaves every output
    /// untouched.
    ///
    /// - Parameters:
    ///   - logits: N·C·H·W logits in the shape's layout: `Float`, `Float16` or ``BFloat16``
    ///     (see ``LogitPrecision`` for the accuracy of half precision).
    ///   - pixelWeights: optional N·H·W finite weights `w_i`.
    ///   - gradient: receives ∂L/∂logits (N·C·H·W, the logits' type), or nil.
    ///   - pixelLosses: receives each pixel's loss, `ce_i` or with ``focal``/``polyEpsilon`` the
    ///     modulated `α (1 − p_t)^γ (ce_i + ε (1 − p_t))` (N·H·W, 0 on ignored pixels), or nil.
    ///   - gradientOutput: overwrite (default) or accumulate into `gradient`, with a scale.
    ///     Accumulating checks the logits' finiteness before the pass (one extra read), so
    ///     that an error leaves `gradient` untouched.
    public func evaluate<Scalar: LogitScalar>(
        logits: UnsafeBufferPointer<Scalar>, labels: UnsafeBufferPointer<Int32>, shape: BatchShape,
        pixelWeights: UnsafeBufferPointer<Float>? = nil,
        gradient: UnsafeMutableBufferPointer<Scalar>? = nil,
        pixelLosses: UnsafeMutableBufferPointer<Float>? = nil,
        gradientOutput: GradientOutput = .overwrite,
        workspace: ObjectiveWorkspace? = nil,
        dataParallel: DataParallel? = nil
    ) throws -> CrossEntropyResult {
        let ws = workspace ?? ObjectiveWorkspace()
        let batch = try DataParallelCall.begin(
            dataParallel, fingerprint: { fingerprint(shape, Scalar.self, gradientOutput) }, images: shape.images
        ) {
            try shape.validate(minimumImages: DataParallelCall.minimumImages(dataParallel))
            try gradientOutput.validate()
            try smoothing.validate()
            try mining?.validate()
            if mining != nil && reduction != .perImageMean {
                throw HardPixelMiningError.invalidSetting(
                    argument: "reduction", value: ".\(reduction)",
                    requirement: ".perImageMean with mining (each mining mode brings its own divisor)")
            }
            try validateClassWeights(classWeights, classCount: shape.classes, "classWeights")
            try focal?.validate(classCount: shape.classes, argument: "focal")
            try FocalModulation.validate(polyEpsilon: polyEpsilon, argument: "polyEpsilon")
            if mining != nil && (focal != nil || polyEpsilon != 0) {
                throw HardPixelMiningError.invalidSetting(
                    argument: focal != nil ? "focal" : "polyEpsilon", value: focal.map { "\($0)" } ?? "\(polyEpsilon)",
                    requirement: "not used with mining (mining ranks the unmodulated losses)")
            }
            try validate(threadCount: threadCount)
            try Scalar.validateLayout("logits")
            try Check.count(logits.count, shape.logitCount, "logits")
            try Check.count(labels.count, shape.pixelCount, "labels")
            if let w = pixelWeights {
                try Check.count(w.count, shape.pixelCount, "pixelWeights")
                try Check.weights(w, "pixelWeights")
            }
            if let g = gradient { try Check.count(g.count, shape.logitCount, "gradient") }
            if let l = pixelLosses { try Check.count(l.count, shape.pixelCount, "pixelLosses") }
            try Check.labels(labels, classCount: shape.classes, ignoreLabel: ignoreLabel, "labels", threads: threadCount)
            if dataParallel != nil {
                // Every rank's scratch is allocated before any exchange.
                try ws.reserveForBatch(shape, table: 0, threads: threadCount)
            }
        }
        let weights = pixelWeights.map(DataParallelCall.address)
        let sums = try ObjectiveEngine.withTargets(
            smoothing: smoothing, ignoreLabel: ignoreLabel, classWeights: classWeights, classCount: shape.classes
        ) { targets in
            try focal.withModulation(polyEpsilon: polyEpsilon) { modulation in
            try ObjectiveEngine.run(
                mining.map { .mined($0, pixelWeights: weights) }
                    ?? .plain(pixelWeights: weights, reduction: reduction, modulation: modulation),
                targets: targets, shape: shape,
                inputs: EngineInputs(logits: logits, labels: DataParallelCall.address(labels)),
                outputs: EngineOutputs(
                    logitGradient: gradient, pixelLosses: pixelLosses.map(DataParallelCall.address),
                    gradientScale: gradientOutput.scale, accumulates: gradientOutput.accumulates),
                workspace: ws, threads: threadCount, batch: batch)
            }
        }
        let all = try batch?.gatherSums(sums) ?? sums
        return CrossEntropyResult(validCombining: all)
    }

    /// What every rank of a data-parallel call must share: the shape but its image count,
    /// the logits' precision, the settings (the thread count aside), the gradient output.
    private func fingerprint<Scalar: LogitScalar>(_ shape: BatchShape, _: Scalar.Type, _ output: GradientOutput) -> String {
        var settings = self
        settings.threadCount = 1
        return "LabelSmoothedCrossEntropy \(shape.classes) \(shape.height) \(shape.width) \(shape.logitLayout) "
            + "\(Scalar.logitPrecision) \(settings) \(output)"
    }
}
