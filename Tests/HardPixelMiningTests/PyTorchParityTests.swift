import HardPixelMining
import HardPixelMiningReference
import HardPixelMiningTestSupport
import Testing

/// `F.cross_entropy(weight=, ignore_index=, label_smoothing=, reduction=)` as PyTorch computes
/// it (Tests/Fixtures/torch_parity.json): the cross-entropy entry point and the objective's
/// L_seg give the same value (1e-5 relative) and gradient (1e-6 absolute / 1e-5 relative).
@Suite struct PyTorchParityTests {
    static let names = Fixtures.torchCrossEntropyCases.map(\.name)

    @Test(arguments: names)
    func crossEntropyMatchesPyTorch(name: String) throws {
        let t = Fixtures.torchCrossEntropyCase(name)
        let shape = t.batchShape
        let ce = t.crossEntropy
        var gradient = [Float](repeating: .nan, count: shape.logitCount)
        let result = try ce.evaluate(logits: t.logitValues, labels: t.labelValues, shape: shape, gradient: &gradient)
        #expect(Tolerance.lossMatches(result.value, t.value), "\(name): \(result.value) vs torch \(t.value)")
        let mismatch = Tolerance.firstGradientMismatch(gradient, t.expectedGradient)
        #expect(mismatch == nil, "\(name): gradient \(String(describing: mismatch))")
    }

    @Test(arguments: names)
    func objectiveSegmentationTermMatchesPyTorch(name: String) throws {
        let t = Fixtures.torchCrossEntropyCase(name)
        let shape = t.batchShape
        let c = t.configuration
        // Without maps L_seg takes the one-pass cross-entropy; asking for a map takes the
        // two-pass route (statistics, weighing, gradient) of every other objective.
        for twoPass in [false, true] {
            var logitGradient: [Float]? = [Float](repeating: .nan, count: shape.logitCount)
            var depthGradient: [Float]? = [Float](repeating: .nan, count: shape.pixelCount)
            var maps: PixelMapArrays? = twoPass ? PixelMapArrays(count: shape.pixelCount, filledWith: .nan) : nil
            let result = try HardPixelMiningObjective(c).evaluateThroughPointers(
                logits: t.logitValues, labels: t.labelValues, predictedLogDepth: [], groundTruthDepth: [],
                shape: shape, epoch: 0, logitGradient: &logitGradient, depthGradient: &depthGradient, maps: &maps)
            #expect(Tolerance.lossMatches(result.batch.segmentation, t.value), "\(name) two-pass \(twoPass)")
            #expect(Tolerance.firstGradientMismatch(logitGradient!, t.expectedGradient) == nil, "\(name) two-pass \(twoPass)")
        }
    }

    /// The Float64 scalar reference, written from the same formula, agrees with PyTorch too.
    @Test(arguments: names.filter { !$0.hasPrefix("1x3x91x93") })
    func scalarReferenceMatchesPyTorch(name: String) {
        let t = Fixtures.torchCrossEntropyCase(name)
        let c = t.configuration
        let r = ScalarReference.evaluate(
            logits: t.logitValues.map(Double.init), labels: t.labelValues, predictedLogDepth: [], groundTruthDepth: [],
            shape: t.batchShape, configuration: c, epoch: 0)
        #expect(Tolerance.lossMatches(r.batch.segmentation, t.value))
        #expect(Tolerance.firstGradientMismatch(r.logitGradient, t.expectedGradient) == nil)
    }
}
