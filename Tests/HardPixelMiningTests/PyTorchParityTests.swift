import HardPixelMining
import HardPixelMiningReference
import HardPixelMiningTestSupport
import Testing

/// `F.cross_entropy(weight=, ignore_index=, label_smoothing=, reduction=)` as PyTorch computes
/// it (Tests/Fixtures/torch_parity.json): the cross-entropy entry point and the objective's
/// L_seg give the same value (1e-5 relative) and gradient (1e-6 absolute / 1e-5 relative).
@Suite struct PyTorchParityTests {
    static let names = Fixtures.torchCrossEntropyCases.map(\.name)

    static func torchCase(_ name: String) -> TorchCrossEntropyCase {
        Fixtures.torchCrossEntropyCases.first { $0.name == name }!
    }

    @Test(arguments: names)
    func crossEntropyMatchesPyTorch(name: String) throws {
        let t = Self.torchCase(name)
        let shape = t.batchShape
        let ce = LabelSmoothedCrossEntropy(
            smoothing: .pytorch(epsilon: t.epsilon), classWeights: t.class_weights, reduction: t.packageReduction)
        var gradient = [Float](repeating: .nan, count: shape.logitCount)
        let result = try ce.evaluate(logits: t.logitValues, labels: t.labelValues, shape: shape, gradient: &gradient)
        #expect(Tolerance.lossMatches(result.value, t.value), "\(name): \(result.value) vs torch \(t.value)")
        let mismatch = Tolerance.firstGradientMismatch(gradient, t.expectedGradient)
        #expect(mismatch == nil, "\(name): gradient \(String(describing: mismatch))")
    }

    @Test(arguments: names)
    func objectiveSegmentationTermMatchesPyTorch(name: String) throws {
        let t = Self.torchCase(name)
        let shape = t.batchShape
        var c = ObjectiveConfiguration.segmentationOnly
        c.smoothing = .pytorch(epsilon: t.epsilon)
        c.classWeights = t.class_weights
        c.reduction = t.packageReduction
        // Without maps L_seg takes the one-pass cross-entropy; asking for a map takes the
        // two-pass route (statistics, weighing, gradient) of every other objective.
        for twoPass in [false, true] {
            var logitGradient = [Float](repeating: .nan, count: shape.logitCount)
            var depthGradient = [Float](repeating: .nan, count: shape.pixelCount)
            var lossWeights = [Float](repeating: .nan, count: shape.pixelCount)
            let result = try lossWeights.withUnsafeMutableBufferPointer { w in
                try t.logitValues.withUnsafeBufferPointer { x in
                    try t.labelValues.withUnsafeBufferPointer { y in
                        try logitGradient.withUnsafeMutableBufferPointer { gx in
                            try depthGradient.withUnsafeMutableBufferPointer { gd in
                                try HardPixelMiningObjective(c).evaluate(
                                    logits: x, labels: y, predictedLogDepth: .init(start: nil, count: 0),
                                    groundTruthDepth: .init(start: nil, count: 0), shape: shape, epoch: 0,
                                    logitGradient: gx, depthGradient: gd,
                                    maps: twoPass ? ObjectiveMaps(lossWeights: w) : ObjectiveMaps())
                            }
                        }
                    }
                }
            }
            #expect(Tolerance.lossMatches(result.batch.segmentation, t.value), "\(name) two-pass \(twoPass)")
            #expect(Tolerance.firstGradientMismatch(logitGradient, t.expectedGradient) == nil, "\(name) two-pass \(twoPass)")
        }
    }

    /// The Float64 scalar reference, written from the same formula, agrees with PyTorch too.
    @Test(arguments: names.filter { !$0.hasPrefix("1x3x91x93") })
    func scalarReferenceMatchesPyTorch(name: String) {
        let t = Self.torchCase(name)
        var c = ObjectiveConfiguration.segmentationOnly
        c.smoothing = .pytorch(epsilon: t.epsilon)
        c.classWeights = t.class_weights
        c.reduction = t.packageReduction
        let r = ScalarReference.evaluate(
            logits: t.logitValues.map(Double.init), labels: t.labelValues, predictedLogDepth: [], groundTruthDepth: [],
            shape: t.batchShape, configuration: c, epoch: 0)
        #expect(Tolerance.lossMatches(r.batch.segmentation, t.value))
        #expect(Tolerance.firstGradientMismatch(r.logitGradient, t.expectedGradient) == nil)
    }
}
