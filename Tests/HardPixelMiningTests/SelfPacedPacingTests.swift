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

    /// wZ's pace is the pace of the wZ map over the eligible pixels, bitwise: taken over the
    /// region table (each region's quotient counted by its pixels) where every band of grid
    /// rows has at least as many pixels as regions, over the pixels otherwise (a per-pixel
    /// grid), and where the bands differ (a 7-row image in 2 bands of 4 and 3 rows).
    @Test(arguments: [RegionGrid.paper, .global, .cells(rows: 2, columns: 3), .perPixel])
    func segmentationErrorPaceIsTheEligibleMapsPace(grid: RegionGrid) throws {
        let shape = BatchShape(images: 3, classes: 6, height: 7, width: 40)
        var random = TestRandom(seed: 23)
        let b = random.batch(shape)
        var c = ObjectiveConfiguration.paperPaced(totalEpochs: 10)
        c.grid = grid
        c.depthBinning = DepthBinning(minimum: 1, maximum: 256, binWidth: 40)
        var gx = [Float](repeating: 0, count: shape.logitCount), gd = [Float](repeating: 0, count: shape.pixelCount)
        for epoch in [0.0, 3, 10] {
            var maps = ObjectiveMapArrays(segmentationError: [Float](repeating: 0, count: shape.pixelCount))
            let result = try HardPixelMiningObjective(c).evaluate(
                logits: b.logits, labels: b.labels, predictedLogDepth: b.predicted, groundTruthDepth: b.depth,
                shape: shape, epoch: epoch, logitGradient: &gx, depthGradient: &gd, maps: &maps)
            let wZ = try #require(maps.segmentationError)
            let plane = shape.pixelsPerImage
            for k in 0..<shape.images {
                let eligible = (k * plane..<(k + 1) * plane).filter {
                    b.labels[$0] != c.ignoreLabel && c.depthBinning.isValid(b.depth[$0])
                }
                let expected = try c.pacing!.learningPace(of: eligible.map { wZ[$0] }, epoch: epoch)
                #expect(expected != nil && result.sums[k].segmentationErrorPace == expected, "image \(k), epoch \(epoch)")
            }
        }
    }
}
