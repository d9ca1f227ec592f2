import Foundation
import HardPixelMining
import HardPixelMiningReference
import HardPixelMiningTestSupport
import Testing

/// `MultiScaleObjective` and `SideOutputResampling`: against the float64 reference, finite
/// differences, and bad input.
@Suite struct MultiScaleTests {
    @Test(arguments: Fixtures.multiScaleCases.indices)
    func resamplingMatchesReference(index: Int) throws {
        let g = Fixtures.multiScaleCases[index]
        for o in g.outputs {
            let labels = try SideOutputResampling.labels(g.labelValues, shape: g.batchShape.pixelMap, height: o.height, width: o.width)
            #expect(labels == o.expectedLabels)
            let depth = try SideOutputResampling.depth(g.depthValues, shape: g.batchShape.pixelMap, height: o.height, width: o.width)
            #expect(depth.map(\.bitPattern) == o.expectedDepth.map(\.bitPattern))
            let weights = try SideOutputResampling.weights(g.weightsMap, shape: g.batchShape.pixelMap, height: o.height, width: o.width)
            #expect(Tolerance.firstGradientMismatch(weights, o.expectedWeights) == nil)
        }
    }

    @Test(arguments: Fixtures.multiScaleCases.indices)
    func objectiveOverSideOutputsMatchesReference(index: Int) throws {
        let g = Fixtures.multiScaleCases[index]
        let outputs = g.outputs.map {
            SideOutput(logits: $0.logitValues, predictedLogDepth: $0.predictedLogDepth, height: $0.height, width: $0.width, weight: $0.weight)
        }
        var gx = outputs.map { [Float](repeating: .nan, count: $0.logits.count) }
        var gd = outputs.map { [Float](repeating: .nan, count: $0.height * $0.width * g.shape.images) }
        let r = try MultiScaleObjective(g.config.configuration).evaluate(
            outputs: outputs, labels: g.labelValues, groundTruthDepth: g.depthValues, shape: g.batchShape,
            epoch: g.epoch, logitGradients: &gx, depthGradients: &gd)
        #expect(Tolerance.lossMatches(r.value, g.total), "\(r.value) vs \(g.total)")
        for (s, o) in g.outputs.enumerated() {
            #expect(Tolerance.lossMatches(r.outputs[s].value, o.value))
            #expect(Tolerance.firstGradientMismatch(gx[s], o.expectedLogitGradient) == nil)
            #expect(Tolerance.firstGradientMismatch(gd[s], o.expectedDepthGradient) == nil)
        }
    }

    /// Σ λ_s L(s) is differentiable in each output's logits as each L(s) is: checked by central
    /// differences on the Float64 scalar reference, with the resampled labels and depth.
    @Test func weightedSumGradientMatchesFiniteDifferences() throws {
        let g = Fixtures.multiScaleCases[0]
        let o = g.outputs[1]
        let side = BatchShape(images: g.shape.images, classes: g.shape.classes, height: o.height, width: o.width)
        var c = g.config.configuration
        c.propagatesDepthPredictionErrorToDepth = true
        let labels = try SideOutputResampling.labels(g.labelValues, shape: g.batchShape.pixelMap, height: o.height, width: o.width)
        let depth = try SideOutputResampling.depth(g.depthValues, shape: g.batchShape.pixelMap, height: o.height, width: o.width).map(Double.init)
        let predicted = o.predictedLogDepth.map(Double.init)
        func f(_ x: [Double]) -> Double {
            o.weight * ScalarReference.evaluate(logits: x, labels: labels, predictedLogDepth: predicted, groundTruthDepth: depth,
                                                shape: side, configuration: c, epoch: g.epoch).batch.objective
        }
        let x = o.logitValues.map(Double.init)
        let analytic = ScalarReference.evaluate(logits: x, labels: labels, predictedLogDepth: predicted, groundTruthDepth: depth,
                                                shape: side, configuration: c, epoch: g.epoch).logitGradient.map { o.weight * $0 }
        let indices = Array(stride(from: 0, to: x.count, by: 7))
        let numeric = FiniteDifference.gradient(of: f, at: x, indices: indices)
        for (n, i) in indices.enumerated() {
            #expect(abs(numeric[n] - analytic[i]) <= 1e-7, "logit \(i)")
        }
    }

    @Test func badInputWritesNothing() throws {
        let g = Fixtures.multiScaleCases[0]
        var outputs = g.outputs.map {
            SideOutput(logits: $0.logitValues, predictedLogDepth: $0.predictedLogDepth, height: $0.height, width: $0.width, weight: $0.weight)
        }
        outputs[2].logits[3] = .nan
        var gx = outputs.map { [Float](repeating: 9, count: $0.logits.count) }
        var gd = outputs.map { [Float](repeating: 9, count: $0.height * $0.width * g.shape.images) }
        #expect(throws: HardPixelMiningError.self) {
            try MultiScaleObjective().evaluate(outputs: outputs, labels: g.labelValues, groundTruthDepth: g.depthValues,
                                               shape: g.batchShape, epoch: 12, logitGradients: &gx, depthGradients: &gd)
        }
        #expect(gx.allSatisfy { $0.allSatisfy { $0 == 9 } } && gd.allSatisfy { $0.allSatisfy { $0 == 9 } })
        outputs[2].logits[3] = 0
        outputs[1].weight = .infinity
        let e = #expect(throws: HardPixelMiningError.self) {
            try MultiScaleObjective().evaluate(outputs: outputs, labels: g.labelValues, groundTruthDepth: g.depthValues,
                                               shape: g.batchShape, epoch: 12, logitGradients: &gx, depthGradients: &gd)
        }
        #expect(e?.argument == "outputs[1].weight")
        #expect(throws: HardPixelMiningError.invalidDimension(argument: "height", value: 0, requirement: "in 1...16 × \(g.batchShape.height)")) {
            try SideOutputResampling.labels(g.labelValues, shape: g.batchShape.pixelMap, height: 0, width: 3)
        }
    }
}
