import Foundation
import HardPixelMining
import HardPixelMiningReference
import HardPixelMiningTestSupport
import Testing

/// `ErrorPrediction`: the error-prediction losses against the float64 reference, finite
/// differences, and bad input.
@Suite struct ErrorPredictionTests {
    @Test(arguments: Fixtures.errorPredictionCases.indices)
    func matchesReference(index: Int) throws {
        let g = Fixtures.errorPredictionCases[index]
        let e = ErrorPrediction()
        let map = try e.errorMap(segmentationLogits: g.segmentationLogits, labels: g.labelValues, shape: g.batchShape)
        #expect(map == g.expectedErrorMap)
        var gradient = [Float](repeating: .nan, count: g.batchShape.pixelCount)
        let loss = try e.balancedLoss(
            errorLogits: g.errorLogits, segmentationLogits: g.segmentationLogits, labels: g.labelValues,
            shape: g.batchShape, gradient: &gradient)
        #expect(Tolerance.lossMatches(loss.value, g.value))
        for k in g.images.indices {
            #expect(Tolerance.lossMatches(loss.images[k], g.images[k]))
            #expect(abs(loss.errorFractions[k] - g.fractions[k]) < 1e-12)
        }
        #expect(Tolerance.firstGradientMismatch(gradient, g.expectedGradient) == nil)
        #expect(try e.detailWeights(errorLogits: g.errorLogits) == g.expectedDetailWeights)
        let fused = try e.fuse(
            segmentationLogits: g.segmentationLogits, detailLogits: g.detailLogits, errorLogits: g.errorLogits,
            shape: g.batchShape)
        #expect(Tolerance.firstGradientMismatch(fused, g.expectedFused) == nil)
        let m = try e.metrics(
            errorLogits: g.errorLogits, segmentationLogits: g.segmentationLogits, labels: g.labelValues, shape: g.batchShape)
        #expect(m.errorIoU == g.iou || abs((m.errorIoU ?? -1) - (g.iou ?? -2)) < 1e-12)
        #expect(m.hardRecall == g.hard_recall || abs((m.hardRecall ?? -1) - (g.hard_recall ?? -2)) < 1e-12)
    }

    /// The fixtures contain easy and hard errors, and predicted and missed ones.
    @Test func fixturesAreNotVacuous() {
        let g = Fixtures.errorPredictionCases
        #expect(g.contains { ($0.hard_recall ?? 0) > 0 } && g.contains { ($0.iou ?? 1) < 1 })
    }

    /// The balanced BCE's gradient in the error logits by central differences (Float64, with the
    /// BCE written out here: the weights depend only on the segmentation logits).
    @Test func gradientMatchesFiniteDifferences() throws {
        let g = Fixtures.errorPredictionCases[0]
        var gradient = [Float](repeating: 0, count: g.batchShape.pixelCount)
        let e = ErrorPrediction()
        _ = try e.balancedLoss(errorLogits: g.errorLogits, segmentationLogits: g.segmentationLogits, labels: g.labelValues, shape: g.batchShape, gradient: &gradient)
        let map = try e.errorMap(segmentationLogits: g.segmentationLogits, labels: g.labelValues, shape: g.batchShape)
        // Per-pixel weights from the reference's fractions and the gradient's own sign structure are
        // not needed: recompute L(z) = mean_k (1/n_k) Σ w_i BCE(z_i) with weights w_i = ∂L/∂z_i / (σ − E*).
        let n = g.batchShape.images, hw = g.batchShape.pixelsPerImage
        let labels = g.labelValues
        let z0 = g.errorLogits.map(Double.init)
        func sigmoid(_ z: Double) -> Double { 1 / (1 + exp(-z)) }
        let weights: [Double] = z0.indices.map { i in
            labels[i] == 255 ? 0 : Double(gradient[i]) / (sigmoid(z0[i]) - (map[i] ? 1 : 0))
        }
        func f(_ z: [Double]) -> Double {
            var total = 0.0
            for k in 0..<n {
                for i in (k * hw)..<((k + 1) * hw) where labels[i] != 255 {
                    let t = map[i] ? 1.0 : 0.0
                    total += weights[i] * (max(z[i], 0) - z[i] * t + log1p(exp(-abs(z[i]))))
                }
            }
            return total
        }
        let numeric = FiniteDifference.gradient(of: f, at: z0, indices: Array(z0.indices))
        for i in z0.indices {
            #expect(abs(numeric[i] - Double(gradient[i])) <= 1e-6, "pixel \(i)")
        }
        // The weights recovered from the gradient are the scheme's: w1, w2 or the error fraction, / (N n).
        let allowed = Set([1.0, 1.5])
        for i in z0.indices where labels[i] != 255 && map[i] {
            let k = i / hw
            let nk = Double((k * hw..<(k + 1) * hw).filter { labels[$0] != 255 }.count)
            let w = (weights[i] * Double(n) * nk * 1e4).rounded() / 1e4
            #expect(allowed.contains(w), "weight \(w)")
        }
    }

    @Test func badInput() {
        var e = ErrorPrediction()
        let shape = BatchShape(images: 1, classes: 2, height: 1, width: 2)
        var g = [Float](repeating: 3, count: 2)
        #expect(throws: HardPixelMiningError.nonFiniteValue(argument: "errorLogits", index: 1, value: .infinity)) {
            try e.balancedLoss(errorLogits: [0, .infinity], segmentationLogits: [0, 1, 2, 3], labels: [0, 1], shape: shape, gradient: &g)
        }
        let caught = #expect(throws: HardPixelMiningError.self) {
            try e.balancedLoss(errorLogits: [0, 1], segmentationLogits: [0, .nan, 2, 3], labels: [0, 1], shape: shape, gradient: &g)
        }
        #expect(caught?.argument == "segmentationLogits")
        #expect(throws: HardPixelMiningError.wrongCount(argument: "gradient", expected: 2, actual: 1)) {
            var short: [Float] = [3]
            _ = try e.balancedLoss(errorLogits: [0, 1], segmentationLogits: [0, 1, 2, 3], labels: [0, 1], shape: shape, gradient: &short)
        }
        #expect(g == [3, 3])
        e.threshold = 2
        #expect(throws: HardPixelMiningError.invalidParameter(argument: "threshold", value: 2, requirement: "in 0...1")) {
            try e.detailWeights(errorLogits: [0])
        }
    }
}
