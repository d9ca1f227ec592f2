import Foundation
import HardPixelMining
import HardPixelMiningReference
import HardPixelMiningTestSupport
import Testing

/// Loss-rank hard mining and DepthMix against the float64 reference, finite
/// differences, and bad input.
@Suite struct MinedCrossEntropyTests {
    static let names = Fixtures.minedCases.map(\.name)

    @Test(arguments: names)
    func minedCrossEntropyMatchesReference(name: String) throws {
        let g = Fixtures.minedCases.first { $0.name == name }!
        var gradient = [Float](repeating: .nan, count: g.batchShape.logitCount)
        let ce = LabelSmoothedCrossEntropy(smoothing: g.labelSmoothing, mining: g.pixelMining)
        let r = try ce.evaluate(logits: g.logitValues, labels: g.labelValues, shape: g.batchShape, gradient: &gradient)
        #expect(Tolerance.lossMatches(r.value, g.batch), "\(r.value) vs \(g.batch)")
        for (k, image) in g.images.enumerated() {
            #expect(r.sums[k].minedPixels == image.selected)
            #expect(Tolerance.lossMatches(r.images[k], image.loss))
        }
        #expect(Tolerance.firstGradientMismatch(gradient, g.expectedGradient) == nil)
        // The Float64 scalar reference (selection by sorting) agrees too.
        let reference = ScalarReference.minedCrossEntropy(
            logits: g.logitValues.map(Double.init), labels: g.labelValues, shape: g.batchShape,
            smoothing: g.labelSmoothing, mining: g.pixelMining)
        #expect(Tolerance.lossMatches(reference.value, g.batch))
        #expect(Tolerance.firstGradientMismatch(reference.gradient, g.expectedGradient) == nil)
    }

    @Test(arguments: [PixelMining.topFraction(0.3), .probabilityBelow(threshold: 0.4, minimumKept: 5)])
    func gradientMatchesFiniteDifferences(mining: PixelMining) {
        let shape = BatchShape(images: 2, classes: 4, height: 3, width: 5)
        var random = TestRandom(seed: 21)
        let b = random.batch(shape)
        let logits = b.logits.map(Double.init)
        func f(_ x: [Double]) -> Double {
            ScalarReference.minedCrossEntropy(logits: x, labels: b.labels, shape: shape, smoothing: .paperDefault, mining: mining).value
        }
        let analytic = ScalarReference.minedCrossEntropy(
            logits: logits, labels: b.labels, shape: shape, smoothing: .paperDefault, mining: mining).gradient
        let numeric = FiniteDifference.gradient(of: f, at: logits, indices: Array(logits.indices))
        for i in logits.indices {
            #expect(abs(numeric[i] - analytic[i]) <= 1e-7, "logit \(i): \(numeric[i]) vs \(analytic[i])")
        }
    }

    @Test func badMiningParameters() throws {
        let shape = BatchShape(images: 1, classes: 3, height: 2, width: 2)
        let logits = [Float](repeating: 0, count: 12), labels: [Int32] = [0, 1, 2, 0]
        var g = [Float](repeating: 7, count: 12)
        #expect(throws: HardPixelMiningError.invalidParameter(argument: "mining.fraction", value: 0, requirement: "in (0, 1]")) {
            try LabelSmoothedCrossEntropy(mining: .topFraction(0)).evaluate(logits: logits, labels: labels, shape: shape, gradient: &g)
        }
        let nanThreshold = #expect(throws: HardPixelMiningError.self) {
            try LabelSmoothedCrossEntropy(mining: .probabilityBelow(threshold: .nan, minimumKept: 1)).evaluate(logits: logits, labels: labels, shape: shape, gradient: &g)
        }
        #expect(nanThreshold?.argument == "mining.threshold")
        #expect(throws: HardPixelMiningError.invalidDimension(argument: "mining.minimumKept", value: -1, requirement: ">= 0")) {
            try LabelSmoothedCrossEntropy(mining: .probabilityBelow(threshold: 0.7, minimumKept: -1)).evaluate(logits: logits, labels: labels, shape: shape, gradient: &g)
        }
        #expect(g.allSatisfy { $0 == 7 })
    }
}

@Suite struct DepthMixTests {
    @Test(arguments: Fixtures.depthMixCases.indices)
    func mixMatchesReference(index: Int) throws {
        let g = Fixtures.depthMixCases[index]
        let mixed = try DepthMix(margin: g.margin).mix(
            images: g.imageValues, channels: g.channels, labels: g.labelValues, depth: g.depthValues,
            shape: g.batchShape.pixelMap, partners: g.partners)
        #expect(mixed.masks == g.expectedMasks)
        #expect(mixed.images.map(\.bitPattern) == g.expectedImages.map(\.bitPattern))
        #expect(mixed.labels == g.expectedLabels)
        #expect(mixed.depth.map(\.bitPattern) == g.expectedDepth.map(\.bitPattern))
    }

    /// The fixtures exercise both outcomes of the mask.
    @Test func fixturesKeepAndReplacePixels() {
        let masks = Fixtures.depthMixCases.flatMap(\.expectedMasks)
        #expect(masks.contains(true) && masks.contains(false))
    }

    @Test func maskOfOnePair() throws {
        let mix = DepthMix(margin: 0.5)
        let m = try mix.mask(depth: [2, 5, .nan, 3, 0, 10], partnerDepth: [3, 4, 1, .nan, .nan, 9.6])
        #expect(m == [true, false, false, true, false, true])
    }

    @Test func badInput() {
        let shape = PixelMapShape(images: 2, height: 1, width: 2)
        let mix = DepthMix()
        #expect(throws: HardPixelMiningError.invalidDimension(argument: "partners[1]", value: 0, requirement: "a permutation of 0..<2")) {
            try mix.mix(images: [1, 2, 3, 4], channels: 1, labels: [0, 0, 0, 0], depth: [1, 1, 1, 1], shape: shape, partners: [0, 0])
        }
        #expect(throws: HardPixelMiningError.wrongCount(argument: "images", expected: 12, actual: 4)) {
            try mix.mix(images: [1, 2, 3, 4], channels: 3, labels: [0, 0, 0, 0], depth: [1, 1, 1, 1], shape: shape, partners: [1, 0])
        }
        #expect(throws: HardPixelMiningError.invalidDimension(argument: "channels", value: 0, requirement: ">= 1")) {
            try mix.mix(images: [], channels: 0, labels: [0, 0, 0, 0], depth: [1, 1, 1, 1], shape: shape, partners: [1, 0])
        }
        #expect(throws: HardPixelMiningError.invalidParameter(argument: "margin", value: .infinity, requirement: "finite")) {
            try DepthMix(margin: .infinity).mask(depth: [1], partnerDepth: [2])
        }
        #expect(throws: HardPixelMiningError.wrongCount(argument: "partnerDepth", expected: 1, actual: 2)) {
            try mix.mask(depth: [1], partnerDepth: [2, 3])
        }
    }
}

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
