import HardPixelMining
import HardPixelMiningReference
import HardPixelMiningTestSupport
import Testing

/// Issue 5: loss-rank hard mining and DepthMix against the float64 reference, finite
/// differences, and bad input.
@Suite struct MinedCrossEntropyTests {
    static let names = Fixtures.minedCases.map(\.name)

    @Test(arguments: names)
    func minedCrossEntropyMatchesReference(name: String) throws {
        let g = Fixtures.minedCases.first { $0.name == name }!
        var gradient = [Float](repeating: .nan, count: g.batchShape.logitCount)
        let ce = LabelSmoothedCrossEntropy(smoothing: g.labelSmoothing, mining: g.pixelMining)
        let r = try ce.evaluate(logits: g.logitValues, labels: g.labelValues, shape: g.batchShape, gradient: &gradient)
        #expect(Tolerance.lossMatches(r.value, g.batch), "\(r.value) vs \(g.batch)")
        for (k, image) in g.images.enumerated() {
            #expect(r.sums[k].minedPixels == image.selected)
            #expect(Tolerance.lossMatches(r.images[k].segmentation, image.loss))
        }
        #expect(Tolerance.firstGradientMismatch(gradient, g.expectedGradient) == nil)
        // The Float64 scalar reference (selection by sorting) agrees too.
        let reference = ScalarReference.minedCrossEntropy(
            logits: g.logitValues.map(Double.init), labels: g.labelValues, shape: g.batchShape,
            smoothing: g.labelSmoothing, mining: g.pixelMining)
        #expect(Tolerance.lossMatches(reference.value, g.batch))
        #expect(Tolerance.firstGradientMismatch(reference.gradient, g.expectedGradient) == nil)
    }

    @Test(arguments: [PixelMining.topFraction(0.3), .probabilityBelow(threshold: 0.4, minimumKept: 5)])
    func gradientMatchesFiniteDifferences(mining: PixelMining) {
        let shape = BatchShape(images: 2, classes: 4, height: 3, width: 5)
        var random = TestRandom(seed: 21)
        let b = random.batch(shape)
        let logits = b.logits.map(Double.init)
        func f(_ x: [Double]) -> Double {
            ScalarReference.minedCrossEntropy(logits: x, labels: b.labels, shape: shape, smoothing: .paperDefault, mining: mining).value
        }
        let analytic = ScalarReference.minedCrossEntropy(
            logits: logits, labels: b.labels, shape: shape, smoothing: .paperDefault, mining: mining).gradient
        let numeric = FiniteDifference.gradient(of: f, at: logits, indices: Array(logits.indices))
        for i in logits.indices {
            #expect(abs(numeric[i] - analytic[i]) <= 1e-7, "logit \(i): \(numeric[i]) vs \(analytic[i])")
        }
    }

    @Test func badMiningParameters() throws {
        let shape = BatchShape(images: 1, classes: 3, height: 2, width: 2)
        let logits = [Float](repeating: 0, count: 12), labels: [Int32] = [0, 1, 2, 0]
        var g = [Float](repeating: 7, count: 12)
        #expect(throws: HardPixelMiningError.invalidParameter(argument: "mining.fraction", value: 0, requirement: "in (0, 1]")) {
            try LabelSmoothedCrossEntropy(mining: .topFraction(0)).evaluate(logits: logits, labels: labels, shape: shape, gradient: &g)
        }
        let nanThreshold = #expect(throws: HardPixelMiningError.self) {
            try LabelSmoothedCrossEntropy(mining: .probabilityBelow(threshold: .nan, minimumKept: 1)).evaluate(logits: logits, labels: labels, shape: shape, gradient: &g)
        }
        #expect(nanThreshold?.argument == "mining.threshold")
        #expect(throws: HardPixelMiningError.invalidDimension(argument: "mining.minimumKept", value: -1, requirement: ">= 0")) {
            try LabelSmoothedCrossEntropy(mining: .probabilityBelow(threshold: 0.7, minimumKept: -1)).evaluate(logits: logits, labels: labels, shape: shape, gradient: &g)
        }
        #expect(g.allSatisfy { $0 == 7 })
    }
}

@Suite struct DepthMixTests {
    @Test(arguments: Fixtures.depthMixCases.indices)
    func mixMatchesReference(index: Int) throws {
        let g = Fixtures.depthMixCases[index]
        let mixed = try DepthMix(margin: g.margin).mix(
            images: g.imageValues, channels: g.channels, labels: g.labelValues, depth: g.depthValues,
            shape: g.batchShape, partners: g.partners)
        #expect(mixed.masks == g.expectedMasks)
        #expect(mixed.images.map(\.bitPattern) == g.expectedImages.map(\.bitPattern))
        #expect(mixed.labels == g.expectedLabels)
        #expect(mixed.depth.map(\.bitPattern) == g.expectedDepth.map(\.bitPattern))
    }

    /// The fixtures exercise both outcomes of the mask.
    @Test func fixturesKeepAndReplacePixels() {
        let masks = Fixtures.depthMixCases.flatMap(\.expectedMasks)
        #expect(masks.contains(true) && masks.contains(false))
    }

    @Test func maskOfOnePair() throws {
        let mix = DepthMix(margin: 0.5)
        let m = try mix.mask(depth: [2, 5, .nan, 3, 0, 10], partnerDepth: [3, 4, 1, .nan, .nan, 9.6])
        #expect(m == [true, false, false, true, false, true])
    }

    @Test func badInput() {
        let shape = BatchShape(images: 2, classes: 0, height: 1, width: 2)
        let mix = DepthMix()
        #expect(throws: HardPixelMiningError.invalidDimension(argument: "partners[1]", value: 0, requirement: "a permutation of 0..<2")) {
            try mix.mix(images: [1, 2, 3, 4], channels: 1, labels: [0, 0, 0, 0], depth: [1, 1, 1, 1], shape: shape, partners: [0, 0])
        }
        #expect(throws: HardPixelMiningError.wrongCount(argument: "images", expected: 12, actual: 4)) {
            try mix.mix(images: [1, 2, 3, 4], channels: 3, labels: [0, 0, 0, 0], depth: [1, 1, 1, 1], shape: shape, partners: [1, 0])
        }
        #expect(throws: HardPixelMiningError.invalidDimension(argument: "channels", value: 0, requirement: ">= 1")) {
            try mix.mix(images: [], channels: 0, labels: [0, 0, 0, 0], depth: [1, 1, 1, 1], shape: shape, partners: [1, 0])
        }
        #expect(throws: HardPixelMiningError.invalidParameter(argument: "margin", value: .infinity, requirement: "finite")) {
            try DepthMix(margin: .infinity).mask(depth: [1], partnerDepth: [2])
        }
        #expect(throws: HardPixelMiningError.wrongCount(argument: "partnerDepth", expected: 1, actual: 2)) {
            try mix.mask(depth: [1], partnerDepth: [2, 3])
        }
    }
}
