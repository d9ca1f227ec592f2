/// The hard-pixel-mining objective of one configuration: L_seg, L_HPM, L_T or any
/// Table II row, with both gradients.
///
///     var objective = HardPixelMiningObjective(.paperPaced(totalEpochs: 40))
///     let result = try objective.evaluate(
///         logits: logits, labels: labels, predictedLogDepth: logDepth,
///         groundTruthDepth: depth, shape: shape, epoch: 12,
///         logitGradient: &dLogits, depthGradient: &dLogDepth)
///     print(result.value, result.batch.segmentation, result.images[0].depth)
///
/// Gradients (SPEC §3), with the weights and pacing masks held constant:
/// `∂L/∂x_ij = W_i (p_ij − y_ij) / (N n)` on labelled pixels (0 elsewhere), with
/// `W_i = 1 + β wR_i [counts] + γ wZ_i [counts]`, and
/// `∂L/∂logD_i = (α/N)(2/nd)(R_i − ρ mean(R))` on valid depth (0 elsewhere).
///
/// Accuracy: values within relative 1e-5 and gradients within 1e-6 absolute of a
/// float64 evaluation of the same equations; sums accumulate in Double. Results are
/// bitwise identical from run to run and for any `threadCount`.
public struct HardPixelMiningObjective: Sendable, Hashable {
    public var configuration: ObjectiveConfiguration
    /// Threads used across images and pixel blocks (default 1).
    public var threadCount: Int

    public init(_ configuration: ObjectiveConfiguration = .paper, threadCount: Int = 1) {
        self.configuration = configuration
        self.threadCount = threadCount
    }

    /// Evaluates the objective on zero-copy views of a trainer's buffers.
    ///
    /// - Parameters:
    ///   - logits: N·C·H·W logits in the shape's layout: `Float`, `Float16` or ``BFloat16``
    ///     (see ``LogitPrecision`` for the accuracy of half precision).
    ///   - labels: N·H·W labels in `0..<C` or the ignore label.
    ///   - predictedLogDepth: N·H·W predicted log-depths; may be empty when the
    ///     configuration uses neither L_dep nor L_R.
    ///   - groundTruthDepth: N·H·W linear depths; may be empty when the configuration
    ///     uses none of L_dep, L_R, L_Z. Out-of-range values mean "no depth here".
    ///   - epoch: the current epoch `e` (real allowed); `0...E` when paced.
    ///   - logitGradient: receives ∂L/∂logits (N·C·H·W, the logits' type), or nil.
    ///   - depthGradient: receives ∂L/∂logD (N·H·W), or nil.
    ///   - gradientOutput: overwrite (default) or accumulate into both gradients, with a scale.
    ///   - maps: per-pixel W, ce, wR and wZ to write as well (for logging and pictures).
    ///   - pixelWeightMap: the caller's N·H·W map of ``ObjectiveConfiguration/pixelWeightMap``
    ///     (finite values in 0...1e6); required with that term, refused without it.
    ///   - workspace: scratch to reuse across calls; a temporary one when nil.
    /// - Throws: ``HardPixelMiningError`` before writing anything, but for a non-finite logit:
    ///   every input is validated first, and the logits' finiteness is known after the
    ///   statistics pass, which may keep its exponentials in an overwritten Float NCHW
    ///   `logitGradient` (L_seg alone runs in one pass, as ``LabelSmoothedCrossEntropy``
    ///   does). A non-finite logit leaves `logitGradient` zero-filled in overwrite mode (never
    ///   partly written, whatever its type and layout), and every other output untouched;
    ///   accumulating, or with `dataParallel` over a ``DataParallel/Semantics/globalBatch``
    ///   (where no rank writes while another may fail), every output stays untouched.
    public func evaluate<Scalar: LogitScalar>(
        logits: UnsafeBufferPointer<Scalar>, labels: UnsafeBufferPointer<Int32>,
        predictedLogDepth: UnsafeBufferPointer<Float>, groundTruthDepth: UnsafeBufferPointer<Float>,
        shape: BatchShape, epoch: Double,
        logitGradient: UnsafeMutableBufferPointer<Scalar>? = nil,
        depthGradient: UnsafeMutableBufferPointer<Float>? = nil,
        gradientOutput: GradientOutput = .overwrite,
        maps: ObjectiveMaps = ObjectiveMaps(),
        pixelWeightMap: UnsafeBufferPointer<Float>? = nil,
        workspace: ObjectiveWorkspace? = nil,
        dataParallel: DataParallel? = nil
    ) throws -> ObjectiveResult {
        try evaluate(
            logits: logits, labels: labels, predictedLogDepth: predictedLogDepth, groundTruthDepth: groundTruthDepth,
            shape: shape, epoch: epoch, logitGradient: logitGradient, depthGradient: depthGradient,
            workspace: workspace, gradientScale: 1, gradientOutput: gradientOutput, maps: maps,
            pixelWeightMap: pixelWeightMap, dataParallel: dataParallel)
    }

    /// The core, with both gradients multiplied by `gradientScale` (a side output's λ).
    func evaluate<Scalar: LogitScalar>(
        logits: UnsafeBufferPointer<Scalar>, labels: UnsafeBufferPointer<Int32>,
        predictedLogDepth: UnsafeBufferPointer<Float>, groundTruthDepth: UnsafeBufferPointer<Float>,
        shape: BatchShape, epoch: Double, logitGradient: UnsafeMutableBufferPointer<Scalar>?,
        depthGradient: UnsafeMutableBufferPointer<Float>?, workspace: ObjectiveWorkspace?, gradientScale: Double,
        gradientOutput: GradientOutput = .overwrite, maps: ObjectiveMaps = ObjectiveMaps(),
        pixelWeightMap: UnsafeBufferPointer<Float>? = nil, dataParallel: DataParallel? = nil
    ) throws -> ObjectiveResult {
        let c = configuration
        let ws = workspace ?? ObjectiveWorkspace()
        let batch = try DataParallelCall.begin(
            dataParallel, fingerprint: { fingerprint(shape, Scalar.self, epoch, gradientOutput, gradientScale) },
            images: shape.images
        ) {
            try shape.validate(minimumImages: DataParallelCall.minimumImages(dataParallel))
            try gradientOutput.validate()
            try maps.validate(shape)
            try c.validate(for: shape, epoch: epoch, threadCount: threadCount)
            try Scalar.validateLayout("logits")
            try Check.count(logits.count, shape.logitCount, "logits")
            try Check.count(labels.count, shape.pixelCount, "labels")
            try c.validateDepthCounts(predictedLogDepth, groundTruthDepth, shape)
            if let g = logitGradient { try Check.count(g.count, shape.logitCount, "logitGradient") }
            if let g = depthGradient { try Check.count(g.count, shape.pixelCount, "depthGradient") }
            try Check.labels(labels, classCount: shape.classes, ignoreLabel: c.ignoreLabel, "labels", threads: threadCount)
            if c.needsPredictedDepth { try Check.allFinite(predictedLogDepth, "predictedLogDepth", threads: threadCount) }
            try c.validatePixelWeightMap(pixelWeightMap, shape)
            if dataParallel != nil {
                // Every rank's scratch is allocated before any exchange.
                let table = c.usesSegmentationError
                    ? shape.images * c.grid.dimensions(height: shape.height, width: shape.width).columns * c.depthBinning.binCount : 0
                try ws.reserveForBatch(shape, table: table, threads: threadCount)
            }
        }

        let inputs = EngineInputs(
            logits: logits, labels: DataParallelCall.address(labels),
            predictedLogDepth: c.needsPredictedDepth ? DataParallelCall.address(predictedLogDepth) : nil,
            groundTruthDepth: c.needsGroundTruthDepth ? DataParallelCall.address(groundTruthDepth) : nil)
        let outputs = EngineOutputs(
            logitGradient: logitGradient, depthGradient: depthGradient.map(DataParallelCall.address),
            pixelLosses: maps.pixelLosses.map(DataParallelCall.address), gradientScale: gradientScale * gradientOutput.scale,
            accumulates: gradientOutput.accumulates, lossWeights: maps.lossWeights.map(DataParallelCall.address),
            depthPredictionErrorMap: maps.depthPredictionError.map(DataParallelCall.address),
            segmentationErrorMap: maps.segmentationError.map(DataParallelCall.address))
        // The engine routes L_seg alone to the cross-entropy's one pass (unless maps are asked for).
        let map = pixelWeightMap.map(DataParallelCall.address)
        let sums = try c.withPlan(shape: shape, epoch: epoch, pixelWeightMap: map) { plan in
            try c.withTargets(classCount: shape.classes) { targets in
                try ObjectiveEngine.run(
                    .weighted(plan), targets: targets, shape: shape, inputs: inputs, outputs: outputs,
                    workspace: ws, threads: threadCount, batch: batch)
            }
        }
        let all = try batch?.gatherSums(sums) ?? sums
        return ObjectiveResult(validCombining: all, configuration: c, epoch: epoch)
    }

    /// What every rank of a data-parallel call must share: the shape but its image count,
    /// the logits' precision, the configuration, the epoch, the gradient output and scale.
    private func fingerprint<Scalar: LogitScalar>(
        _ shape: BatchShape, _: Scalar.Type, _ epoch: Double, _ output: GradientOutput, _ scale: Double
    ) -> String {
        "HardPixelMiningObjective \(shape.classes) \(shape.height) \(shape.width) \(shape.logitLayout) "
            + "\(Scalar.logitPrecision) \(configuration) \(epoch) \(output) \(scale)"
    }
}

extension ObjectiveConfiguration {
    /// The checks every entry of the objective shares, in this order: the configuration
    /// against the shape, the thread count, the epoch (and its pacing range).
    func validate(for shape: BatchShape, epoch: Double, threadCount: Int) throws {
        try validate(for: shape)
        try HardPixelMining.validate(threadCount: threadCount)
        try Check.parameter(epoch, "epoch", "finite and >= 0", { $0 >= 0 })
        try pacing?.validate(epoch: epoch)
    }

    /// The caller's map: N·H·W finite values in 0...1e6 with a ``PixelWeightMapTerm``, and none without.
    func validatePixelWeightMap(_ map: UnsafeBufferPointer<Float>?, _ shape: BatchShape) throws {
        guard pixelWeightMap != nil else {
            if let map {
                throw HardPixelMiningError.invalidSetting(
                    argument: "pixelWeightMap", value: "a map of \(map.count) values",
                    requirement: "nil unless configuration.pixelWeightMap sets its term")
            }
            return
        }
        guard let map else {
            throw HardPixelMiningError.invalidSetting(
                argument: "pixelWeightMap", value: "nil", requirement: "N·H·W values: configuration.pixelWeightMap is set")
        }
        try Check.count(map.count, shape.pixelCount, "pixelWeightMap")
        try Check.weights(map, "pixelWeightMap")
    }

    /// The depth buffers' counts: N·H·W where the configuration reads them, else N·H·W or empty.
    func validateDepthCounts(
        _ predictedLogDepth: UnsafeBufferPointer<Float>, _ groundTruthDepth: UnsafeBufferPointer<Float>, _ shape: BatchShape
    ) throws {
        try validateOptional(predictedLogDepth, required: needsPredictedDepth, shape, "predictedLogDepth")
        try validateOptional(groundTruthDepth, required: needsGroundTruthDepth, shape, "groundTruthDepth")
    }
}

func validate(threadCount: Int) throws {
    if threadCount < 1 || threadCount > 1024 {
        throw HardPixelMiningError.invalidDimension(argument: "threadCount", value: threadCount, requirement: "in 1...1024")
    }
}

/// An optional per-pixel input: required ones must have N·H·W elements; others may be empty.
func validateOptional<T>(
    _ buffer: UnsafeBufferPointer<T>, required: Bool, _ shape: BatchShape, _ argument: @autoclosure () -> String
) throws {
    if required || !buffer.isEmpty {
        try Check.count(buffer.count, shape.pixelCount, argument())
    }
}
