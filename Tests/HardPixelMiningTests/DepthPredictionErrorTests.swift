import HardPixelMining
import HardPixelMiningTestSupport
import Testing

/// `DepthPredictionError`: the wR map against the float64 reference.
@Suite struct DepthPredictionErrorTests {
    @Test(arguments: ["hpm_c2_epoch12", "hpm_c40_epoch12", "hpm_extreme_logits", "hpm_multichunk"])
    func depthPredictionErrorWeights(name: String) throws {
        let g = Fixtures.objectiveCase(name)
        let weights = try DepthPredictionError().weights(
            predictedLogDepth: g.predictedLogDepth, groundTruthDepth: g.groundTruthDepth, labels: g.labelValues,
            shape: g.batchShape)
        #expect(Tolerance.firstGradientMismatch(weights, g.expectedDepthPredictionErrorWeights) == nil)
    }
}
