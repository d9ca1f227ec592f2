#if compiler(>=6.2)
// The objective on `Span` views (Swift 6.2 and later; on Apple platforms Span back-deploys to
// macOS 10.14.4, iOS 12.2, watchOS 5.2, tvOS 12.2): the views borrowed as buffers for the
// pointer form, which validates everything.

@available(macOS 10.14.4, iOS 12.2, watchOS 5.2, tvOS 12.2, visionOS 1.0, *)
extension HardPixelMiningObjective {
    /// Evaluates the objective on `Span` views, writing both gradients: every option of the
    /// pointer form (half-precision logits, a caller's map, per-pixel maps, gradient output).
    public func evaluate<Scalar: LogitScalar>(
        logits: Span<Scalar>, labels: Span<Int32>, predictedLogDepth: Span<Float>, groundTruthDepth: Span<Float>,
        shape: BatchShape, epoch: Double, logitGradient: inout MutableSpan<Scalar>,
        depthGradient: inout MutableSpan<Float>, gradientOutput: GradientOutput = .overwrite,
        maps: ObjectiveMaps = ObjectiveMaps(), pixelWeightMap: Span<Float>? = nil, workspace: ObjectiveWorkspace? = nil, dataParallel: DataParallel? = nil
    ) throws -> ObjectiveResult {
        try withOptionalSpan(pixelWeightMap) { map in
            try logits.withUnsafeBufferPointer { x in
                try labels.withUnsafeBufferPointer { y in
                    try predictedLogDepth.withUnsafeBufferPointer { d in
                        try groundTruthDepth.withUnsafeBufferPointer { dStar in
                            try logitGradient.withUnsafeMutableBufferPointer { gx in
                                try depthGradient.withUnsafeMutableBufferPointer { gd in
                                    try evaluate(
                                        logits: x, labels: y, predictedLogDepth: d, groundTruthDepth: dStar,
                                        shape: shape, epoch: epoch, logitGradient: gx, depthGradient: gd,
                                        gradientOutput: gradientOutput, maps: maps, pixelWeightMap: map,
                                        workspace: workspace, dataParallel: dataParallel)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
#endif
