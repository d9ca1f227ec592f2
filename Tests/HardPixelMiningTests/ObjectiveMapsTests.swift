import HardPixelMining
import HardPixelMiningTestSupport
import Testing

/// The objective's per-pixel maps (W, ce, wR, wZ) against the float64 reference, and left
/// untouched when the call throws.
@Suite struct ObjectiveMapsTests {
    static let names = Fixtures.objectiveCases.filter { $0.pixelWeights == nil }.map(\.name)

    @Test(arguments: names)
    func mapsMatchTheReference(name: String) throws {
        let g = Fixtures.objectiveCase(name)
        let c = g.configuration
        let n = g.batchShape.pixelCount
        var maps: PixelMapArrays? = PixelMapArrays(count: n, filledWith: 9)
        var noGradient: [Float]? = nil, noDepthGradient: [Float]? = nil
        let result = try HardPixelMiningObjective(c).evaluateThroughPointers(
            logits: g.logitValues, labels: g.labelValues, predictedLogDepth: g.predictedLogDepth,
            groundTruthDepth: g.groundTruthDepth, shape: g.batchShape, epoch: g.epoch,
            logitGradient: &noGradient, depthGradient: &noDepthGradient, maps: &maps)
        let (w, ce, wR, wZ) = (maps!.lossWeights, maps!.pixelLosses, maps!.depthPredictionError, maps!.segmentationError)
        #expect(Tolerance.lossMatches(result.value, g.batch.objective))
        #expect(Tolerance.firstGradientMismatch(w, g.expectedPixelLossWeights) == nil, "W")
        // ce per pixel: relative 1e-5, or 1e-5 absolute for losses near 0 (a Float per pixel).
        let expectedCE = g.expectedPixelLosses
        let ceMismatch = (0..<n).first { i in
            let (a, e) = (Double(ce[i]), expectedCE[i])
            return abs(a - e) > Swift.max(1e-5 * abs(e), 1e-5)
        }
        #expect(ceMismatch == nil, "ce")
        let expectedR = c.usesDepthPredictionErrorMap ? g.expectedDepthPredictionErrorWeights : Array(repeating: 0, count: n)
        let expectedZ = c.usesSegmentationErrorMap ? g.expectedSegmentationErrorWeights : Array(repeating: 0, count: n)
        #expect(Tolerance.firstGradientMismatch(wR, expectedR) == nil, "wR")
        #expect(Tolerance.firstGradientMismatch(wZ, expectedZ) == nil, "wZ")
    }
}

extension ObjectiveConfiguration {
    /// Whether the objective's wR map is non-zero (L_R on).
    var usesDepthPredictionErrorMap: Bool { !depthPredictionErrorWeight.isAlwaysZero }
    /// Whether the objective's wZ map is non-zero (L_Z on).
    var usesSegmentationErrorMap: Bool { segmentationErrorWeight != 0 }
}
