import HardPixelMining
import HardPixelMiningTestSupport
import Testing

/// `ScaleInvariantDepthLoss` against the float64 reference: per-image and batch L_dep and
/// its gradient.
@Suite struct ScaleInvariantDepthLossTests {
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
}
