import HardPixelMining
import HardPixelMiningReference
import HardPixelMiningTestSupport
import Testing

/// Central finite differences in Float64 of the scalar reference, against its analytic
/// gradients; and the fast Float path against the reference on random batches.
@Suite struct FiniteDifferenceTests {
    static let shape = BatchShape(images: 2, classes: 5, height: 4, width: 6)

    /// Configurations whose value is differentiable in the inputs away from ties and
    /// pacing boundaries, for every differentiable entry point.
    static let configurations: [(String, ObjectiveConfiguration)] = {
        var list: [(String, ObjectiveConfiguration)] = []
        list.append(("crossEntropy", .segmentationOnly))
        var pytorch = ObjectiveConfiguration.segmentationOnly
        pytorch.smoothing = .pytorch(epsilon: 0.2)
        list.append(("crossEntropyPyTorch", pytorch))
        var depth = ObjectiveConfiguration.segmentationOnly
        depth.depthWeight = 1
        depth.scaleInvariance = 0.5
        list.append(("depthLoss", depth))
        var hpm = ObjectiveConfiguration.paper
        hpm.propagatesDepthPredictionErrorToDepth = true  // makes ∂L_R/∂logD part of the gradient
        list.append(("hardPixelMining", hpm))
        var paced = ObjectiveConfiguration.paperPaced(totalEpochs: 40)
        paced.propagatesDepthPredictionErrorToDepth = true
        paced.grid = .cells(rows: 2, columns: 3)
        list.append(("paced", paced))
        // Class weights (one of them 0) with PyTorch's smoothing, under each reduction.
        for reduction in Reduction.allCases {
            var weighted = pytorch
            weighted.classWeights = [0.5, 2, 0, 1.25, 3]
            weighted.reduction = reduction
            list.append(("classWeights-\(reduction)", weighted))
            var weightedHPM = hpm
            weightedHPM.classWeights = [1.5, 0.25, 2, 0, 1]
            weightedHPM.reduction = reduction
            list.append(("hardPixelMiningClassWeights-\(reduction)", weightedHPM))
        }
        return list
    }()

    static func input(seed: UInt64) -> Input {
        var random = TestRandom(seed: seed)
        let b = random.batch(shape)
        return (b.logits.map(Double.init), b.labels, b.predicted.map(Double.init), b.depth.map(Double.init))
    }

    typealias Input = (logits: [Double], labels: [Int32], predicted: [Double], depth: [Double])

    static func reference(_ input: Input, _ c: ObjectiveConfiguration) -> ScalarReference.Output<Double> {
        ScalarReference.evaluate(
            logits: input.logits, labels: input.labels, predictedLogDepth: input.predicted,
            groundTruthDepth: input.depth, shape: shape, configuration: c, epoch: 12)
    }

    /// Central differences of the objective in the logits (`logits: true`) or in the
    /// predicted log-depth, next to the analytic gradient.
    static func gradients(_ c: ObjectiveConfiguration, seed: UInt64, logits: Bool) -> (numeric: [Double], analytic: [Double]) {
        let input = Self.input(seed: seed)
        let at = logits ? input.logits : input.predicted
        let numeric = FiniteDifference.gradient(
            of: { x in
                var moved = input
                if logits { moved.logits = x } else { moved.predicted = x }
                return reference(moved, c).batch.objective
            }, at: at, indices: Array(at.indices))
        let r = reference(input, c)
        return (numeric, logits ? r.logitGradient : r.depthGradient)
    }

    /// Each central difference within 1e-7 of its analytic partial.
    static func expectClose(
        _ numeric: [Double], _ analytic: [Double], _ context: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        for i in numeric.indices {
            #expect(abs(numeric[i] - analytic[i]) <= 1e-7, "\(context) \(i): \(numeric[i]) vs \(analytic[i])",
                    sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: configurations.indices)
    func logitGradientMatchesFiniteDifferences(index: Int) {
        let (name, c) = Self.configurations[index]
        let (numeric, analytic) = Self.gradients(c, seed: 7, logits: true)
        Self.expectClose(numeric, analytic, "\(name) logit")
    }

    @Test(arguments: configurations.indices.filter { configurations[$0].1.needsPredictedDepth })
    func depthGradientMatchesFiniteDifferences(index: Int) {
        let (name, c) = Self.configurations[index]
        let (numeric, analytic) = Self.gradients(c, seed: 11, logits: false)
        Self.expectClose(numeric, analytic, "\(name) depth")
    }

    /// Finite differences do see the weights move: without propagation, the paper's
    /// gradient deliberately leaves out ∂(β L_R)/∂wR, and the check notices.
    @Test func finiteDifferencesCanFail() {
        let (numeric, analytic) = Self.gradients(.paper, seed: 11, logits: false)
        #expect(numeric.indices.contains { abs(numeric[$0] - analytic[$0]) > 1e-4 })
    }

    /// The fast Float path agrees with the Float64 reference on random batches of many shapes.
    @Test(arguments: [
        BatchShape(images: 3, classes: 2, height: 5, width: 7),
        BatchShape(images: 2, classes: 13, height: 17, width: 9),
        BatchShape(images: 1, classes: 40, height: 8, width: 8),
        BatchShape(images: 2, classes: 3, height: 1, width: 1),
    ])
    func fastPathMatchesReference(shape: BatchShape) throws {
        var random = TestRandom(seed: UInt64(shape.logitCount))
        let b = random.batch(shape)
        for c in [ObjectiveConfiguration.paper, .paperPaced(totalEpochs: 10), .ablation(.segmentationWithPacing, totalEpochs: 10)] {
            var gx = [Float](repeating: 0, count: shape.logitCount)
            var gd = [Float](repeating: 0, count: shape.pixelCount)
            let fast = try HardPixelMiningObjective(c).evaluate(
                logits: b.logits, labels: b.labels, predictedLogDepth: b.predicted, groundTruthDepth: b.depth,
                shape: shape, epoch: 5, logitGradient: &gx, depthGradient: &gd)
            let reference = ScalarReference.evaluate(
                logits: b.logits.map(Double.init), labels: b.labels, predictedLogDepth: b.predicted.map(Double.init),
                groundTruthDepth: b.depth.map(Double.init), shape: shape, configuration: c, epoch: 5)
            #expect(Tolerance.lossMatches(fast.value, reference.batch.objective))
            #expect(Tolerance.firstGradientMismatch(gx, reference.logitGradient) == nil)
            #expect(Tolerance.firstGradientMismatch(gd, reference.depthGradient) == nil)
        }
    }
}
