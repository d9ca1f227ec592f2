import HardPixelMining
import HardPixelMiningReference
import HardPixelMiningTestSupport
import Testing

/// The public objective against the float64 NumPy reference (Tests/Fixtures/objective.json).
@Suite struct HardPixelMiningObjectiveTests {
    static let names = Fixtures.objectiveCases.map(\.name)

    @Test(arguments: names)
    func objectiveMatchesReference(name: String) throws {
        let g = Fixtures.objectiveCase(name)
        let shape = g.batchShape
        var logitGradient = [Float](repeating: .nan, count: shape.logitCount)
        var depthGradient = [Float](repeating: .nan, count: shape.pixelCount)
        let objective = HardPixelMiningObjective(g.configuration)
        if let weights = g.pixelWeights {
            // Pixel weights belong to the cross-entropy entry point.
            let c = g.configuration
            let result = try LabelSmoothedCrossEntropy(
                smoothing: c.smoothing, classWeights: c.classWeights, reduction: c.reduction
            ).evaluate(
                logits: g.logitValues, labels: g.labelValues, shape: shape, pixelWeights: weights,
                gradient: &logitGradient)
            expectCrossEntropyTerms(result, g, name)
            #expect(Tolerance.firstGradientMismatch(logitGradient, g.expectedLogitGradient) == nil, "\(name) gradient")
            return
        }
        let result = try objective.evaluate(
            logits: g.logitValues, labels: g.labelValues, predictedLogDepth: g.predictedLogDepth,
            groundTruthDepth: g.groundTruthDepth, shape: shape, epoch: g.epoch,
            logitGradient: &logitGradient, depthGradient: &depthGradient)
        expectTerms(result.batch, g.batch, "\(name) batch")
        for (k, (actual, expected)) in zip(result.images, g.images).enumerated() {
            expectTerms(actual, expected, "\(name) image \(k)")
            let s = result.sums[k], e = expected.sums!
            #expect(s.labelledPixels == e.n)
            if g.configuration.needsGroundTruthDepth && g.pixelWeights == nil {
                #expect(s.depthPixels == e.nd)
                #expect(s.eligiblePixels == e.eligible)
            }
            #expect(Tolerance.lossMatches(s.crossEntropySum, e.ce_sum))
            if let w = e.label_weight_sum, g.configuration.classWeights != nil {
                #expect(s.labelWeightSum.map { Tolerance.lossMatches($0, w) } == true)
            }
            #expect(s.pooledDivisor.map { Tolerance.lossMatches($0, e.pooled_divisor ?? .nan) } ?? (e.pooled_divisor == nil))
            #expect(Tolerance.lossMatches(s.depthPredictionErrorSum, e.r_weighted))
            #expect(Tolerance.lossMatches(s.segmentationErrorSum, e.z_weighted))
            expectPace(s.depthPredictionErrorPace, e.eta_r)
            expectPace(s.segmentationErrorPace, e.eta_z)
            expectPace(s.segmentationPace, e.eta_s)
        }
        let mismatch = Tolerance.firstGradientMismatch(logitGradient, g.expectedLogitGradient)
        #expect(mismatch == nil, "logit gradient \(String(describing: mismatch))")
        if g.pixelWeights == nil {
            let depthMismatch = Tolerance.firstGradientMismatch(depthGradient, g.expectedDepthGradient)
            #expect(depthMismatch == nil, "depth gradient \(String(describing: depthMismatch))")
        }
    }

    /// The Float64 scalar reference against the NumPy reference: two independent
    /// implementations of the same equations agree to rounding.
    @Test(arguments: names)
    func scalarReferenceMatchesNumPy(name: String) {
        let g = Fixtures.objectiveCase(name)
        let r = expectScalarReferenceMatches(g)
        #expect(Tolerance.firstGradientMismatch(r.depthGradient, g.expectedDepthGradient) == nil)
        #expect(Tolerance.firstGradientMismatch(r.segmentationErrorWeights, g.expectedSegmentationErrorWeights) == nil)
    }
}

/// The cross-entropy's result against a segmentation-only golden case: L_seg of the batch and
/// of each image (the objective is L_seg there), and each image's counts and sums.
func expectCrossEntropyTerms(_ r: CrossEntropyResult, _ g: GoldenCase, _ context: String,
                             sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(Tolerance.lossMatches(r.value, g.batch.segmentation), "\(context) L_seg \(r.value) vs \(g.batch.segmentation)", sourceLocation: sourceLocation)
    #expect(Tolerance.lossMatches(r.value, g.batch.objective), "\(context) L", sourceLocation: sourceLocation)
    #expect(r.images.count == g.images.count, sourceLocation: sourceLocation)
    for (k, (actual, expected)) in zip(r.images, g.images).enumerated() {
        #expect(Tolerance.lossMatches(actual, expected.segmentation), "\(context) image \(k) L_seg", sourceLocation: sourceLocation)
        guard let e = expected.sums else { continue }
        #expect(r.sums[k].labelledPixels == e.n, "\(context) image \(k) n", sourceLocation: sourceLocation)
        #expect(Tolerance.lossMatches(r.sums[k].crossEntropySum, e.ce_sum), "\(context) image \(k) Σ loss", sourceLocation: sourceLocation)
        if let w = e.label_weight_sum, g.configuration.classWeights != nil {
            #expect(r.sums[k].labelWeightSum.map { Tolerance.lossMatches($0, w) } == true, sourceLocation: sourceLocation)
        }
    }
}

func expectTerms(_ a: ObjectiveTerms, _ e: GoldenCase.Terms, _ context: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(Tolerance.lossMatches(a.segmentation, e.segmentation), "\(context) L_seg \(a.segmentation) vs \(e.segmentation)", sourceLocation: sourceLocation)
    #expect(Tolerance.lossMatches(a.depth, e.depth), "\(context) L_dep \(a.depth) vs \(e.depth)", sourceLocation: sourceLocation)
    #expect(Tolerance.lossMatches(a.depthPredictionError, e.dpe), "\(context) L_R \(a.depthPredictionError) vs \(e.dpe)", sourceLocation: sourceLocation)
    #expect(Tolerance.lossMatches(a.segmentationError, e.dse), "\(context) L_Z \(a.segmentationError) vs \(e.dse)", sourceLocation: sourceLocation)
    #expect(Tolerance.lossMatches(a.objective, e.objective), "\(context) L \(a.objective) vs \(e.objective)", sourceLocation: sourceLocation)
}

/// The Float64 scalar reference on `g` against the NumPy reference's batch terms and logit
/// gradient; returns the reference's output for further checks.
@discardableResult
func expectScalarReferenceMatches(
    _ g: GoldenCase, sourceLocation: SourceLocation = #_sourceLocation
) -> ScalarReference.Output<Double> {
    let r = g.scalarReference()
    expectTerms(r.batch, g.batch, "\(g.name) reference batch", sourceLocation: sourceLocation)
    #expect(Tolerance.firstGradientMismatch(r.logitGradient, g.expectedLogitGradient) == nil, sourceLocation: sourceLocation)
    return r
}

func expectPace(_ actual: Double?, _ expected: Double?, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect((actual == nil) == (expected == nil), "pace \(String(describing: actual)) vs \(String(describing: expected))", sourceLocation: sourceLocation)
    if let actual, let expected {
        #expect(Tolerance.lossMatches(actual, expected), "pace \(actual) vs \(expected)", sourceLocation: sourceLocation)
    }
}
