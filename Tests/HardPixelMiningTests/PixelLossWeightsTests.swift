import HardPixelMining
import HardPixelMiningTestSupport
import Testing

/// The Loss Weight Module: per-pixel weights from predictions equal the float64 reference's
/// W on every golden case it applies to, its report carries β(e), γ, η and the counted
/// pixels, and bad input throws before `weights` is written.
@Suite struct PixelLossWeightsTests {
    /// Every golden case whose configuration the module takes (no pixel weights, no paced L_seg).
    static let names = Fixtures.objectiveCases
        .filter { $0.pixelWeights == nil && !$0.configuration.pacesSegmentation }.map(\.name)

    @Test(arguments: names)
    func weightsFromPredictionsMatchTheReference(name: String) throws {
        let g = Fixtures.objectiveCase(name)
        let c = g.configuration
        let module = PixelLossWeights(c, threadCount: 2)
        let (weights, report) = try module.weights(
            predictions: g.expectedPredictions, labels: g.labelValues,
            predictedLogDepth: c.needsPredictedDepth ? g.predictedLogDepth : [],
            groundTruthDepth: c.needsGroundTruthDepth ? g.groundTruthDepth : [], shape: g.batchShape, epoch: g.epoch)
        #expect(Tolerance.firstGradientMismatch(weights, g.expectedPixelLossWeights) == nil)
        #expect(report.depthPredictionErrorWeight == c.depthPredictionErrorWeight.value(atEpoch: g.epoch))
        #expect(report.segmentationErrorWeight == c.segmentationErrorWeight)
        for (k, image) in g.images.enumerated() {
            guard let e = image.sums else { continue }
            #expect(report.images[k].labelledPixels == e.n)
            if let eta = e.eta_r { #expect(Tolerance.lossMatches(try #require(report.images[k].depthPredictionErrorPace), eta)) }
            if let eta = e.eta_z { #expect(Tolerance.lossMatches(try #require(report.images[k].segmentationErrorPace), eta)) }
        }
    }

    /// The same maps, pacing and counts as the objective computes from the logits.
    @Test func reportAgreesWithTheObjective() throws {
        let g = Fixtures.objectiveCase("paced_c40_epoch20")
        let objective = try HardPixelMiningObjective(g.configuration).evaluate(
            logits: g.logitValues, labels: g.labelValues, predictedLogDepth: g.predictedLogDepth,
            groundTruthDepth: g.groundTruthDepth, shape: g.batchShape, epoch: g.epoch)
        let (_, report) = try PixelLossWeights(g.configuration).weights(
            predictions: g.expectedPredictions, labels: g.labelValues, predictedLogDepth: g.predictedLogDepth,
            groundTruthDepth: g.groundTruthDepth, shape: g.batchShape, epoch: g.epoch)
        for (a, b) in zip(report.images, objective.sums) {
            #expect(a.depthPredictionErrorPace == b.depthPredictionErrorPace)
            #expect(a.segmentationErrorPace == b.segmentationErrorPace)
            #expect(a.countedDepthPredictionErrorPixels == b.countedDepthPredictionErrorPixels)
            #expect(a.countedSegmentationErrorPixels == b.countedSegmentationErrorPixels)
            if a.eligiblePixels > 0 { #expect(a.countedDepthPredictionErrorPixels > 0 && a.countedDepthPredictionErrorPixels < a.eligiblePixels) }
        }
    }

    @Test func badInputWritesNothing() {
        let g = Fixtures.objectiveCase("hpm_c40_epoch12")
        let sentinel: Float = 42
        func error(_ configuration: ObjectiveConfiguration = .paper, predictions: [Int32]? = nil, count: Int? = nil) -> HardPixelMiningError? {
            var out = [Float](repeating: sentinel, count: count ?? g.batchShape.pixelCount)
            do {
                _ = try (predictions ?? g.expectedPredictions).withUnsafeBufferPointer { p in
                    try g.labelValues.withUnsafeBufferPointer { y in
                        try g.predictedLogDepth.withUnsafeBufferPointer { d in
                            try g.groundTruthDepth.withUnsafeBufferPointer { dStar in
                                try out.withUnsafeMutableBufferPointer { w in
                                    try PixelLossWeights(configuration).weights(
                                        predictions: p, labels: y, predictedLogDepth: d, groundTruthDepth: dStar,
                                        shape: g.batchShape, epoch: 12, into: w)
                                }
                            }
                        }
                    }
                }
                return nil
            } catch let e as HardPixelMiningError {
                #expect(out.allSatisfy { $0 == sentinel }, "weights written before \(e)")
                return e
            } catch { return nil }
        }
        var paced = ObjectiveConfiguration.ablation(.segmentationWithPacing, totalEpochs: 20)
        #expect(error(paced)?.argument == "configuration.pacesSegmentation")
        paced = .paperPaced(totalEpochs: 10)
        #expect(error(paced) == nil)  // epoch 12 past E = 10: the pace holds at its last value
        var predictions = g.expectedPredictions
        predictions[7] = 40
        #expect(error(predictions: predictions) == .labelOutOfRange(
            argument: "predictions", index: 7, value: 40, classCount: 40, ignoreLabel: -1))
        #expect(error(count: 3) == .wrongCount(argument: "weights", expected: g.batchShape.pixelCount, actual: 3))
        #expect(error() == nil)
    }
}
