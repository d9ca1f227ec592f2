import HardPixelMining
import HardPixelMiningTestSupport
import Testing

/// `DepthLossResult` and the depth losses' `result(combining:)`: per-image sums gathered from
/// parts of a batch combine to the whole batch's result, bitwise; each image's value is the
/// loss on its own pixels.
@Suite struct DepthLossResultTests {
    static let shape = PixelMapShape(images: 4, height: 6, width: 7)

    static func parts(_ values: [Float]) -> [(values: [Float], shape: PixelMapShape)] {
        let plane = shape.pixelsPerImage
        return [0..<1, 1..<3, 3..<4].map { r in
            (Array(values[(r.lowerBound * plane)..<(r.upperBound * plane)]),
             PixelMapShape(images: r.count, height: shape.height, width: shape.width))
        }
    }

    @Test func scaleInvariantSumsCombineToTheWholeBatch() throws {
        var random = TestRandom(seed: 5)
        let b = random.batch(BatchShape(images: 4, classes: 2, height: 6, width: 7))
        let loss = ScaleInvariantDepthLoss(scaleInvariance: 0.5)
        var g = [Float](repeating: 0, count: Self.shape.pixelCount)
        let whole = try loss.evaluate(predictedLogDepth: b.predicted, groundTruthDepth: b.depth, shape: Self.shape, gradient: &g)
        var gathered: [DepthSums] = []
        for (p, d) in zip(Self.parts(b.predicted), Self.parts(b.depth)) {
            var gp = [Float](repeating: 0, count: p.shape.pixelCount)
            gathered += try loss.evaluate(predictedLogDepth: p.values, groundTruthDepth: d.values, shape: p.shape, gradient: &gp).sums
        }
        #expect(try loss.result(combining: gathered) == whole)
        #expect(abs(whole.value - whole.images.reduce(0, +) / 4) <= 1e-12)
    }

    @Test func silogPoolsTheGatheredSums() throws {
        var random = TestRandom(seed: 6)
        let b = random.batch(BatchShape(images: 4, classes: 2, height: 6, width: 7))
        let loss = SILogDepthLoss(.bts)
        var g = [Float](repeating: 0, count: Self.shape.pixelCount)
        let whole = try loss.evaluate(predictedLogDepth: b.predicted, groundTruthDepth: b.depth, shape: Self.shape, gradient: &g)
        var gathered: [DepthSums] = []
        for (p, d) in zip(Self.parts(b.predicted), Self.parts(b.depth)) {
            var gp = [Float](repeating: 0, count: p.shape.pixelCount)
            gathered += try loss.evaluate(predictedLogDepth: p.values, groundTruthDepth: d.values, shape: p.shape, gradient: &gp).sums
        }
        let combined = try loss.result(combining: gathered)
        #expect(combined == whole)
        // Pooled: not the mean of the images' SILog (the property is not vacuous).
        #expect(abs(whole.value - whole.images.reduce(0, +) / 4) > 1e-6)
        // Each image's value is SILog of that image alone.
        let first = (Self.parts(b.predicted)[0], Self.parts(b.depth)[0])
        var g0 = [Float](repeating: 0, count: first.0.shape.pixelCount)
        let alone = try loss.evaluate(
            predictedLogDepth: first.0.values, groundTruthDepth: first.1.values, shape: first.0.shape, gradient: &g0)
        #expect(alone.value == whole.images[0])
    }

    @Test func badSumsAreNamed() throws {
        var bad = DepthSums()
        bad.depthPixels = 2
        bad.squaredResidualSum = -1
        #expect(throws: HardPixelMiningError.self) { try ScaleInvariantDepthLoss().result(combining: [DepthSums(), bad]) }
        bad.squaredResidualSum = 1
        bad.residualSum = .infinity
        #expect(throws: HardPixelMiningError.self) { try SILogDepthLoss().result(combining: [bad]) }
        bad.residualSum = 0
        bad.depthPixels = -2
        #expect(throws: HardPixelMiningError.invalidDimension(argument: "sums[0].depthPixels", value: -2, requirement: "in 0...\(Int.max)")) {
            try SILogDepthLoss().result(combining: [bad])
        }
        #expect(throws: HardPixelMiningError.self) { try ScaleInvariantDepthLoss(scaleInvariance: 2).result(combining: []) }
    }
}
