import Foundation
import HardPixelMining
import HardPixelMiningReference
import HardPixelMiningTestSupport
import Testing

/// `PixelMining`: loss-rank mining per image and over the batch (DeepLab's top-k,
/// mmsegmentation's OHEM) against the float64 references, finite differences, bad input.

/// Loss-rank hard mining and DepthMix against the float64 reference, finite
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
            #expect(Tolerance.lossMatches(r.images[k], image.loss))
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

/// DeepLab's batch top-k, mmsegmentation's OHEM, BTS/AdaBins SILog and Hoyer's
/// DepthMix against the float64 reference written from their code, finite differences, and
/// bad input.
@Suite struct BatchMiningTests {
    static let names = Fixtures.batchMiningCases.map(\.name)

    @Test(arguments: names)
    func batchMiningMatchesReference(name: String) throws {
        let g = Fixtures.batchMiningCases.first { $0.name == name }!
        var gradient = [Float](repeating: .nan, count: g.batchShape.logitCount)
        let ce = LabelSmoothedCrossEntropy(smoothing: g.labelSmoothing, mining: g.pixelMining, threadCount: 2)
        let r = try ce.evaluate(
            logits: g.logitValues, labels: g.labelValues, shape: g.batchShape, pixelWeights: g.pixelWeights,
            gradient: &gradient)
        #expect(Tolerance.lossMatches(r.value, g.value), "\(r.value) vs \(g.value)")
        let labels = g.labelValues
        let keptLabelled = zip(g.expectedChosen, labels).filter { $0.0 && $0.1 != 255 }.count
        #expect(r.sums.reduce(0) { $0 + ($1.minedPixels ?? 0) } == keptLabelled)
        if case .batchTopFraction = g.pixelMining { #expect(r.sums.allSatisfy { $0.pooledDivisor == Double(g.kept) }) }
        // The images' shares add up to the batch value.
        #expect(Tolerance.lossMatches(r.images.reduce(0, +), g.value))
        #expect(Tolerance.firstGradientMismatch(gradient, g.expectedGradient) == nil)
        let reference = ScalarReference.batchMinedCrossEntropy(
            logits: g.logitValues.map(Double.init), labels: labels, shape: g.batchShape, smoothing: g.labelSmoothing,
            mining: g.pixelMining, pixelWeights: g.pixelWeights?.map(Double.init))
        #expect(Tolerance.lossMatches(reference.value, g.value))
        #expect(Tolerance.firstGradientMismatch(reference.gradient, g.expectedGradient) == nil)
    }

    @Test(arguments: [
        PixelMining.batchTopFraction(0.3), .batchTopFraction(0.95),
        .ohem(threshold: 0.4, minimumKept: 3, averageNonIgnored: false),
        .ohem(threshold: nil, minimumKept: 4, averageNonIgnored: true),
    ])
    func batchMiningGradientMatchesFiniteDifferences(mining: PixelMining) {
        let shape = BatchShape(images: 2, classes: 4, height: 3, width: 5)
        var random = TestRandom(seed: 33)
        let b = random.batch(shape)
        let weights = (0..<shape.pixelCount).map { _ in random.uniform(0.2...2) }
        let logits = b.logits.map(Double.init)
        func f(_ x: [Double]) -> Double {
            ScalarReference.batchMinedCrossEntropy(
                logits: x, labels: b.labels, shape: shape, smoothing: .paperDefault, mining: mining, pixelWeights: weights
            ).value
        }
        let analytic = ScalarReference.batchMinedCrossEntropy(
            logits: logits, labels: b.labels, shape: shape, smoothing: .paperDefault, mining: mining, pixelWeights: weights
        ).gradient
        let numeric = FiniteDifference.gradient(of: f, at: logits, indices: Array(logits.indices))
        for i in logits.indices {
            #expect(abs(numeric[i] - analytic[i]) <= 1e-7, "logit \(i): \(numeric[i]) vs \(analytic[i])")
        }
        // The library agrees with the Float64 reference on the same Float inputs.
        var gradient = [Float](repeating: 0, count: shape.logitCount)
        let r = try? LabelSmoothedCrossEntropy(mining: mining).evaluate(
            logits: b.logits, labels: b.labels, shape: shape, pixelWeights: weights.map(Float.init), gradient: &gradient)
        #expect(r.map { Tolerance.lossMatches($0.value, f(logits)) } == true)
        #expect(Tolerance.firstGradientMismatch(gradient, analytic) == nil)
    }

    @Test func badBatchMiningParameters() throws {
        let shape = BatchShape(images: 1, classes: 3, height: 2, width: 2)
        let logits = [Float](repeating: 0, count: 12), labels: [Int32] = [0, 1, 2, 0]
        var g = [Float](repeating: 7, count: 12)
        func evaluate(_ mining: PixelMining) throws {
            _ = try LabelSmoothedCrossEntropy(mining: mining).evaluate(logits: logits, labels: labels, shape: shape, gradient: &g)
        }
        #expect(throws: HardPixelMiningError.invalidParameter(argument: "mining.fraction", value: 1.5, requirement: "in (0, 1]")) {
            try evaluate(.batchTopFraction(1.5))
        }
        #expect(throws: HardPixelMiningError.invalidParameter(argument: "mining.threshold", value: -0.1, requirement: "in 0...1")) {
            try evaluate(.ohem(threshold: -0.1, minimumKept: 1, averageNonIgnored: false))
        }
        #expect(throws: HardPixelMiningError.invalidDimension(argument: "mining.minimumKept", value: -2, requirement: ">= 0")) {
            try evaluate(.ohem(threshold: nil, minimumKept: -2, averageNonIgnored: true))
        }
        #expect(g.allSatisfy { $0 == 7 })
        // minimumKept · N beyond Int keeps every labelled pixel instead of trapping.
        try evaluate(.ohem(threshold: nil, minimumKept: .max, averageNonIgnored: true))
        #expect(g.allSatisfy { $0.isFinite })
    }
}
