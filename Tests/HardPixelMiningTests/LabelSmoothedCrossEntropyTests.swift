import HardPixelMining
import HardPixelMiningTestSupport
import Testing

/// `LabelSmoothedCrossEntropy` against the float64 reference: per-pixel losses, per-image
/// and batch values.
@Suite struct LabelSmoothedCrossEntropyTests {
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
}
