// The cross-entropy on arrays: each form borrows its arrays and calls the pointer form, which
// validates everything.

extension LabelSmoothedCrossEntropy {
    /// Evaluates the loss on arrays; `gradient` must have N·C·H·W elements. The logits and
    /// their gradient are `Float`, `Float16` or ``BFloat16``.
    public func evaluate<Scalar: LogitScalar>(
        logits: [Scalar], labels: [Int32], shape: BatchShape, pixelWeights: [Float]? = nil,
        gradient: inout [Scalar], gradientOutput: GradientOutput = .overwrite, workspace: ObjectiveWorkspace? = nil, dataParallel: DataParallel? = nil
    ) throws -> CrossEntropyResult {
        try logits.withUnsafeBufferPointer { x in
            try labels.withUnsafeBufferPointer { y in
                try withOptionalBuffer(pixelWeights) { w in
                    try gradient.withUnsafeMutableBufferPointer { g in
                        try evaluate(
                            logits: x, labels: y, shape: shape, pixelWeights: w, gradient: g, gradientOutput: gradientOutput,
                            workspace: workspace, dataParallel: dataParallel)
                    }
                }
            }
        }
    }

    /// The array form that also writes each pixel's loss into `pixelLosses` (N·H·W elements;
    /// 0 on ignored pixels).
    public func evaluate<Scalar: LogitScalar>(
        logits: [Scalar], labels: [Int32], shape: BatchShape, pixelWeights: [Float]? = nil,
        gradient: inout [Scalar], pixelLosses: inout [Float], gradientOutput: GradientOutput = .overwrite,
        workspace: ObjectiveWorkspace? = nil, dataParallel: DataParallel? = nil
    ) throws -> CrossEntropyResult {
        try logits.withUnsafeBufferPointer { x in
            try labels.withUnsafeBufferPointer { y in
                try withOptionalBuffer(pixelWeights) { w in
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

    /// The per-pixel losses `ce_i` (0 on ignored pixels), N·H·W; the logits are `Float`,
    /// `Float16` or ``BFloat16``.
    public func pixelLosses<Scalar: LogitScalar>(logits: [Scalar], labels: [Int32], shape: BatchShape) throws -> [Float] {
        try pixelLossArray(logits, labels, shape)
    }

    /// The per-pixel losses of `Float` logits (so that literals need no type).
    public func pixelLosses(logits: [Float], labels: [Int32], shape: BatchShape) throws -> [Float] {
        try pixelLossArray(logits, labels, shape)
    }

    private func pixelLossArray<Scalar: LogitScalar>(_ logits: [Scalar], _ labels: [Int32], _ shape: BatchShape) throws -> [Float] {
        try shape.validate()
        try Check.count(logits.count, shape.logitCount, "logits")
        try Check.count(labels.count, shape.pixelCount, "labels")
        var out = [Float](repeating: 0, count: labels.count)
        _ = try logits.withUnsafeBufferPointer { x in
            try labels.withUnsafeBufferPointer { y in
                try out.withUnsafeMutableBufferPointer { l in
                    try evaluate(logits: x, labels: y, shape: shape, gradient: nil, pixelLosses: l)
                }
            }
        }
        return out
    }
}
