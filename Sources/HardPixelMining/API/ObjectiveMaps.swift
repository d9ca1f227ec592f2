/// Per-pixel maps the objective can also return, for logging and pictures: views of N·H·W
/// buffers you own, each optional.
///
///     var w = [Float](repeating: 0, count: shape.pixelCount)
///     try w.withUnsafeMutableBufferPointer { w in
///         _ = try objective.evaluate(..., maps: ObjectiveMaps(lossWeights: w))
///     }
///
/// Written only after every check passed, and only by the evaluation that returns normally.
public struct ObjectiveMaps {
    /// `W_i`, each pixel's loss weight (as ``PixelLossWeights`` computes it), 0 where ignored.
    public var lossWeights: UnsafeMutableBufferPointer<Float>?
    /// `ce_i`, the label-smoothed cross-entropy, 0 where ignored; with focal or PolyLoss-1 the
    /// modulated loss `α (1 − p_t)^γ (ce_i + ε (1 − p_t))`.
    public var pixelLosses: UnsafeMutableBufferPointer<Float>?
    /// `wR_i = |R_i|` on eligible pixels, 0 elsewhere (and everywhere when L_R is off).
    public var depthPredictionError: UnsafeMutableBufferPointer<Float>?
    /// `wZ_i` on eligible pixels, 0 elsewhere (and everywhere when L_Z is off).
    public var segmentationError: UnsafeMutableBufferPointer<Float>?

    public init(
        lossWeights: UnsafeMutableBufferPointer<Float>? = nil, pixelLosses: UnsafeMutableBufferPointer<Float>? = nil,
        depthPredictionError: UnsafeMutableBufferPointer<Float>? = nil,
        segmentationError: UnsafeMutableBufferPointer<Float>? = nil
    ) {
        self.lossWeights = lossWeights
        self.pixelLosses = pixelLosses
        self.depthPredictionError = depthPredictionError
        self.segmentationError = segmentationError
    }

    var isEmpty: Bool {
        lossWeights == nil && pixelLosses == nil && depthPredictionError == nil && segmentationError == nil
    }

    func validate(_ shape: BatchShape, argument: String = "maps") throws {
        if let m = lossWeights { try Check.count(m.count, shape.pixelCount, "\(argument).lossWeights") }
        if let m = pixelLosses { try Check.count(m.count, shape.pixelCount, "\(argument).pixelLosses") }
        if let m = depthPredictionError { try Check.count(m.count, shape.pixelCount, "\(argument).depthPredictionError") }
        if let m = segmentationError { try Check.count(m.count, shape.pixelCount, "\(argument).segmentationError") }
    }
}

/// The per-pixel maps of ``ObjectiveMaps`` as arrays, for the objective's array form: each
/// non-nil array must have N·H·W elements and is overwritten (only by an evaluation that
/// returns normally).
///
///     var maps = ObjectiveMapArrays(shape: shape, lossWeights: true)
///     _ = try objective.evaluate(..., logitGradient: &dLogits, depthGradient: &dLogDepth, maps: &maps)
///     let w = maps.lossWeights!        // W_i, 0 where ignored
public struct ObjectiveMapArrays: Sendable, Hashable {
    /// `W_i` (see ``ObjectiveMaps/lossWeights``).
    public var lossWeights: [Float]?
    /// `ce_i`, or the modulated loss (see ``ObjectiveMaps/pixelLosses``).
    public var pixelLosses: [Float]?
    /// `wR_i` (see ``ObjectiveMaps/depthPredictionError``).
    public var depthPredictionError: [Float]?
    /// `wZ_i` (see ``ObjectiveMaps/segmentationError``).
    public var segmentationError: [Float]?

    public init(
        lossWeights: [Float]? = nil, pixelLosses: [Float]? = nil, depthPredictionError: [Float]? = nil,
        segmentationError: [Float]? = nil
    ) {
        self.lossWeights = lossWeights
        self.pixelLosses = pixelLosses
        self.depthPredictionError = depthPredictionError
        self.segmentationError = segmentationError
    }

    /// N·H·W zeros for each map asked for, nil for the others.
    public init(
        shape: BatchShape, lossWeights: Bool = false, pixelLosses: Bool = false, depthPredictionError: Bool = false,
        segmentationError: Bool = false
    ) {
        func zeros(_ wanted: Bool) -> [Float]? { wanted ? [Float](repeating: 0, count: shape.pixelCount) : nil }
        self.init(
            lossWeights: zeros(lossWeights), pixelLosses: zeros(pixelLosses),
            depthPredictionError: zeros(depthPredictionError), segmentationError: zeros(segmentationError))
    }

    /// Calls `body` with views of the arrays.
    mutating func withViews<R>(_ body: (ObjectiveMaps) throws -> R) rethrows -> R {
        try withOptionalMutableBuffer(&lossWeights) { w in
            try withOptionalMutableBuffer(&pixelLosses) { l in
                try withOptionalMutableBuffer(&depthPredictionError) { r in
                    try withOptionalMutableBuffer(&segmentationError) { z in
                        try body(ObjectiveMaps(lossWeights: w, pixelLosses: l, depthPredictionError: r, segmentationError: z))
                    }
                }
            }
        }
    }
}
