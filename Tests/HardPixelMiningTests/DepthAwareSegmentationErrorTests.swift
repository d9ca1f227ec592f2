import HardPixelMining
import HardPixelMiningTestSupport
import Testing

/// `DepthAwareSegmentationError`: predicted classes, the wZ map and its region tables
/// against the float64 reference.
@Suite struct DepthAwareSegmentationErrorTests {
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
}
