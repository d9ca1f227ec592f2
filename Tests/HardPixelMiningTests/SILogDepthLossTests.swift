import Foundation
import HardPixelMining
import HardPixelMiningReference
import HardPixelMiningTestSupport
import Testing

/// `SILogDepthLoss` (BTS, AdaBins) and SILog as the objective's depth term: against the
/// float64 reference written from their code, finite differences, and bad input.
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
