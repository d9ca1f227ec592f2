import HardPixelMining
import HardPixelMiningTestSupport
import Testing

/// Each standalone entry point against the float64 reference.
@Suite struct GoldenComponentTests {
    @Test(arguments: ["seg_only_c2_paper", "seg_only_c40_pytorch", "seg_only_c40_none", "hpm_extreme_logits", "hpm_multichunk"])
    func crossEntropyPerPixelAndBatch(name: String) throws {
        let g = Fixtures.objectiveCase(name)
        let ce = LabelSmoothedCrossEntropy(smoothing: g.configuration.smoothing)
        let losses = try ce.pixelLosses(logits: g.logitValues, labels: g.labelValues, shape: g.batchShape)
        let expected = g.expectedPixelLosses
        for i in losses.indices {
            #expect(abs(Double(losses[i]) - expected[i]) <= 1e-5 * abs(expected[i]) + 2e-6, "pixel \(i)")
        }
        var gradient = [Float](repeating: 0, count: g.batchShape.logitCount)
        let result = try ce.evaluate(logits: g.logitValues, labels: g.labelValues, shape: g.batchShape, gradient: &gradient)
        #expect(Tolerance.lossMatches(result.value, g.batch.segmentation))
        for (k, image) in result.images.enumerated() {
            #expect(Tolerance.lossMatches(image, g.images[k].segmentation))
        }
    }

    @Test(arguments: ["seg_depth_rho0", "seg_depth_rho1", "hpm_c40_epoch12", "hpm_multichunk"])
    func scaleInvariantDepthLoss(name: String) throws {
        let g = Fixtures.objectiveCase(name)
        let loss = ScaleInvariantDepthLoss(scaleInvariance: g.configuration.scaleInvariance)
        var gradient = [Float](repeating: .nan, count: g.batchShape.pixelCount)
        let result = try loss.evaluate(
            predictedLogDepth: g.predictedLogDepth, groundTruthDepth: g.groundTruthDepth, shape: g.batchShape.pixelMap,
            gradient: &gradient)
        #expect(Tolerance.lossMatches(result.value, g.batch.depth))
        for (k, image) in result.images.enumerated() {
            #expect(Tolerance.lossMatches(image, g.images[k].depth))
        }
        // With α = 1 and no weight-propagation the objective's depth gradient is L_dep's.
        if g.configuration.depthWeight == 1 && !g.configuration.propagatesDepthPredictionErrorToDepth {
            #expect(Tolerance.firstGradientMismatch(gradient, g.expectedDepthGradient) == nil)
        }
    }

    @Test(arguments: ["hpm_c2_epoch12", "hpm_c40_epoch12", "hpm_extreme_logits", "hpm_multichunk"])
    func depthPredictionErrorWeights(name: String) throws {
        let g = Fixtures.objectiveCase(name)
        let weights = try DepthPredictionError().weights(
            predictedLogDepth: g.predictedLogDepth, groundTruthDepth: g.groundTruthDepth, labels: g.labelValues,
            shape: g.batchShape)
        #expect(Tolerance.firstGradientMismatch(weights, g.expectedDepthPredictionErrorWeights) == nil)
    }

    @Test(arguments: ["hpm_c2_epoch12", "hpm_c40_epoch12", "hpm_grid_global", "hpm_grid_per_pixel", "hpm_grid_3x5_bin7", "hpm_extreme_logits", "hpm_multichunk"])
    func segmentationErrorWeightsAndTables(name: String) throws {
        let g = Fixtures.objectiveCase(name)
        let c = g.configuration
        let predictions = try DepthAwareSegmentationError.predictedClasses(logits: g.logitValues, shape: g.batchShape)
        #expect(predictions == g.expectedPredictions, "first argmax, ties included")
        let dse = DepthAwareSegmentationError(grid: c.grid, depthBinning: c.depthBinning)
        let weights = try dse.weights(
            predictions: predictions, labels: g.labelValues, groundTruthDepth: g.groundTruthDepth, shape: g.batchShape)
        let expected = g.expectedSegmentationErrorWeights
        for i in weights.indices {
            #expect(abs(Double(weights[i]) - expected[i]) <= 1e-7, "pixel \(i)")
        }
        let tables = try dse.tables(
            predictions: predictions, labels: g.labelValues, groundTruthDepth: g.groundTruthDepth, shape: g.batchShape)
        for (k, table) in tables.enumerated() {
            let e = g.expectedTables[k]
            #expect(table.rows * table.columns * table.bins * 2 == e.count)
            var key = 0
            for r in 0..<table.rows { for col in 0..<table.columns { for b in 0..<table.bins {
                let (count, errors) = (Int(e[2 * key]), Int(e[2 * key + 1]))
                let region = table.region(row: r, column: col, bin: b)
                #expect(region?.count ?? 0 == count && region?.errors ?? 0 == errors, "region \(r), \(col), \(b)")
                #expect(table.error(row: r, column: col, bin: b) == (count == 0 ? 0 : Double(errors) / Double(count)))
                key += 1
            } } }
            #expect(table.regions.count == stride(from: 0, to: e.count, by: 2).filter { e[$0] > 0 }.count)
            #expect(table.error(row: table.rows, column: 0, bin: 0) == nil)
            #expect(table.error(row: 0, column: 0, bin: -1) == nil)
        }
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
