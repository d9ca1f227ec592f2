import Foundation
import HardPixelMining
import HardPixelMiningReference
import HardPixelMiningTestSupport
import Testing

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

@Suite struct SILogTests {
    static let names = Fixtures.silogCases.map(\.name)

    @Test(arguments: names)
    func silogMatchesReference(name: String) throws {
        let g = Fixtures.silogCases.first { $0.name == name }!
        var gradient = [Float](repeating: .nan, count: g.batchShape.pixelCount)
        let r = try SILogDepthLoss(g.silog).evaluate(
            predictedLogDepth: g.predictedLogDepth, groundTruthDepth: g.depthValues, shape: g.batchShape.pixelMap, gradient: &gradient)
        #expect(Tolerance.lossMatches(r.value, g.value), "\(r.value) vs \(g.value)")
        #expect(r.sums.reduce(0) { $0 + $1.depthPixels } == g.pixels)
        for (k, expected) in g.images.enumerated() {
            #expect(Tolerance.lossMatches(r.images[k], expected), "image \(k): \(r.images[k]) vs \(expected)")
        }
        #expect(Tolerance.firstGradientMismatch(gradient, g.expectedGradient) == nil)
        let reference = ScalarReference.silog(
            predictedLogDepth: g.predictedLogDepth.map(Double.init), depth: g.depthValues, silog: g.silog)
        #expect(Tolerance.lossMatches(reference.value, g.value))
        #expect(Tolerance.firstGradientMismatch(reference.gradient, g.expectedGradient) == nil)
    }

    /// AdaBins' SILog over exactly one valid pixel: `torch.var` of one element is NaN, and the
    /// package gives 0 (value and gradient), alone and as the objective's depth term, per image
    /// and pooled; BTS's population variance keeps its value there.
    @Test func adaBinsOverOneValidPixelIsZero() throws {
        let shape = BatchShape(images: 2, classes: 2, height: 1, width: 3)
        let predicted: [Float] = [0.5, 2, 2, 1.5, 2, 2]
        let oneValid: [Float] = [20, 0, .nan, 0, 500, -1]        // one valid pixel in the batch
        let onePerImage: [Float] = [20, 0, .nan, 0, 30, -1]      // one in each image
        var gradient = [Float](repeating: 7, count: shape.pixelCount)
        let alone = try SILogDepthLoss(.adaBins).evaluate(
            predictedLogDepth: predicted, groundTruthDepth: oneValid, shape: shape.pixelMap, gradient: &gradient)
        #expect(alone.value == 0)
        #expect(gradient.allSatisfy { $0 == 0 })
        let bts = try SILogDepthLoss(.bts).evaluate(
            predictedLogDepth: predicted, groundTruthDepth: oneValid, shape: shape.pixelMap, gradient: &gradient)
        #expect(bts.value > 0)
        var c = ObjectiveConfiguration.segmentationOnly
        c.depthWeight = 1
        c.depthTerm = .silog(.adaBins)
        let logits = [Float](repeating: 0, count: shape.logitCount), labels: [Int32] = [0, 1, 0, 1, 0, 1]
        for (depth, pooledIsZero) in [(oneValid, true), (onePerImage, false)] {
            var gx = [Float](repeating: 7, count: shape.logitCount), gd = [Float](repeating: 7, count: shape.pixelCount)
            let r = try HardPixelMiningObjective(c).evaluate(
                logits: logits, labels: labels, predictedLogDepth: predicted, groundTruthDepth: depth, shape: shape,
                epoch: 0, logitGradient: &gx, depthGradient: &gd)
            #expect(r.images.allSatisfy { $0.depth == 0 })
            #expect((r.batch.depth == 0) == pooledIsZero)
            #expect(gd.allSatisfy { $0 == 0 } == pooledIsZero)
            #expect(r.batch.depth.isFinite && gd.allSatisfy(\.isFinite))
        }
    }

    @Test(arguments: [SILog.bts, .adaBins, SILog(varianceFocus: 0.3, scale: 2, variance: .sample)])
    func silogGradientMatchesFiniteDifferences(silog: SILog) {
        let shape = PixelMapShape(images: 2, height: 4, width: 5)
        var random = TestRandom(seed: 44)
        let b = random.batch(BatchShape(images: 2, classes: 2, height: 4, width: 5))
        let predicted = b.predicted.map(Double.init)
        func f(_ x: [Double]) -> Double { ScalarReference.silog(predictedLogDepth: x, depth: b.depth, silog: silog).value }
        let analytic = ScalarReference.silog(predictedLogDepth: predicted, depth: b.depth, silog: silog).gradient
        let numeric = FiniteDifference.gradient(of: f, at: predicted, indices: Array(predicted.indices))
        for i in predicted.indices {
            #expect(abs(numeric[i] - analytic[i]) <= 1e-7, "pixel \(i): \(numeric[i]) vs \(analytic[i])")
        }
        var gradient = [Float](repeating: 1, count: shape.pixelCount)
        let r = try? SILogDepthLoss(silog).evaluate(
            predictedLogDepth: b.predicted, groundTruthDepth: b.depth, shape: shape, gradient: &gradient,
            gradientOutput: .accumulate(scale: 2))
        #expect(r.map { Tolerance.lossMatches($0.value, f(predicted)) } == true)
        #expect(Tolerance.firstGradientMismatch(gradient, analytic.map { 1 + 2 * $0 }) == nil)
    }

    @Test(arguments: Fixtures.objectiveSILogCases.map(\.name))
    func objectiveWithSILogMatchesReference(name: String) throws {
        let g = Fixtures.objectiveSILogCases.first { $0.name == name }!
        var logitGradient = [Float](repeating: .nan, count: g.batchShape.logitCount)
        var depthGradient = [Float](repeating: .nan, count: g.batchShape.pixelCount)
        let r = try HardPixelMiningObjective(g.configuration, threadCount: 2).evaluate(
            logits: g.logitValues, labels: g.labelValues, predictedLogDepth: g.predictedLogDepth,
            groundTruthDepth: g.depthValues, shape: g.batchShape, epoch: g.epoch, logitGradient: &logitGradient,
            depthGradient: &depthGradient)
        #expect(Tolerance.lossMatches(r.value, g.objective), "\(r.value) vs \(g.objective)")
        #expect(Tolerance.lossMatches(r.batch.depth, g.depth_term))
        #expect(Tolerance.lossMatches(r.batch.segmentation, g.segmentation))
        for (k, expected) in g.image_depth.enumerated() { #expect(Tolerance.lossMatches(r.images[k].depth, expected)) }
        #expect(Tolerance.firstGradientMismatch(logitGradient, g.expectedLogitGradient) == nil)
        #expect(Tolerance.firstGradientMismatch(depthGradient, g.expectedDepthGradient) == nil)
    }

    @Test func badSILogParameters() throws {
        let shape = PixelMapShape(images: 1, height: 1, width: 2)
        var g: [Float] = [7, 7]
        #expect(throws: HardPixelMiningError.invalidParameter(argument: "silog.varianceFocus", value: 1.5, requirement: "in 0...1")) {
            try SILogDepthLoss(SILog(varianceFocus: 1.5)).evaluate(
                predictedLogDepth: [1, 2], groundTruthDepth: [3, 4], shape: shape, gradient: &g)
        }
        let nanScale = #expect(throws: HardPixelMiningError.self) {
            try SILogDepthLoss(SILog(scale: .nan)).evaluate(
                predictedLogDepth: [1, 2], groundTruthDepth: [3, 4], shape: shape, gradient: &g)
        }
        #expect(nanScale?.argument == "silog.scale")
        #expect(throws: HardPixelMiningError.nonFiniteValue(argument: "predictedLogDepth", index: 1, value: .infinity)) {
            try SILogDepthLoss().evaluate(
                predictedLogDepth: [1, .infinity], groundTruthDepth: [3, 4], shape: shape, gradient: &g, gradientOutput: .accumulate)
        }
        var c = ObjectiveConfiguration.paper
        c.depthTerm = .silog(SILog(varianceFocus: -1))
        var lg = [Float](repeating: 7, count: 4)
        let bad = #expect(throws: HardPixelMiningError.self) {
            try HardPixelMiningObjective(c).evaluate(
                logits: [0, 0, 0, 0], labels: [0, 1], predictedLogDepth: [1, 2], groundTruthDepth: [3, 4],
                shape: BatchShape(images: 1, classes: 2, height: 1, width: 2), logitGradient: &lg, depthGradient: &g)
        }
        #expect(bad?.argument == "configuration.depthTerm.varianceFocus")
        #expect(g == [7, 7] && lg.allSatisfy { $0 == 7 })
    }
}

@Suite struct HoyerDepthMixTests {
    @Test(arguments: Fixtures.hoyerMixCases.indices)
    func mixMatchesReference(index: Int) throws {
        let g = Fixtures.hoyerMixCases[index]
        let mixer = HoyerDepthMix(margin: g.margin, foregroundThreshold: g.foreground_threshold)
        #expect(HoyerDepthMix.rolledPartners(count: g.shape.images) == g.partners)
        let mixed = try mixer.mix(
            disparity: g.disparityValues, shape: g.batchShape.pixelMap, images: g.imageValues, channels: g.channels,
            labels: g.labelValues, softTargets: g.softTargets, classes: g.batchShape.classes)
        #expect(mixed.masks == g.expectedMasks)
        #expect(mixed.images == g.expectedImages)
        #expect(mixed.labels == g.expectedLabels)
        #expect(mixed.softTargets == g.expectedSoftTargets)
        #expect(mixed.softTargetLabels == g.expectedSoftLabels)
    }

    @Test func tiesGoToTheOwnImageAndTheThresholdDropsTheBackground() throws {
        // Two 1×3 images; disparities normalise to [0, 0.5, 1] and [0, 0.5, 1]: every pixel ties.
        let shape = PixelMapShape(images: 2, height: 1, width: 3)
        let m = try HoyerDepthMix(margin: 0, foregroundThreshold: 0.25).mix(disparity: [1, 2, 3, 10, 20, 30], shape: shape)
        #expect(m.masks == [false, true, true, false, true, true])
        // The package's own DepthMix gives ties to the partner instead.
        #expect(try DepthMix().mask(depth: [5, 5], partnerDepth: [5, 5]) == [false, false])
    }

    @Test func badHoyerInput() throws {
        let shape = PixelMapShape(images: 2, height: 1, width: 2)
        let nan = #expect(throws: HardPixelMiningError.self) {
            try HoyerDepthMix().mix(disparity: [1, 2, .nan, 4], shape: shape)
        }
        #expect(nan?.description == "`disparity`[2] is nan; it must be finite")
        #expect(throws: HardPixelMiningError.invalidDimension(argument: "partners[1]", value: 1, requirement: "a permutation of 0..<2")) {
            try HoyerDepthMix().mix(disparity: [1, 2, 3, 4], shape: shape, partners: [1, 1])
        }
        #expect(throws: HardPixelMiningError.wrongCount(argument: "softTargets", expected: 8, actual: 4)) {
            try HoyerDepthMix().mix(disparity: [1, 2, 3, 4], shape: shape, softTargets: [0, 1, 0, 1], classes: 2)
        }
        // Soft targets need their class count: C ≥ 2, as for logits.
        #expect(throws: HardPixelMiningError.invalidDimension(argument: "classes", value: 0, requirement: ">= 2 with softTargets")) {
            try HoyerDepthMix().mix(disparity: [1, 2, 3, 4], shape: shape, softTargets: [0, 1, 0, 1])
        }
        #expect(throws: HardPixelMiningError.invalidDimension(argument: "classes", value: 1, requirement: ">= 2 with softTargets")) {
            try HoyerDepthMix().mix(disparity: [1, 2, 3, 4], shape: shape, softTargets: [0, 1, 0, 1], classes: 1)
        }
        #expect(throws: HardPixelMiningError.self) {
            try HoyerDepthMix().mix(disparity: [1, 2, 3, 4], shape: shape, softTargets: [0, 1, 0, 1], classes: 1 << 40)
        }
        let margin = #expect(throws: HardPixelMiningError.self) {
            try HoyerDepthMix(margin: .infinity).mix(disparity: [1, 2, 3, 4], shape: shape)
        }
        #expect(margin?.argument == "margin")
    }
}
