import HardPixelMining

/// The objective's per-pixel maps as arrays (each N·H·W), for tests of the pointer form.
public struct PixelMapArrays: Sendable {
    public var lossWeights, pixelLosses, depthPredictionError, segmentationError: [Float]

    /// Four maps of `count` elements, each filled with `value`.
    public init(count: Int, filledWith value: Float) {
        lossWeights = [Float](repeating: value, count: count)
        (pixelLosses, depthPredictionError, segmentationError) = (lossWeights, lossWeights, lossWeights)
    }
}

/// Calls `body` with a mutable view of `array`, or nil when it is nil.
func withOptionalMutableBuffer<R>(
    _ array: inout [Float]?, _ body: (UnsafeMutableBufferPointer<Float>?) throws -> R
) rethrows -> R {
    guard array != nil else { return try body(nil) }
    return try array!.withUnsafeMutableBufferPointer { try body($0) }
}

extension HardPixelMiningObjective {
    /// The pointer form, called from arrays: each gradient and the maps are written into the
    /// arrays given (nil: not asked for).
    public func evaluateThroughPointers(
        logits: [Float], labels: [Int32], predictedLogDepth: [Float], groundTruthDepth: [Float], shape: BatchShape,
        epoch: Double, logitGradient: inout [Float]?, depthGradient: inout [Float]?, maps: inout PixelMapArrays?,
        workspace: ObjectiveWorkspace? = nil
    ) throws -> ObjectiveResult {
        var m = maps
        defer { maps = m }
        var (w, ce, wR, wZ) = (m?.lossWeights, m?.pixelLosses, m?.depthPredictionError, m?.segmentationError)
        defer { if m != nil { m = PixelMapArrays(lossWeights: w!, pixelLosses: ce!, depthPredictionError: wR!, segmentationError: wZ!) } }
        return try logits.withUnsafeBufferPointer { x in
            try labels.withUnsafeBufferPointer { y in
                try predictedLogDepth.withUnsafeBufferPointer { d in
                    try groundTruthDepth.withUnsafeBufferPointer { dStar in
                        try withOptionalMutableBuffer(&logitGradient) { gx in
                            try withOptionalMutableBuffer(&depthGradient) { gd in
                                try withOptionalMutableBuffer(&w) { w in
                                    try withOptionalMutableBuffer(&ce) { ce in
                                        try withOptionalMutableBuffer(&wR) { wR in
                                            try withOptionalMutableBuffer(&wZ) { wZ in
                                                try evaluate(
                                                    logits: x, labels: y, predictedLogDepth: d, groundTruthDepth: dStar,
                                                    shape: shape, epoch: epoch, logitGradient: gx, depthGradient: gd,
                                                    maps: ObjectiveMaps(
                                                        lossWeights: w, pixelLosses: ce, depthPredictionError: wR,
                                                        segmentationError: wZ),
                                                    workspace: workspace)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

extension PixelMapArrays {
    init(lossWeights: [Float], pixelLosses: [Float], depthPredictionError: [Float], segmentationError: [Float]) {
        self.lossWeights = lossWeights
        self.pixelLosses = pixelLosses
        self.depthPredictionError = depthPredictionError
        self.segmentationError = segmentationError
    }
}
