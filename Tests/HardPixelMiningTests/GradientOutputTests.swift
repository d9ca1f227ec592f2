import HardPixelMining
import HardPixelMiningTestSupport
import Testing

/// Overwrite or accumulate, each with a scale: accumulating adds exactly what overwriting
/// writes; a power-of-two scale scales every element exactly; an accumulating call that
/// throws leaves the buffers as they were.
@Suite struct GradientOutputTests {
    static let shape = BatchShape(images: 2, classes: 5, height: 9, width: 11)

    static func objectiveGradients(
        _ configuration: ObjectiveConfiguration, _ output: GradientOutput, start: Float
    ) throws -> (logits: [Float], depth: [Float]) {
        var random = TestRandom(seed: 31)
        let b = random.batch(shape)
        var gx = [Float](repeating: start, count: shape.logitCount)
        var gd = [Float](repeating: start, count: shape.pixelCount)
        _ = try HardPixelMiningObjective(configuration).evaluate(
            logits: b.logits, labels: b.labels, predictedLogDepth: b.predicted, groundTruthDepth: b.depth, shape: shape,
            epoch: 12, logitGradient: &gx, depthGradient: &gd, gradientOutput: output)
        return (gx, gd)
    }

    /// The depth loss takes a gradient output too: scaled, and added to what the buffer holds.
    @Test func depthLossTakesAGradientOutput() throws {
        var random = TestRandom(seed: 33)
        let b = random.batch(Self.shape)
        let maps = Self.shape.pixelMap
        let loss = ScaleInvariantDepthLoss()
        var plain = [Float](repeating: 0, count: maps.pixelCount)
        _ = try loss.evaluate(predictedLogDepth: b.predicted, groundTruthDepth: b.depth, shape: maps, gradient: &plain)
        var scaled = [Float](repeating: 7, count: maps.pixelCount)
        _ = try loss.evaluate(
            predictedLogDepth: b.predicted, groundTruthDepth: b.depth, shape: maps, gradient: &scaled,
            gradientOutput: .overwrite(scale: 4))
        #expect(scaled == plain.map { $0 * 4 })
        var accumulated = [Float](repeating: 1, count: maps.pixelCount)
        _ = try loss.evaluate(
            predictedLogDepth: b.predicted, groundTruthDepth: b.depth, shape: maps, gradient: &accumulated,
            gradientOutput: .accumulate(scale: 0.5))
        #expect(accumulated == plain.map { 1 + $0 * 0.5 })
        #expect(plain.contains { $0 != 0 })
    }

    /// The multi-scale objective takes a gradient output and a caller's map (resampled per side
    /// output): accumulating twice half the gradient onto zeros is the gradient; a map of zeros
    /// changes no bit.
    @Test func multiScaleTakesAGradientOutputAndAMap() throws {
        let shape = BatchShape(images: 2, classes: 4, height: 8, width: 10)
        var random = TestRandom(seed: 35)
        let b = random.batch(shape)
        let half = BatchShape(images: 2, classes: 4, height: 4, width: 5)
        let small = random.batch(half)
        let outputs = [
            SideOutput(logits: b.logits, predictedLogDepth: b.predicted, height: 8, width: 10, weight: 1),
            SideOutput(logits: small.logits, predictedLogDepth: small.predicted, height: 4, width: 5, weight: 0.5),
        ]
        func run(_ c: ObjectiveConfiguration, _ output: GradientOutput, map: [Float]?, times: Int = 1) throws -> ([[Float]], [[Float]], Double) {
            var gx = outputs.map { [Float](repeating: 0, count: $0.logits.count) }
            var gd = outputs.map { [Float](repeating: 0, count: $0.predictedLogDepth.count) }
            var value = 0.0
            for _ in 0..<times {
                value = try MultiScaleObjective(c).evaluate(
                    outputs: outputs, labels: b.labels, groundTruthDepth: b.depth, shape: shape, epoch: 12,
                    logitGradients: &gx, depthGradients: &gd, gradientOutput: output, pixelWeightMap: map).value
            }
            return (gx, gd, value)
        }
        let plain = try run(.paper, .overwrite, map: nil)
        let twice = try run(.paper, .accumulate(scale: 0.5), map: nil, times: 2)
        #expect(twice.0 == plain.0 && twice.1 == plain.1)
        var withMap = ObjectiveConfiguration.paper
        withMap.pixelWeightMap = PixelWeightMapTerm(coefficient: 2)
        let zeros = try run(withMap, .overwrite, map: [Float](repeating: 0, count: shape.pixelCount))
        #expect(zeros.0 == plain.0 && zeros.1 == plain.1 && zeros.2 == plain.2)
        let ones = try run(withMap, .overwrite, map: [Float](repeating: 1, count: shape.pixelCount))
        #expect(ones.2 > plain.2)
        #expect(throws: HardPixelMiningError.self) { _ = try run(withMap, .overwrite, map: nil) }
    }

    /// The scale is a Double; a Float from a trainer's loop (`1 / m`) is accepted and widened exactly.
    @Test func scaleAcceptsAnyBinaryFloatingPoint() throws {
        let m: Float = 3
        #expect(GradientOutput.accumulate(scale: 1 / m).scale == Double(1 / m))
        #expect(GradientOutput.overwrite(scale: Float(0.25)) == .overwrite(scale: 0.25))
        #expect(GradientOutput(mode: .accumulate, scale: Float(2)).scale == 2)
        let viaFloat = try Self.objectiveGradients(.paper, .overwrite(scale: Float(0.5)), start: 0)
        let viaDouble = try Self.objectiveGradients(.paper, .overwrite(scale: 0.5), start: 0)
        #expect(viaFloat.logits == viaDouble.logits && viaFloat.depth == viaDouble.depth)
    }

    @Test(arguments: [ObjectiveConfiguration.segmentationOnly, .paper, .paperPaced(totalEpochs: 20)])
    func accumulateAddsWhatOverwriteWrites(configuration: ObjectiveConfiguration) throws {
        let written = try Self.objectiveGradients(configuration, .overwrite, start: 0)
        let added = try Self.objectiveGradients(configuration, .accumulate, start: 0.25)
        #expect(added.logits == written.logits.map { $0 + 0.25 })
        #expect(added.depth == written.depth.map { $0 + 0.25 })
        let halved = try Self.objectiveGradients(configuration, .overwrite(scale: 0.5), start: 7)
        #expect(halved.logits == written.logits.map { $0 * 0.5 })
        #expect(halved.depth == written.depth.map { $0 * 0.5 })
        let scaledAdd = try Self.objectiveGradients(configuration, .accumulate(scale: 4), start: 1)
        #expect(scaledAdd.logits == written.logits.map { $0 * 4 + 1 })
    }

    @Test(arguments: [1, 2])
    func crossEntropyAccumulatesAndLeavesTheBufferOnError(threads: Int) throws {
        var random = TestRandom(seed: 32)
        var b = random.batch(Self.shape)
        let loss = LabelSmoothedCrossEntropy(threadCount: threads)
        var once = [Float](repeating: 0, count: Self.shape.logitCount)
        _ = try loss.evaluate(logits: b.logits, labels: b.labels, shape: Self.shape, gradient: &once)
        var twice = once
        _ = try loss.evaluate(logits: b.logits, labels: b.labels, shape: Self.shape, gradient: &twice, gradientOutput: .accumulate)
        #expect(twice == once.map { $0 + $0 })
        b.logits[Self.shape.logitCount - 1] = -.infinity
        let before = twice
        #expect(throws: HardPixelMiningError.nonFiniteValue(argument: "logits", index: Self.shape.logitCount - 1, value: -.infinity)) {
            try loss.evaluate(logits: b.logits, labels: b.labels, shape: Self.shape, gradient: &twice, gradientOutput: .accumulate)
        }
        #expect(twice == before, "an accumulating call that throws writes nothing")
        #expect(throws: HardPixelMiningError.invalidParameter(argument: "gradientOutput.scale", value: -1, requirement: "finite, >= 0 and <= 1e6")) {
            try loss.evaluate(logits: b.logits, labels: b.labels, shape: Self.shape, gradient: &twice, gradientOutput: .overwrite(scale: -1))
        }
    }
}
