// The objective on arrays: each form borrows its arrays and calls the pointer form, which
// validates everything (the names in its errors are the arrays' own).

extension HardPixelMiningObjective {
    /// Evaluates the objective on arrays, writing both gradients (which must already
    /// have N·C·H·W and N·H·W elements). The logits and their gradient are `Float`,
    /// `Float16` or ``BFloat16``; the depth gradient is Float.
    public func evaluate<Scalar: LogitScalar>(
        logits: [Scalar], labels: [Int32], predictedLogDepth: [Float] = [], groundTruthDepth: [Float] = [],
        shape: BatchShape, epoch: Double = 0, logitGradient: inout [Scalar], depthGradient: inout [Float],
        gradientOutput: GradientOutput = .overwrite, pixelWeightMap: [Float]? = nil, workspace: ObjectiveWorkspace? = nil, dataParallel: DataParallel? = nil
    ) throws -> ObjectiveResult {
        var maps = ObjectiveMapArrays()
        return try evaluate(
            logits: logits, labels: labels, predictedLogDepth: predictedLogDepth, groundTruthDepth: groundTruthDepth,
            shape: shape, epoch: epoch, logitGradient: &logitGradient, depthGradient: &depthGradient, maps: &maps,
            gradientOutput: gradientOutput, pixelWeightMap: pixelWeightMap, workspace: workspace, dataParallel: dataParallel)
    }

    /// The array form that also writes per-pixel maps: each array `maps` holds (see
    /// ``ObjectiveMapArrays``) must already have N·H·W elements.
    ///
    ///     var maps = ObjectiveMapArrays(shape: shape, lossWeights: true, depthPredictionError: true)
    ///     _ = try objective.evaluate(..., logitGradient: &dLogits, depthGradient: &dLogDepth, maps: &maps)
    ///     maps.lossWeights!   // W_i
    public func evaluate<Scalar: LogitScalar>(
        logits: [Scalar], labels: [Int32], predictedLogDepth: [Float] = [], groundTruthDepth: [Float] = [],
        shape: BatchShape, epoch: Double = 0, logitGradient: inout [Scalar], depthGradient: inout [Float],
        maps: inout ObjectiveMapArrays, gradientOutput: GradientOutput = .overwrite, pixelWeightMap: [Float]? = nil,
        workspace: ObjectiveWorkspace? = nil, dataParallel: DataParallel? = nil
    ) throws -> ObjectiveResult {
        try logits.withUnsafeBufferPointer { x in
            try labels.withUnsafeBufferPointer { y in
                try predictedLogDepth.withUnsafeBufferPointer { d in
                    try groundTruthDepth.withUnsafeBufferPointer { dStar in
                        try logitGradient.withUnsafeMutableBufferPointer { gx in
                            try depthGradient.withUnsafeMutableBufferPointer { gd in
                                try withOptionalBuffer(pixelWeightMap) { map in
                                    try maps.withViews { views in
                                        try evaluate(
                                            logits: x, labels: y, predictedLogDepth: d, groundTruthDepth: dStar,
                                            shape: shape, epoch: epoch, logitGradient: gx, depthGradient: gd,
                                            gradientOutput: gradientOutput, maps: views, pixelWeightMap: map,
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

    /// Evaluates the objective on arrays without gradients.
    public func evaluate<Scalar: LogitScalar>(
        logits: [Scalar], labels: [Int32], predictedLogDepth: [Float] = [], groundTruthDepth: [Float] = [],
        shape: BatchShape, epoch: Double = 0, pixelWeightMap: [Float]? = nil, workspace: ObjectiveWorkspace? = nil, dataParallel: DataParallel? = nil
    ) throws -> ObjectiveResult {
        try evaluateWithoutGradients(
            logits, labels, predictedLogDepth, groundTruthDepth, shape, epoch, pixelWeightMap, workspace, dataParallel)
    }

    /// The gradient-free array form for `Float` logits (so that literals need no type).
    public func evaluate(
        logits: [Float], labels: [Int32], predictedLogDepth: [Float] = [], groundTruthDepth: [Float] = [],
        shape: BatchShape, epoch: Double = 0, pixelWeightMap: [Float]? = nil, workspace: ObjectiveWorkspace? = nil, dataParallel: DataParallel? = nil
    ) throws -> ObjectiveResult {
        try evaluateWithoutGradients(
            logits, labels, predictedLogDepth, groundTruthDepth, shape, epoch, pixelWeightMap, workspace, dataParallel)
    }

    private func evaluateWithoutGradients<Scalar: LogitScalar>(
        _ logits: [Scalar], _ labels: [Int32], _ predictedLogDepth: [Float], _ groundTruthDepth: [Float],
        _ shape: BatchShape, _ epoch: Double, _ pixelWeightMap: [Float]?, _ workspace: ObjectiveWorkspace?,
        _ dataParallel: DataParallel?
    ) throws -> ObjectiveResult {
        try logits.withUnsafeBufferPointer { x in
            try labels.withUnsafeBufferPointer { y in
                try predictedLogDepth.withUnsafeBufferPointer { d in
                    try groundTruthDepth.withUnsafeBufferPointer { dStar in
                        try withOptionalBuffer(pixelWeightMap) { map in
                            try evaluate(
                                logits: x, labels: y, predictedLogDepth: d, groundTruthDepth: dStar, shape: shape,
                                epoch: epoch, logitGradient: nil, depthGradient: nil, pixelWeightMap: map,
                                workspace: workspace, dataParallel: dataParallel)
                        }
                    }
                }
            }
        }
    }
}
