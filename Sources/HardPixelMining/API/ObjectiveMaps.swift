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

    func validate(_ shape: BatchShape) throws {
        if let m = lossWeights { try Check.count(m.count, shape.pixelCount, "maps.lossWeights") }
        if let m = pixelLosses { try Check.count(m.count, shape.pixelCount, "maps.pixelLosses") }
        if let m = depthPredictionError { try Check.count(m.count, shape.pixelCount, "maps.depthPredictionError") }
        if let m = segmentationError { try Check.count(m.count, shape.pixelCount, "maps.segmentationError") }
    }
}
