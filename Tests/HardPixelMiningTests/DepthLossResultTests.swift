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

    /// `evaluate` on the whole batch, and on its parts with the parts' sums gathered.
    static func wholeAndGathered(
        seed: UInt64, _ evaluate: ([Float], [Float], PixelMapShape) throws -> DepthLossResult
    ) throws -> (whole: DepthLossResult, gathered: [DepthSums], batch: (predicted: [Float], depth: [Float])) {
        var random = TestRandom(seed: seed)
        let b = random.batch(BatchShape(images: 4, classes: 2, height: 6, width: 7))
        let whole = try evaluate(b.predicted, b.depth, shape)
        var gathered: [DepthSums] = []
        for (p, d) in zip(parts(b.predicted), parts(b.depth)) { gathered += try evaluate(p.values, d.values, p.shape).sums }
        return (whole, gathered, (b.predicted, b.depth))
    }

    @Test func scaleInvariantSumsCombineToTheWholeBatch() throws {
        let loss = ScaleInvariantDepthLoss(scaleInvariance: 0.5)
        let (whole, gathered, _) = try Self.wholeAndGathered(seed: 5) { d, dStar, shape in
            var g = [Float](repeating: 0, count: shape.pixelCount)
            return try loss.evaluate(predictedLogDepth: d, groundTruthDepth: dStar, shape: shape, gradient: &g)
        }
        #expect(try loss.result(combining: gathered) == whole)
        #expect(abs(whole.value - whole.images.reduce(0, +) / 4) <= 1e-12)
    }

    @Test func silogPoolsTheGatheredSums() throws {
        let loss = SILogDepthLoss(.bts)
        let evaluate = { (d: [Float], dStar: [Float], shape: PixelMapShape) throws -> DepthLossResult in
            var g = [Float](repeating: 0, count: shape.pixelCount)
            return try loss.evaluate(predictedLogDepth: d, groundTruthDepth: dStar, shape: shape, gradient: &g)
        }
        let (whole, gathered, b) = try Self.wholeAndGathered(seed: 6, evaluate)
        #expect(try loss.result(combining: gathered) == whole)
        // Pooled: not the mean of the images' SILog (the property is not vacuous).
        #expect(abs(whole.value - whole.images.reduce(0, +) / 4) > 1e-6)
        // Each image's value is SILog of that image alone.
        let first = (Self.parts(b.predicted)[0], Self.parts(b.depth)[0])
        #expect(try evaluate(first.0.values, first.1.values, first.0.shape).value == whole.images[0])
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
