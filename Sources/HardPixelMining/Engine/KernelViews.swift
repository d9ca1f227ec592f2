import HardPixelMiningKernels

// The API's types as the kernels see them: the one place where the public vocabulary
// meets the kernels' own.

extension LogitPrecision {
    /// The kernels' element format for this precision.
    var elementFormat: ElementFormat {
        switch self {
        case .float32: .float32
        case .float16: .float16
        case .bfloat16: .bfloat16
        }
    }
}

extension LogitBuffer {
    init(_ base: UnsafeRawPointer, _ precision: LogitPrecision) { self.init(base, precision.elementFormat) }
}

extension MutableLogitBuffer {
    init(_ base: UnsafeMutableRawPointer, _ precision: LogitPrecision) { self.init(base, precision.elementFormat) }
}

extension TileLayout {
    /// The tile of `shape`'s classes and layout.
    init(_ shape: BatchShape) {
        self.init(classes: shape.classes, channelsLast: shape.logitLayout == .channelsLast)
    }

    /// The tile a pass over `shape` reserves per worker: `shape`'s, or none for a batch without
    /// pixels (a data-parallel rank without images, whose classes may be as many as the shape
    /// allows the other ranks' images; it has no work item to tile).
    static func reserved(for shape: BatchShape) -> TileLayout? { shape.pixelCount > 0 ? TileLayout(shape) : nil }
}

extension LogitBuffer {
    /// A view of validated, non-empty logits.
    init<Scalar: LogitScalar>(_ logits: UnsafeBufferPointer<Scalar>) {
        self.init(UnsafeRawPointer(DataParallelCall.address(logits)), Scalar.logitPrecision)
    }
}

extension MutableLogitBuffer {
    /// A view of a validated, non-empty gradient.
    init<Scalar: LogitScalar>(_ gradient: UnsafeMutableBufferPointer<Scalar>) {
        self.init(UnsafeMutableRawPointer(DataParallelCall.address(gradient)), Scalar.logitPrecision)
    }
}

extension ObjectiveEngine {
    /// Calls `body` with the kernels' view of the cross-entropy's targets (the class weights
    /// borrowed for the call).
    static func withTargets<R>(
        smoothing: LabelSmoothing, ignoreLabel: Int32, classWeights: [Float]?, classCount: Int,
        _ body: (Targets) throws -> R
    ) rethrows -> R {
        let (on, off) = smoothing.targets(classCount: classCount)
        var t = Targets(on: Float(on), off: Float(off), ignoreLabel: ignoreLabel)
        guard let classWeights else { return try body(t) }
        return try classWeights.withUnsafeBufferPointer { w in
            t.classWeights = w.baseAddress
            t.classWeightSum = Float(w.reduce(0.0) { $0 + Double($1) })
            let bound = Swift.max(1, Double(t.classWeightSum) + Double(w.max() ?? 0))
            t.coefficientLimit = Float(Double(Float.greatestFiniteMagnitude / 4) / bound)
            return try body(t)
        }
    }
}

extension ObjectiveConfiguration {
    /// Calls `body` with the kernels' view of the cross-entropy targets.
    func withTargets<R>(classCount: Int, _ body: (Targets) throws -> R) rethrows -> R {
        try ObjectiveEngine.withTargets(
            smoothing: smoothing, ignoreLabel: ignoreLabel, classWeights: classWeights, classCount: classCount, body)
    }
}

extension Optional where Wrapped == FocalModulation {
    /// Calls `body` with the kernels' view of focal and PolyLoss-1 (the α borrowed for the
    /// call), or nil when neither is used.
    func withModulation<R>(polyEpsilon: Double, _ body: (Modulation?) throws -> R) rethrows -> R {
        guard self != nil || polyEpsilon != 0 else { return try body(nil) }
        var m = Modulation(
            focusing: Float(self?.focusing ?? 0), throughFactor: self?.gradient != .factorHeldConstant,
            polyEpsilon: Float(polyEpsilon))
        guard let alpha = self?.classAlpha else { return try body(m) }
        return try alpha.withUnsafeBufferPointer { a in
            m.classAlpha = a.baseAddress
            return try body(m)
        }
    }
}

extension EngineInputs {
    /// The inputs with validated, non-empty logits of any precision.
    init<Scalar: LogitScalar>(
        logits: UnsafeBufferPointer<Scalar>, labels: UnsafePointer<Int32>,
        predictedLogDepth: UnsafePointer<Float>? = nil, groundTruthDepth: UnsafePointer<Float>? = nil
    ) {
        self.init(
            logits: LogitBuffer(logits), labels: labels, predictedLogDepth: predictedLogDepth,
            groundTruthDepth: groundTruthDepth)
    }
}

extension EngineOutputs {
    /// The outputs with a validated, non-empty logit gradient of any precision, or none.
    init<Scalar: LogitScalar>(
        logitGradient: UnsafeMutableBufferPointer<Scalar>?, depthGradient: UnsafeMutablePointer<Float>? = nil,
        pixelLosses: UnsafeMutablePointer<Float>? = nil, gradientScale: Double = 1, accumulates: Bool = false,
        lossWeights: UnsafeMutablePointer<Float>? = nil, depthPredictionErrorMap: UnsafeMutablePointer<Float>? = nil,
        segmentationErrorMap: UnsafeMutablePointer<Float>? = nil
    ) {
        self.init(
            logitGradient: logitGradient.map(MutableLogitBuffer.init), depthGradient: depthGradient,
            pixelLosses: pixelLosses, gradientScale: gradientScale, accumulates: accumulates, lossWeights: lossWeights,
            depthPredictionErrorMap: depthPredictionErrorMap, segmentationErrorMap: segmentationErrorMap)
    }
}

extension StatisticsPass {
    /// The arg-max class of every pixel of validated, non-empty logits of any precision.
    static func predictedClasses<Scalar: LogitScalar>(
        logits: UnsafeBufferPointer<Scalar>, shape: BatchShape, into out: UnsafeMutablePointer<Int32>,
        workspace: ObjectiveWorkspace, threads: Int
    ) throws {
        try predictedClasses(logits: LogitBuffer(logits), shape: shape, into: out, workspace: workspace, threads: threads)
    }
}
