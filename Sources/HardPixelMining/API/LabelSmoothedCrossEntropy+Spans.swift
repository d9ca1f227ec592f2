#if compiler(>=6.2)
// The cross-entropy on `Span` views (Swift 6.2 and later; on Apple platforms Span
// back-deploys to macOS 10.14.4, iOS 12.2, watchOS 5.2, tvOS 12.2): the views borrowed as
// buffers for the pointer form, which validates everything.

@available(macOS 10.14.4, iOS 12.2, watchOS 5.2, tvOS 12.2, visionOS 1.0, *)
extension LabelSmoothedCrossEntropy {
    /// Evaluates the loss on `Span` views, writing the gradient: half-precision logits, pixel
    /// weights and every gradient output, as the pointer form.
    public func evaluate<Scalar: LogitScalar>(
        logits: Span<Scalar>, labels: Span<Int32>, shape: BatchShape, pixelWeights: Span<Float>? = nil,
        gradient: inout MutableSpan<Scalar>, gradientOutput: GradientOutput = .overwrite,
        workspace: ObjectiveWorkspace? = nil, dataParallel: DataParallel? = nil
    ) throws -> CrossEntropyResult {
        try withOptionalSpan(pixelWeights) { w in
            try logits.withUnsafeBufferPointer { x in
                try labels.withUnsafeBufferPointer { y in
                    try gradient.withUnsafeMutableBufferPointer { g in
                        try evaluate(
                            logits: x, labels: y, shape: shape, pixelWeights: w, gradient: g, gradientOutput: gradientOutput,
                            workspace: workspace, dataParallel: dataParallel)
                    }
                }
            }
        }
    }

    /// The `Span` form that also writes each pixel's loss into `pixelLosses` (N·H·W; 0 on
    /// ignored pixels).
    public func evaluate<Scalar: LogitScalar>(
        logits: Span<Scalar>, labels: Span<Int32>, shape: BatchShape, pixelWeights: Span<Float>? = nil,
        gradient: inout MutableSpan<Scalar>, pixelLosses: inout MutableSpan<Float>,
        gradientOutput: GradientOutput = .overwrite, workspace: ObjectiveWorkspace? = nil, dataParallel: DataParallel? = nil
    ) throws -> CrossEntropyResult {
        try withOptionalSpan(pixelWeights) { w in
            try logits.withUnsafeBufferPointer { x in
                try labels.withUnsafeBufferPointer { y in
                    try gradient.withUnsafeMutableBufferPointer { g in
                        try pixelLosses.withUnsafeMutableBufferPointer { l in
                            try evaluate(
                                logits: x, labels: y, shape: shape, pixelWeights: w, gradient: g, pixelLosses: l,
                                gradientOutput: gradientOutput, workspace: workspace, dataParallel: dataParallel)
                        }
                    }
                }
            }
        }
    }
}
#endif
