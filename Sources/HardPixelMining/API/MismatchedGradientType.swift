// The logit gradient has the logits' element type. Without these overloads, Float16 logits with a
// Float gradient buffer failed to compile with a message about `logits`; with them, the compiler
// names the gradient and says which types pair. Each is more general than the real entry point
// (two element types instead of one), so it is chosen only when the types differ.

extension LabelSmoothedCrossEntropy {
    @available(*, unavailable, message: "the gradient has the logits' element type: Float logits write a [Float] gradient, Float16 logits a [Float16] one, BFloat16 logits a [BFloat16] one (convert with Array(widening:) or Array(rounding:))")
    public func evaluate<Logit: LogitScalar, Gradient: LogitScalar>(
        logits: [Logit], labels: [Int32], shape: BatchShape, pixelWeights: [Float]? = nil,
        gradient: inout [Gradient], gradientOutput: GradientOutput = .overwrite, workspace: ObjectiveWorkspace? = nil
    ) throws -> CrossEntropyResult { fatalError("unavailable") }

    @available(*, unavailable, message: "the gradient has the logits' element type: Float logits write a Float gradient, Float16 logits a Float16 one, BFloat16 logits a BFloat16 one")
    public func evaluate<Logit: LogitScalar, Gradient: LogitScalar>(
        logits: UnsafeBufferPointer<Logit>, labels: UnsafeBufferPointer<Int32>, shape: BatchShape,
        pixelWeights: UnsafeBufferPointer<Float>? = nil, gradient: UnsafeMutableBufferPointer<Gradient>?,
        pixelLosses: UnsafeMutableBufferPointer<Float>? = nil, gradientOutput: GradientOutput = .overwrite,
        workspace: ObjectiveWorkspace? = nil
    ) throws -> CrossEntropyResult { fatalError("unavailable") }
}

extension HardPixelMiningObjective {
    @available(*, unavailable, message: "logitGradient has the logits' element type: Float logits write a [Float] gradient, Float16 logits a [Float16] one, BFloat16 logits a [BFloat16] one (the depth gradient is always [Float])")
    public func evaluate<Logit: LogitScalar, Gradient: LogitScalar>(
        logits: [Logit], labels: [Int32], predictedLogDepth: [Float] = [], groundTruthDepth: [Float] = [],
        shape: BatchShape, epoch: Double = 0, logitGradient: inout [Gradient], depthGradient: inout [Float],
        gradientOutput: GradientOutput = .overwrite, pixelWeightMap: [Float]? = nil, workspace: ObjectiveWorkspace? = nil
    ) throws -> ObjectiveResult { fatalError("unavailable") }
}
