import HardPixelMining
import HardPixelMiningTestSupport
import Testing

/// Self-paced pacing past its planned epochs (fine-tuning, longer training).
@Suite struct SelfPacedPacingTests {
    /// Past E the pace holds at its last value, η = u2: an epoch beyond E is read as E, for the
    /// stand-alone pace and for the objective, bitwise.
    @Test func paceHoldsPastTotalEpochs() throws {
        let pacing = SelfPacedPacing(totalEpochs: 10)
        let weights: [Float] = [3, 1, 4, 1, 5, 9, 2, 6]
        #expect(try pacing.learningPace(of: weights, epoch: 25) == pacing.learningPace(of: weights, epoch: 10))
        #expect(try pacing.learningPace(of: weights, epoch: 10) == 9)
        let shape = BatchShape(images: 2, classes: 5, height: 6, width: 7)
        var random = TestRandom(seed: 17)
        let b = random.batch(shape)
        func run(_ epoch: Double) throws -> (ObjectiveResult, [Float], [Float]) {
            var gx = [Float](repeating: 0, count: shape.logitCount), gd = [Float](repeating: 0, count: shape.pixelCount)
            let r = try HardPixelMiningObjective(.paperPaced(totalEpochs: 10)).evaluate(
                logits: b.logits, labels: b.labels, predictedLogDepth: b.predicted, groundTruthDepth: b.depth,
                shape: shape, epoch: epoch, logitGradient: &gx, depthGradient: &gd)
            return (r, gx, gd)
        }
        let atEnd = try run(10), past = try run(40)
        #expect(atEnd.0.sums == past.0.sums)
        #expect(atEnd.1 == past.1 && atEnd.2 == past.2)
        #expect(throws: HardPixelMiningError.self) { _ = try run(-1) }
    }

    @Test(arguments: ["paced_c40_epoch0", "paced_c40_epoch20", "paced_c40_epoch40", "paced_c2_epoch0", "paced_multichunk_epoch10"])
    func learningPaceByPacingAPI(name: String) throws {
        let g = Fixtures.objectiveCase(name)
        let pacing = g.configuration.pacing!
        let wR = g.expectedDepthPredictionErrorWeights
        let hw = g.batchShape.pixelsPerImage
        let weights = try DepthPredictionError().weights(
            predictedLogDepth: g.predictedLogDepth, groundTruthDepth: g.groundTruthDepth, labels: g.labelValues,
            shape: g.batchShape)
        for k in 0..<g.batchShape.images {
            // Eligible = labelled and valid depth: exactly where the reference's wR is defined and > 0,
            // or labelled with a valid zero residual (not present in random data).
            let labels = g.labelValues
            let depth = g.groundTruthDepth
            let eligible = (0..<hw).map { i in labels[k * hw + i] != 255 && depth[k * hw + i] >= 1 && depth[k * hw + i] <= 256 }
            let chosen = (0..<hw).filter { eligible[$0] }.map { weights[k * hw + $0] }
            let eta = try pacing.learningPace(of: chosen, epoch: g.epoch)
            expectPace(eta, g.images[k].sums!.eta_r)
            let mask = try pacing.mask(weights: Array(weights[(k * hw)..<((k + 1) * hw)]), eligible: eligible, epoch: g.epoch)
            if let eta = g.images[k].sums!.eta_r {
                for i in 0..<hw { #expect(mask[i] == (eligible[i] && wR[k * hw + i] < eta)) }
            } else {
                #expect(!mask.contains(true))
            }
        }
    }
}
