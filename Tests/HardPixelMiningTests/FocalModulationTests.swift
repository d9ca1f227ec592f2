import Foundation
import HardPixelMining
import HardPixelMiningReference
import HardPixelMiningTestSupport
import Testing

/// Focal loss and PolyLoss-1 (``FocalModulation``, `polyEpsilon`) against the float64 NumPy
/// reference (Tests/Fixtures/weighting.json), by finite differences of the Float64 scalar
/// reference, and on bad and extreme input.
@Suite struct FocalModulationTests {
    static let names = Fixtures.weightingCases.filter { $0.pixelWeightMap == nil }.map(\.name)

    /// Every case through the objective; cases of L_seg alone also through the cross-entropy
    /// (its one pass), with pixel weights where the case has them.
    @Test(arguments: names)
    func matchesReference(name: String) throws {
        let g = Fixtures.weightingCase(name)
        let c = g.configuration
        let segmentationOnly = !c.needsGroundTruthDepth && c.pacing == nil
        if segmentationOnly {
            var gradient = [Float](repeating: .nan, count: g.batchShape.logitCount)
            let ce = LabelSmoothedCrossEntropy(
                smoothing: c.smoothing, classWeights: c.classWeights, reduction: c.reduction, focal: c.focal,
                polyEpsilon: c.polyEpsilon)
            let result = try ce.evaluate(
                logits: g.logitValues, labels: g.labelValues, shape: g.batchShape, pixelWeights: g.pixelWeights,
                gradient: &gradient)
            expectCrossEntropyTerms(result, g, "\(name) cross-entropy")
            #expect(Tolerance.firstGradientMismatch(gradient, g.expectedLogitGradient) == nil, "\(name) cross-entropy gradient")
        }
        if g.pixelWeights == nil {
            try expectObjectiveMatches(g)
        }
    }

    /// PyTorch's autograd on the peers' two softmax conventions (Tests/Fixtures/torch_focal_parity.json),
    /// through the cross-entropy's one pass and the objective's weighing route (a map asked for).
    @Test(arguments: Fixtures.torchFocalCases.map(\.name))
    func matchesPyTorchPeers(name: String) throws {
        let t = Fixtures.torchFocalCases.first { $0.name == name }!
        let shape = t.batchShape, ce = t.crossEntropy
        var gradient = [Float](repeating: .nan, count: shape.logitCount)
        let result = try ce.evaluate(logits: t.logitValues, labels: t.labelValues, shape: shape, gradient: &gradient)
        #expect(Tolerance.lossMatches(result.value, t.value), "\(name): \(result.value) vs torch \(t.value)")
        #expect(Tolerance.firstGradientMismatch(gradient, t.expectedGradient) == nil, "\(name)")
        var c = ObjectiveConfiguration.segmentationOnly
        (c.smoothing, c.classWeights, c.reduction, c.focal) = (ce.smoothing, ce.classWeights, ce.reduction, ce.focal)
        var weights = [Float](repeating: .nan, count: shape.pixelCount)
        var depthGradient = [Float](repeating: .nan, count: shape.pixelCount)
        let objective = try t.logitValues.withUnsafeBufferPointer { x in
            try t.labelValues.withUnsafeBufferPointer { y in
                try gradient.withUnsafeMutableBufferPointer { gx in
                    try depthGradient.withUnsafeMutableBufferPointer { gd in
                        try weights.withUnsafeMutableBufferPointer { w in
                            try HardPixelMiningObjective(c).evaluate(
                                logits: x, labels: y, predictedLogDepth: UnsafeBufferPointer(start: nil, count: 0),
                                groundTruthDepth: UnsafeBufferPointer(start: nil, count: 0), shape: shape, epoch: 0,
                                logitGradient: gx, depthGradient: gd, maps: ObjectiveMaps(lossWeights: w))
                        }
                    }
                }
            }
        }
        #expect(Tolerance.lossMatches(objective.value, t.value), "\(name) weighing route")
        #expect(Tolerance.firstGradientMismatch(gradient, t.expectedGradient) == nil, "\(name) weighing route")
    }

    /// Docs/FocalLoss.md's example, as printed, against the focal formula by hand.
    @Test func documentationExampleRuns() throws {
        let shape = BatchShape(images: 1, classes: 3, height: 2, width: 2)
        let logits: [Float] = [2, -1, 0.5, 0, 0, 1, -2, 3, 1, 0, 0, -1]  // NCHW
        let labels: [Int32] = [0, 1, 255, 2]                              // 255 = ignore
        var gradient = [Float](repeating: 0, count: shape.logitCount)
        let focal = LabelSmoothedCrossEntropy(
            smoothing: .none, reduction: .sum, focal: FocalModulation(focusing: 2, classAlpha: [0.25, 1, 1]))
        let result = try focal.evaluate(logits: logits, labels: labels, shape: shape, gradient: &gradient)
        print(result.value)  // Σ α_label (1 − p_t)² (−log p_t) over the three labelled pixels

        // The paper's L_T with focal modulation and PolyLoss-1 on every pixel's loss.
        var configuration = ObjectiveConfiguration.paperPaced(totalEpochs: 40)
        configuration.focal = FocalModulation(focusing: 2)
        configuration.polyEpsilon = 1
        var expected = 0.0
        for (i, label) in labels.enumerated() where label != 255 {
            let column = (0..<3).map { Double(logits[$0 * 4 + i]) }
            let logSum = Foundation.log(column.map { Foundation.exp($0) }.reduce(0, +))
            let logP = column[Int(label)] - logSum
            let q = 1 - Foundation.exp(logP)
            expected += [0.25, 1, 1][Int(label)] * q * q * -logP
        }
        #expect(Tolerance.lossMatches(result.value, expected))
        #expect(configuration.focal?.focusing == 2 && configuration.polyEpsilon == 1)
    }

    /// The Float64 scalar reference against the NumPy reference.
    @Test(arguments: names)
    func scalarReferenceMatchesNumPy(name: String) {
        let g = Fixtures.weightingCase(name)
        let r = expectScalarReferenceMatches(g)
        #expect(Tolerance.firstGradientMismatch(r.depthGradient, g.expectedDepthGradient) == nil)
    }

    static let configurations: [(String, ObjectiveConfiguration)] = {
        var list: [(String, ObjectiveConfiguration)] = []
        for gamma in [0.5, 1, 2, 4.5] {
            var c = ObjectiveConfiguration.segmentationOnly
            c.smoothing = .none
            c.focal = FocalModulation(focusing: gamma)
            list.append(("focal γ=\(gamma)", c))
        }
        var alpha = ObjectiveConfiguration.segmentationOnly
        alpha.focal = FocalModulation(focusing: 2, classAlpha: [0.25, 1, 2, 0, 0.5])
        alpha.polyEpsilon = 1.5
        alpha.classWeights = [1, 2, 0.5, 1, 3]
        alpha.reduction = .mean
        list.append(("focal α, poly, class weights, pooled", alpha))
        var poly = ObjectiveConfiguration.segmentationOnly
        poly.polyEpsilon = 2
        list.append(("poly", poly))
        var hpm = ObjectiveConfiguration.paper
        hpm.focal = FocalModulation(focusing: 2)
        hpm.propagatesDepthPredictionErrorToDepth = true
        list.append(("L_HPM + focal", hpm))
        return list
    }()

    /// Central differences in Float64 of the scalar reference against its analytic gradient:
    /// the gradient through `(1 − p_t)^γ` and through PolyLoss-1's `ε (1 − p_t)` is exact.
    @Test(arguments: configurations.indices)
    func gradientMatchesFiniteDifferences(index: Int) {
        let (name, c) = Self.configurations[index]
        let (numeric, analytic) = FiniteDifferenceTests.gradients(c, seed: 7, logits: true)
        FiniteDifferenceTests.expectClose(numeric, analytic, "\(name) logit")
    }

    /// Holding the factor constant is a different gradient, and finite differences see it.
    @Test func heldConstantFactorDiffersFromTheExactGradient() {
        var c = ObjectiveConfiguration.segmentationOnly
        c.focal = FocalModulation(focusing: 2, gradient: .factorHeldConstant)
        let (numeric, analytic) = FiniteDifferenceTests.gradients(c, seed: 7, logits: true)
        #expect(numeric.indices.contains { abs(numeric[$0] - analytic[$0]) > 1e-5 })
    }

    /// The fast path against the Float64 reference on random batches, for both entry points.
    @Test(arguments: configurations.indices)
    func fastPathMatchesReference(index: Int) throws {
        let (name, c) = Self.configurations[index]
        for shape in [BatchShape(images: 2, classes: 5, height: 17, width: 9), BatchShape(images: 1, classes: 5, height: 1, width: 1)] {
            var random = TestRandom(seed: UInt64(shape.logitCount) + UInt64(index))
            let b = random.batch(shape)
            var gx = [Float](repeating: 0, count: shape.logitCount)
            var gd = [Float](repeating: 0, count: shape.pixelCount)
            let fast = try HardPixelMiningObjective(c, threadCount: 2).evaluate(
                logits: b.logits, labels: b.labels, predictedLogDepth: b.predicted, groundTruthDepth: b.depth,
                shape: shape, epoch: 12, logitGradient: &gx, depthGradient: &gd)
            let reference = ScalarReference.evaluate(
                logits: b.logits.map(Double.init), labels: b.labels, predictedLogDepth: b.predicted.map(Double.init),
                groundTruthDepth: b.depth.map(Double.init), shape: shape, configuration: c, epoch: 12)
            #expect(Tolerance.lossMatches(fast.value, reference.batch.objective), "\(name): \(fast.value) vs \(reference.batch.objective)")
            #expect(Tolerance.firstGradientMismatch(gx, reference.logitGradient) == nil, "\(name)")
            #expect(Tolerance.firstGradientMismatch(gd, reference.depthGradient) == nil, "\(name)")
        }
    }

    /// γ = 0 without α and ε = 0 is the cross-entropy itself, to the bit.
    @Test func zeroFocusingIsTheCrossEntropyBitwise() throws {
        let shape = BatchShape(images: 2, classes: 7, height: 9, width: 11)
        var random = TestRandom(seed: 3)
        let b = random.batch(shape)
        var plain = [Float](repeating: 0, count: shape.logitCount), focal = plain
        let a = try LabelSmoothedCrossEntropy().evaluate(logits: b.logits, labels: b.labels, shape: shape, gradient: &plain)
        let f = try LabelSmoothedCrossEntropy(focal: FocalModulation(focusing: 0)).evaluate(
            logits: b.logits, labels: b.labels, shape: shape, gradient: &focal)
        #expect(a.value == f.value)
        #expect(plain == focal)
    }

    /// No NaN or Inf for extreme finite logits: p_t = 1 exactly and p_t → 0, γ below and above 1,
    /// with smoothing (where the exact gradient at p_t = 1 has no bound for γ < 1 and saturates).
    @Test(arguments: [0.25, 0.5, 1, 2, 10])
    func extremeLogitsStayFinite(gamma: Double) throws {
        let shape = BatchShape(images: 1, classes: 3, height: 1, width: 4)
        // Pixel 0: label far ahead (p_t = 1); 1: label far behind (p_t → 0); 2: ±1e4, tied; 3: a tie.
        let logits: [Float] = [100, -1e4, 1e4, 5, -100, 1e4, -1e4, 5, -100, 0, 1e4, 0]
        let labels: [Int32] = [0, 0, 2, 1]
        for smoothing in [LabelSmoothing.none, .paperDefault] {
            for gradientKind in FocalModulation.Gradient.allCases {
                var g = [Float](repeating: .nan, count: shape.logitCount)
                let loss = LabelSmoothedCrossEntropy(
                    smoothing: smoothing, classWeights: [1e6, 1e6, 1e6], reduction: .sum,
                    focal: FocalModulation(focusing: gamma, classAlpha: [1e6, 1e6, 1e6], gradient: gradientKind), polyEpsilon: 1000)
                let r = try loss.evaluate(logits: logits, labels: labels, shape: shape, gradient: &g)
                #expect(r.value.isFinite)
                let finite = g.allSatisfy { $0.isFinite }, values = g
                #expect(finite, "γ \(gamma) \(smoothing) \(gradientKind): \(values)")
                var objective = ObjectiveConfiguration.paper
                objective.smoothing = smoothing
                objective.focal = loss.focal
                objective.polyEpsilon = 1000
                var gd = [Float](repeating: .nan, count: shape.pixelCount)
                let o = try HardPixelMiningObjective(objective).evaluate(
                    logits: logits, labels: labels, predictedLogDepth: [0, 1, 2, 3], groundTruthDepth: [2, 3, 40, 200],
                    shape: shape, epoch: 12, logitGradient: &g, depthGradient: &gd)
                #expect(o.value.isFinite)
                let objectiveFinite = g.allSatisfy { $0.isFinite } && gd.allSatisfy { $0.isFinite }
                #expect(objectiveFinite)
            }
        }
    }

    @Test func badParametersThrowNamingTheArgument() throws {
        let shape = BatchShape(images: 1, classes: 3, height: 2, width: 2)
        let logits = [Float](repeating: 0, count: shape.logitCount), labels: [Int32] = [0, 1, 2, 255]
        var g = [Float](repeating: 7, count: shape.logitCount)
        func expectError(_ loss: LabelSmoothedCrossEntropy, _ argument: String) {
            do {
                _ = try loss.evaluate(logits: logits, labels: labels, shape: shape, gradient: &g)
                Issue.record("no error for \(argument)")
            } catch let error as HardPixelMiningError {
                #expect(error.argument == argument, "\(error)")
            } catch { Issue.record("\(error)") }
            #expect(g.allSatisfy { $0 == 7 }, "\(argument): output touched")
        }
        for bad in [-1, 10.5, .nan, .infinity] {
            expectError(LabelSmoothedCrossEntropy(focal: FocalModulation(focusing: bad)), "focal.focusing")
            expectError(LabelSmoothedCrossEntropy(polyEpsilon: bad == 10.5 ? 1001 : bad), "polyEpsilon")
        }
        expectError(LabelSmoothedCrossEntropy(focal: FocalModulation(classAlpha: [1, 2])), "focal.classAlpha")
        expectError(LabelSmoothedCrossEntropy(focal: FocalModulation(classAlpha: [1, -2, 1])), "focal.classAlpha[1]")
        expectError(LabelSmoothedCrossEntropy(mining: .topFraction(0.5), focal: FocalModulation()), "focal")
        var c = ObjectiveConfiguration.paper
        c.focal = FocalModulation(focusing: 11)
        #expect(throws: HardPixelMiningError.self) {
            _ = try HardPixelMiningObjective(c).evaluate(logits: logits, labels: labels, shape: shape)
        }
        // Focal on the weight map from argmax predictions: no probabilities there.
        c.focal = FocalModulation()
        do {
            _ = try PixelLossWeights(c).weights(
                predictions: [0, 1, 2, 0], labels: labels, predictedLogDepth: [0, 0, 0, 0],
                groundTruthDepth: [2, 2, 2, 2], shape: shape, epoch: 12)
            Issue.record("focal accepted by PixelLossWeights")
        } catch let error as HardPixelMiningError {
            #expect(error.argument == "configuration.focal")
        }
    }
}

/// The objective on a weighting case (its caller's map included), against the reference.
func expectObjectiveMatches(_ g: GoldenCase, threads: Int = 1) throws {
    let shape = g.batchShape
    var logitGradient = [Float](repeating: .nan, count: shape.logitCount)
    var depthGradient = [Float](repeating: .nan, count: shape.pixelCount)
    let result = try HardPixelMiningObjective(g.configuration, threadCount: threads).evaluate(
        logits: g.logitValues, labels: g.labelValues, predictedLogDepth: g.predictedLogDepth,
        groundTruthDepth: g.groundTruthDepth, shape: shape, epoch: g.epoch,
        logitGradient: &logitGradient, depthGradient: &depthGradient, pixelWeightMap: g.pixelWeightMap)
    expectWeightingCase(result, logitGradient, depthGradient, g, "\(g.name) objective")
}

func expectWeightingCase(
    _ result: ObjectiveResult, _ logitGradient: [Float], _ depthGradient: [Float]?, _ g: GoldenCase, _ context: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    expectTerms(result.batch, g.batch, "\(context) batch", sourceLocation: sourceLocation)
    #expect(Tolerance.lossMatches(result.batch.pixelWeightMap, g.batch.map ?? 0), "\(context) L_M", sourceLocation: sourceLocation)
    for (k, (actual, expected)) in zip(result.images, g.images).enumerated() {
        expectTerms(actual, expected, "\(context) image \(k)", sourceLocation: sourceLocation)
        let s = result.sums[k], e = expected.sums!
        #expect(Tolerance.lossMatches(s.crossEntropySum, e.ce_sum), "\(context) Σ loss", sourceLocation: sourceLocation)
        #expect(Tolerance.lossMatches(s.pixelWeightMapSum, e.m_weighted ?? 0), "\(context) Σ map", sourceLocation: sourceLocation)
        if let counted = e.m_counted { #expect(s.countedPixelWeightMapPixels == counted, sourceLocation: sourceLocation) }
        expectPace(s.pixelWeightMapPace, e.eta_m, sourceLocation: sourceLocation)
    }
    let mismatch = Tolerance.firstGradientMismatch(logitGradient, g.expectedLogitGradient)
    #expect(mismatch == nil, "\(context) logit gradient \(String(describing: mismatch))", sourceLocation: sourceLocation)
    if let depthGradient {
        let depthMismatch = Tolerance.firstGradientMismatch(depthGradient, g.expectedDepthGradient)
        #expect(depthMismatch == nil, "\(context) depth gradient \(String(describing: depthMismatch))", sourceLocation: sourceLocation)
    }
}
