import HardPixelMining

// The batches the benchmarks time, shared with the allocation test (Tests/AllocationTests),
// so that the test counts the allocations of exactly the calls the benchmarks run.

/// A generated batch with its output buffers, built once per benchmark; the logits and
/// their gradient in `Scalar` (Float, or half precision rounded from the same Floats).
public final class Workload<Scalar: LogitScalar> {
    public let shape: BatchShape
    public let logits: [Scalar]
    public let labels: [Int32]
    public let logDepth: [Float]
    public let depth: [Float]
    public var logitGradient: [Scalar]
    public var depthGradient: [Float]
    public let workspace: ObjectiveWorkspace

    public init(_ shape: BatchShape) {
        self.shape = shape
        var state: UInt32 = 12345
        func next() -> Float {
            state = state &* 1_664_525 &+ 1_013_904_223
            return Float(state >> 8) / Float(1 << 24)
        }
        logits = try! [Scalar](rounding: (0..<shape.logitCount).map { _ in next() * 8 - 4 })
        labels = (0..<shape.pixelCount).map { _ in next() < 0.1 ? 255 : Int32(next() * Float(shape.classes - 1)) }
        depth = (0..<shape.pixelCount).map { _ in next() < 0.05 ? 0 : 1 + next() * 250 }
        logDepth = depth.map { $0 > 0 ? Float.log($0) + next() * 0.2 : 2 }
        logitGradient = try! [Scalar](rounding: [Float](repeating: 0, count: shape.logitCount))
        depthGradient = [Float](repeating: 0, count: shape.pixelCount)
        workspace = try! ObjectiveWorkspace(reservingFor: shape)
    }

    public func runCrossEntropy(_ loss: LabelSmoothedCrossEntropy) throws -> Double {
        try logits.withUnsafeBufferPointer { x in
            try labels.withUnsafeBufferPointer { y in
                try logitGradient.withUnsafeMutableBufferPointer { g in
                    try loss.evaluate(logits: x, labels: y, shape: shape, gradient: g, workspace: workspace).value
                }
            }
        }
    }

    /// A caller's map for ``PixelWeightMapTerm``: values in 0...2.
    public lazy var pixelWeightMap: [Float] = (0..<shape.pixelCount).map { Float(($0 &* 2_654_435_761) % 1000) / 500 }

    public func run(_ objective: HardPixelMiningObjective) throws -> Double {
        let map = objective.configuration.pixelWeightMap == nil ? nil : pixelWeightMap
        return try objective.evaluate(
            logits: logits, labels: labels, predictedLogDepth: logDepth, groundTruthDepth: depth, shape: shape,
            epoch: 20, logitGradient: &logitGradient, depthGradient: &depthGradient, pixelWeightMap: map,
            workspace: workspace
        ).value
    }
}

extension Float {
    /// ln x for x > 0.
    static func log(_ x: Float) -> Float {
        // A few Newton steps on exp: keeps the benchmark free of Foundation.
        var y = Float(x.exponent) * 0.693_147_2
        for _ in 0..<30 { y -= 1 - x / exp(y) }
        return y
    }
    static func exp(_ x: Float) -> Float {
        var term: Float = 1, sum: Float = 1
        let n = (x / 0.693_147_2).rounded(.down)
        let r = x - n * 0.693_147_2
        for i in 1..<12 { term *= r / Float(i); sum += term }
        return sum * Float(sign: .plus, exponent: Int(n), significand: 1)
    }
}
