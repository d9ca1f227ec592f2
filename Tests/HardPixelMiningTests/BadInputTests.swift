import HardPixelMining
import HardPixelMiningTestSupport
import Testing

/// SPEC §5: every rule throws the typed error naming the argument and the offending
/// value or index, and leaves every output buffer untouched — but a non-finite logit, found
/// while an overwritten logit gradient is being written, which leaves that gradient zero-filled.
@Suite struct BadInputTests {
    static let shape = BatchShape(images: 2, classes: 4, height: 3, width: 5)
    static let sentinel: Float = 12345

    struct Inputs {
        var logits: [Float]
        var labels: [Int32]
        var predicted: [Float]
        var depth: [Float]
        var shape = BadInputTests.shape
        var configuration = ObjectiveConfiguration.paperPaced(totalEpochs: 10)
        var epoch = 3.0
        var logitGradientCount = BadInputTests.shape.logitCount
        var depthGradientCount = BadInputTests.shape.pixelCount
        var threadCount = 1
    }

    static func valid() -> Inputs {
        var random = TestRandom(seed: 3)
        let b = random.batch(shape)
        return Inputs(logits: b.logits, labels: b.labels, predicted: b.predicted, depth: b.depth)
    }

    /// Runs the objective and returns the thrown error, checking the gradients stayed untouched
    /// (the logit gradient zero-filled on a non-finite logit).
    static func error(_ i: Inputs) -> HardPixelMiningError? {
        var gx = [Float](repeating: sentinel, count: i.logitGradientCount)
        var gd = [Float](repeating: sentinel, count: i.depthGradientCount)
        do {
            _ = try HardPixelMiningObjective(i.configuration, threadCount: i.threadCount).evaluate(
                logits: i.logits, labels: i.labels, predictedLogDepth: i.predicted, groundTruthDepth: i.depth,
                shape: i.shape, epoch: i.epoch, logitGradient: &gx, depthGradient: &gd)
            return nil
        } catch let e as HardPixelMiningError {
            if case .nonFiniteValue(argument: "logits", _, _) = e {
                #expect(gx.allSatisfy { $0 == 0 }, "logit gradient not zero-filled on \(e)")
            } else {
                #expect(gx.allSatisfy { $0 == sentinel }, "logit gradient written before \(e)")
            }
            #expect(gd.allSatisfy { $0 == sentinel }, "depth gradient written before \(e)")
            #expect(!e.description.isEmpty)
            return e
        } catch {
            Issue.record("untyped error \(error)")
            return nil
        }
    }

    @Test func validInputThrowsNothing() {
        #expect(Self.error(Self.valid()) == nil)
    }

    @Test func bufferSizes() {
        var i = Self.valid(); i.logits.removeLast()
        #expect(Self.error(i) == .wrongCount(argument: "logits", expected: 120, actual: 119))
        i = Self.valid(); i.labels.append(0)
        #expect(Self.error(i) == .wrongCount(argument: "labels", expected: 30, actual: 31))
        i = Self.valid(); i.predicted = []
        #expect(Self.error(i) == .wrongCount(argument: "predictedLogDepth", expected: 30, actual: 0))
        i = Self.valid(); i.depth.removeLast(3)
        #expect(Self.error(i) == .wrongCount(argument: "groundTruthDepth", expected: 30, actual: 27))
        i = Self.valid(); i.logitGradientCount = 7
        #expect(Self.error(i) == .wrongCount(argument: "logitGradient", expected: 120, actual: 7))
        i = Self.valid(); i.depthGradientCount = 31
        #expect(Self.error(i) == .wrongCount(argument: "depthGradient", expected: 30, actual: 31))
    }

    @Test func shapeDimensions() {
        var i = Self.valid(); i.shape.classes = 1
        #expect(Self.error(i) == .invalidDimension(argument: "shape.classes", value: 1, requirement: ">= 2"))
        i = Self.valid(); i.shape.images = 0
        #expect(Self.error(i) == .invalidDimension(argument: "shape.images", value: 0, requirement: ">= 1"))
        i = Self.valid(); i.shape.height = -2
        #expect(Self.error(i) == .invalidDimension(argument: "shape.height", value: -2, requirement: ">= 1"))
        i = Self.valid(); i.shape.width = 0
        #expect(Self.error(i) == .invalidDimension(argument: "shape.width", value: 0, requirement: ">= 1"))
        i = Self.valid(); i.shape.width = Int.max / 2
        #expect(Self.error(i)?.argument == "shape")
        i = Self.valid(); i.threadCount = 0
        #expect(Self.error(i) == .invalidDimension(argument: "threadCount", value: 0, requirement: "in 1...1024"))
    }

    @Test func labelsOutOfRange() {
        var i = Self.valid(); i.labels[17] = 4
        #expect(Self.error(i) == .labelOutOfRange(argument: "labels", index: 17, value: 4, classCount: 4, ignoreLabel: 255))
        i = Self.valid(); i.labels[3] = -1
        #expect(Self.error(i) == .labelOutOfRange(argument: "labels", index: 3, value: -1, classCount: 4, ignoreLabel: 255))
        i = Self.valid(); i.labels[0] = 254
        #expect(Self.error(i) == .labelOutOfRange(argument: "labels", index: 0, value: 254, classCount: 4, ignoreLabel: 255))
        i = Self.valid(); i.configuration.ignoreLabel = -1
        i.labels = i.labels.map { $0 == 255 ? 0 : $0 }; i.labels[5] = 255
        #expect(Self.error(i) == .labelOutOfRange(argument: "labels", index: 5, value: 255, classCount: 4, ignoreLabel: -1))
    }

    /// On two threads the labels and predicted log-depths are checked in chunks of 32,768
    /// elements in parallel: a bad element alone at a chunk's first or last element, in the
    /// short last chunk, or in the third chunk with another in the second, is found, and the
    /// first one is reported, by the objective and the cross-entropy.
    @Test(arguments: [[32_767], [32_768], [65_535], [99_999], [70_000, 50_000], [65_536, 65_535]])
    func parallelChecksReportTheFirstBadElement(badIndices: [Int]) throws {
        var i = Self.valid()
        i.shape = BatchShape(images: 2, classes: 3, height: 200, width: 250)
        i.logitGradientCount = i.shape.logitCount
        i.depthGradientCount = i.shape.pixelCount
        i.threadCount = 2
        var random = TestRandom(seed: 8)
        let b = random.batch(i.shape)
        (i.logits, i.labels, i.predicted, i.depth) = (b.logits, b.labels, b.predicted, b.depth)
        #expect(Self.error(i) == nil)
        let expected = badIndices.min()!

        var bad = i
        for (n, index) in badIndices.enumerated() { bad.labels[index] = n == 0 ? 3 : -7 }
        let value = bad.labels[expected]
        #expect(Self.error(bad) == .labelOutOfRange(argument: "labels", index: expected, value: value, classCount: 3, ignoreLabel: 255))
        var gradient = [Float](repeating: Self.sentinel, count: bad.shape.logitCount)
        let crossEntropy = LabelSmoothedCrossEntropy(threadCount: 2)
        #expect(throws: HardPixelMiningError.labelOutOfRange(
            argument: "labels", index: expected, value: value, classCount: 3, ignoreLabel: 255)) {
            try crossEntropy.evaluate(logits: bad.logits, labels: bad.labels, shape: bad.shape, gradient: &gradient)
        }
        #expect(gradient.allSatisfy { $0 == Self.sentinel })

        bad = i
        for (n, index) in badIndices.enumerated() { bad.predicted[index] = n == 0 ? .nan : .infinity }
        guard case .nonFiniteValue(argument: "predictedLogDepth", let index, let v)? = Self.error(bad) else {
            Issue.record("expected nonFiniteValue"); return
        }
        #expect(index == expected && v.isNaN == (expected == badIndices[0]))
    }

    @Test(arguments: [Float.nan, .infinity, -.infinity])
    func nonFiniteLogitsReportTheFirstIndex(value: Float) {
        var i = Self.valid(); i.logits[77] = value; i.logits[100] = value
        let e = Self.error(i)
        guard case .nonFiniteValue(let argument, let index, let v)? = e else {
            Issue.record("expected nonFiniteValue, got \(String(describing: e))"); return
        }
        #expect(argument == "logits" && index == 77)
        #expect(v.isNaN == value.isNaN && (value.isNaN || v == value))
        // The same with two threads and in the first image's last class plane.
        i = Self.valid(); i.threadCount = 2; i.logits[59] = value
        if case .nonFiniteValue(_, let index, _)? = Self.error(i) { #expect(index == 59) } else { Issue.record("no error") }
    }

    /// The one-pass cross-entropy reads Float NCHW logits in place where it streams its gradient
    /// (no copy checks them), over columns that overlap where a tile starts or ends off a vector
    /// boundary: a NaN, +∞ or −∞ (the one a softmax hides: its exponential is 0) at any pixel and
    /// class — head, aligned or tail column — is found, reported at its index, and the gradient
    /// is zero-filled. 35 pixels: not a whole number of vectors for any lane count.
    @Test(arguments: [Float.nan, .infinity, -.infinity])
    func onePassCrossEntropyFindsANonFiniteLogitAnywhereInATile(value: Float) throws {
        let shape = BatchShape(images: 1, classes: 3, height: 5, width: 7)
        var random = TestRandom(seed: 21)
        let b = random.batch(shape)
        for index in 0..<shape.logitCount {
            var logits = b.logits
            logits[index] = value
            var g = [Float](repeating: Self.sentinel, count: shape.logitCount)
            var thrown: HardPixelMiningError?
            do {
                _ = try LabelSmoothedCrossEntropy().evaluate(logits: logits, labels: b.labels, shape: shape, gradient: &g)
            } catch let e as HardPixelMiningError { thrown = e }
            guard case .nonFiniteValue(let argument, let at, _)? = thrown else {
                Issue.record("logit \(index) = \(value): expected nonFiniteValue, got \(String(describing: thrown))"); continue
            }
            #expect(argument == "logits" && at == index)
            #expect(g.allSatisfy { $0 == 0 })
        }
    }

    @Test func nonFinitePredictedDepth() {
        var i = Self.valid(); i.predicted[9] = .nan
        if case .nonFiniteValue(let argument, let index, _)? = Self.error(i) {
            #expect(argument == "predictedLogDepth" && index == 9)
        } else { Issue.record("no error") }
    }

    /// Non-finite or out-of-range ground-truth depth is "no depth here", not an error.
    @Test func invalidGroundTruthDepthIsNoDepth() throws {
        var i = Self.valid()
        i.depth = i.depth.enumerated().map { $0.offset % 3 == 0 ? [Float.nan, .infinity, -5, 0, 1e9][$0.offset % 5] : $0.element }
        #expect(Self.error(i) == nil)
    }

    @Test func hyperParameters() {
        var i = Self.valid(); i.epoch = -1
        #expect(Self.error(i)?.argument == "epoch")
        i = Self.valid(); i.epoch = 11  // beyond E = 10: the pace holds at its last value
        #expect(Self.error(i) == nil)
        i = Self.valid(); i.epoch = .nan
        #expect(Self.error(i)?.argument == "epoch")
        i = Self.valid(); i.configuration.pacing = SelfPacedPacing(totalEpochs: 0)
        #expect(Self.error(i) == .invalidParameter(argument: "configuration.pacing.totalEpochs", value: 0, requirement: "finite and > 0"))
        i = Self.valid(); i.configuration.grid = .cells(rows: 0, columns: 8)
        #expect(Self.error(i) == .invalidDimension(argument: "configuration.grid.rows", value: 0, requirement: "in 1...65536"))
        i = Self.valid(); i.configuration.grid = .cells(rows: 8, columns: -1)
        #expect(Self.error(i)?.argument == "configuration.grid.columns")
        i = Self.valid(); i.configuration.depthBinning.binWidth = 0
        #expect(Self.error(i)?.argument == "configuration.depthBinning.binWidth")
        i = Self.valid(); i.configuration.depthBinning.minimum = -1
        #expect(Self.error(i)?.argument == "configuration.depthBinning.minimum")
        i = Self.valid(); i.configuration.depthBinning.maximum = .nan
        #expect(Self.error(i)?.argument == "configuration.depthBinning.maximum")
        i = Self.valid(); i.configuration.depthWeight = .infinity
        #expect(Self.error(i) == .invalidParameter(argument: "configuration.depthWeight", value: .infinity, requirement: "finite, >= 0 and <= 1e6"))
        i = Self.valid(); i.configuration.scaleInvariance = .nan
        #expect(Self.error(i)?.argument == "configuration.scaleInvariance")
        i = Self.valid(); i.configuration.segmentationErrorWeight = -.infinity
        #expect(Self.error(i)?.argument == "configuration.segmentationErrorWeight")
        i = Self.valid(); i.configuration.depthPredictionErrorWeight = .constant(.nan)
        #expect(Self.error(i)?.argument == "configuration.depthPredictionErrorWeight.initial")
        i = Self.valid(); i.configuration.smoothing = .paper(trueClassTarget: 1.5)
        #expect(Self.error(i)?.argument == "configuration.smoothing.trueClassTarget")
        i = Self.valid(); i.configuration.smoothing = .pytorch(epsilon: -0.1)
        #expect(Self.error(i)?.argument == "configuration.smoothing.epsilon")
        i = Self.valid(); i.configuration.pacing = nil; i.configuration.pacesSegmentation = true
        #expect(Self.error(i)?.argument == "configuration.pacesSegmentation")
        i = Self.valid(); i.configuration.classWeights = [1, 2, 3]
        #expect(Self.error(i) == .wrongCount(argument: "configuration.classWeights", expected: 4, actual: 3))
        i = Self.valid(); i.configuration.classWeights = [1, .nan, 1, 1]
        #expect(Self.error(i)?.argument == "configuration.classWeights")
        i = Self.valid(); i.configuration.classWeights = [1, 1, -2, 1]
        #expect(Self.error(i)?.argument == "configuration.classWeights[2]")
        i = Self.valid(); i.configuration.classWeights = [1, 1, 1, 1e-9]
        #expect(Self.error(i) == .invalidParameter(argument: "configuration.classWeights[3]", value: Double(Float(1e-9)), requirement: "0, or in 1e-6...1e6"))
        i = Self.valid(); i.configuration.classWeights = [1, 1, 2e6, 1]
        #expect(Self.error(i)?.argument == "configuration.classWeights[2]")
        i = Self.valid(); i.configuration.classWeights = [0, 1e-6, 1e6, 1]; i.configuration.reduction = .sum
        #expect(Self.error(i) == nil)
    }

    /// Class weights and reductions on the cross-entropy: a wrong count, a bad weight, and a
    /// pooled reduction with mining throw before anything is written.
    @Test func classWeightsAndReductionOnTheCrossEntropy() {
        let v = Self.valid()
        var g = [Float](repeating: Self.sentinel, count: Self.shape.logitCount)
        #expect(throws: HardPixelMiningError.wrongCount(argument: "classWeights", expected: 4, actual: 5)) {
            try LabelSmoothedCrossEntropy(classWeights: [1, 1, 1, 1, 1]).evaluate(
                logits: v.logits, labels: v.labels, shape: Self.shape, gradient: &g)
        }
        #expect(throws: HardPixelMiningError.invalidParameter(argument: "classWeights[0]", value: -1, requirement: "finite, >= 0 and <= 1e6")) {
            try LabelSmoothedCrossEntropy(classWeights: [-1, 1, 1, 1]).evaluate(
                logits: v.logits, labels: v.labels, shape: Self.shape, gradient: &g)
        }
        for reduction in [Reduction.mean, .sum] {
            #expect(throws: HardPixelMiningError.self) {
                try LabelSmoothedCrossEntropy(mining: .topFraction(0.3), reduction: reduction).evaluate(
                    logits: v.logits, labels: v.labels, shape: Self.shape, gradient: &g)
            }
            let error = try? #require(throws: HardPixelMiningError.self) {
                try LabelSmoothedCrossEntropy(mining: .topFraction(0.3), reduction: reduction).evaluate(
                    logits: v.logits, labels: v.labels, shape: Self.shape, gradient: &g)
            }
            #expect(error?.argument == "reduction")
        }
        #expect(g.allSatisfy { $0 == Self.sentinel })
    }

    /// The error contract of the one-pass cross-entropy (and of L_seg alone in the
    /// objective): every other input is checked before anything is written; a non-finite
    /// logit, found while the gradient is being written, leaves the gradient and the
    /// per-pixel losses zero-filled — never partly written — and the depth gradient untouched.
    /// With mining (two passes, the first keeping its exponentials in the gradient), the
    /// gradient is zero-filled too.
    @Test(arguments: [1, 2])
    func onePassCrossEntropyZeroFillsOnANonFiniteLogit(threads: Int) throws {
        let shape = BatchShape(images: 2, classes: 3, height: 100, width: 101)  // several work items
        var random = TestRandom(seed: 9)
        var b = random.batch(shape)
        b.logits[shape.logitCount - 5] = .infinity  // in the last work item, after others were written
        var g = [Float](repeating: Self.sentinel, count: shape.logitCount)
        var losses = [Float](repeating: Self.sentinel, count: shape.pixelCount)
        let error = HardPixelMiningError.nonFiniteValue(argument: "logits", index: shape.logitCount - 5, value: .infinity)
        #expect(throws: error) {
            try b.logits.withUnsafeBufferPointer { x in
                try b.labels.withUnsafeBufferPointer { y in
                    try g.withUnsafeMutableBufferPointer { gx in
                        try losses.withUnsafeMutableBufferPointer { l in
                            try LabelSmoothedCrossEntropy(threadCount: threads).evaluate(
                                logits: x, labels: y, shape: shape, gradient: gx, pixelLosses: l)
                        }
                    }
                }
            }
        }
        #expect(g.allSatisfy { $0 == 0 } && losses.allSatisfy { $0 == 0 })
        var gx = [Float](repeating: Self.sentinel, count: shape.logitCount)
        var gd = [Float](repeating: Self.sentinel, count: shape.pixelCount)
        #expect(throws: error) {
            try HardPixelMiningObjective(.segmentationOnly, threadCount: threads).evaluate(
                logits: b.logits, labels: b.labels, shape: shape, logitGradient: &gx, depthGradient: &gd)
        }
        #expect(gx.allSatisfy { $0 == 0 } && gd.allSatisfy { $0 == Self.sentinel })
        var gm = [Float](repeating: Self.sentinel, count: shape.logitCount)
        #expect(throws: error) {
            try LabelSmoothedCrossEntropy(mining: .topFifth, threadCount: threads).evaluate(
                logits: b.logits, labels: b.labels, shape: shape, gradient: &gm)
        }
        #expect(gm.allSatisfy { $0 == 0 })
    }

    @Test func standaloneEntryPoints() throws {
        let v = Self.valid()
        var g = [Float](repeating: Self.sentinel, count: Self.shape.logitCount)
        // Cross-entropy: non-finite pixel weight, and a wrong-size gradient.
        var weights = [Float](repeating: 1, count: Self.shape.pixelCount)
        weights[4] = .infinity
        #expect(throws: HardPixelMiningError.nonFiniteValue(argument: "pixelWeights", index: 4, value: .infinity)) {
            try LabelSmoothedCrossEntropy().evaluate(logits: v.logits, labels: v.labels, shape: Self.shape, pixelWeights: weights, gradient: &g)
        }
        var short = [Float](repeating: Self.sentinel, count: 3)
        #expect(throws: HardPixelMiningError.wrongCount(argument: "gradient", expected: 120, actual: 3)) {
            try LabelSmoothedCrossEntropy().evaluate(logits: v.logits, labels: v.labels, shape: Self.shape, gradient: &short)
        }
        #expect(g.allSatisfy { $0 == Self.sentinel } && short.allSatisfy { $0 == Self.sentinel })
        // Depth loss.
        var gd = [Float](repeating: Self.sentinel, count: Self.shape.pixelCount)
        var badPredicted = v.predicted
        badPredicted[2] = -.infinity
        #expect(throws: HardPixelMiningError.nonFiniteValue(argument: "predictedLogDepth", index: 2, value: -.infinity)) {
            try ScaleInvariantDepthLoss().evaluate(predictedLogDepth: badPredicted, groundTruthDepth: v.depth, shape: Self.shape.pixelMap, gradient: &gd)
        }
        #expect(throws: HardPixelMiningError.invalidParameter(argument: "scaleInvariance", value: .infinity, requirement: "in 0...1")) {
            try ScaleInvariantDepthLoss(scaleInvariance: .infinity).evaluate(predictedLogDepth: v.predicted, groundTruthDepth: v.depth, shape: Self.shape.pixelMap, gradient: &gd)
        }
        #expect(gd.allSatisfy { $0 == Self.sentinel })
        // Weight maps.
        var labels = v.labels
        labels[8] = 9
        #expect(throws: HardPixelMiningError.labelOutOfRange(argument: "labels", index: 8, value: 9, classCount: 4, ignoreLabel: 255)) {
            try DepthPredictionError().weights(predictedLogDepth: v.predicted, groundTruthDepth: v.depth, labels: labels, shape: Self.shape)
        }
        var predictions = [Int32](repeating: 0, count: Self.shape.pixelCount)
        predictions[11] = 4
        #expect(throws: HardPixelMiningError.labelOutOfRange(argument: "predictions", index: 11, value: 4, classCount: 4, ignoreLabel: -1)) {
            try DepthAwareSegmentationError().weights(predictions: predictions, labels: v.labels, groundTruthDepth: v.depth, shape: Self.shape)
        }
        #expect(throws: HardPixelMiningError.invalidDimension(argument: "grid.rows", value: 0, requirement: "in 1...65536")) {
            try DepthAwareSegmentationError(grid: .cells(rows: 0, columns: 2)).weights(predictions: [Int32](repeating: 0, count: 30), labels: v.labels, groundTruthDepth: v.depth, shape: Self.shape)
        }
        var badLogits = v.logits
        badLogits[5] = .nan
        #expect(throws: HardPixelMiningError.self) {
            try DepthAwareSegmentationError.predictedClasses(logits: badLogits, shape: Self.shape)
        }
        // Pacing.
        #expect(throws: HardPixelMiningError.invalidParameter(argument: "epoch", value: -1, requirement: "finite and >= 0")) {
            try SelfPacedPacing(totalEpochs: 10).learningPace(of: [1, 2, 3], epoch: -1)
        }
        #expect(throws: HardPixelMiningError.invalidParameter(argument: "pacing.totalEpochs", value: -1, requirement: "finite and > 0")) {
            try SelfPacedPacing(totalEpochs: -1).learningPace(of: [1, 2, 3], epoch: 0)
        }
        #expect(throws: HardPixelMiningError.nonFiniteValue(argument: "weights", index: 1, value: .infinity)) {
            try SelfPacedPacing(totalEpochs: 10).learningPace(of: [1, .infinity, 3], epoch: 0)
        }
        #expect(throws: HardPixelMiningError.wrongCount(argument: "eligible", expected: 3, actual: 2)) {
            try SelfPacedPacing(totalEpochs: 10).mask(weights: [1, 2, 3], eligible: [true, false], epoch: 0)
        }
    }

    /// Finite input, however extreme, gives finite output.
    @Test func extremeFiniteInputGivesFiniteOutput() throws {
        var i = Self.valid()
        let extremes: [Float] = [.greatestFiniteMagnitude, -.greatestFiniteMagnitude, 1e30, -1e30, .leastNonzeroMagnitude, 0, 1e4, -1e4]
        i.logits = i.logits.indices.map { extremes[($0 * 7) % extremes.count] }
        i.predicted = i.predicted.indices.map { [Float(1e30), -1e30, 0, 3][$0 % 4] }
        var gx = [Float](repeating: 0, count: i.shape.logitCount)
        var gd = [Float](repeating: 0, count: i.shape.pixelCount)
        var configurations = [ObjectiveConfiguration.paper, .paperPaced(totalEpochs: 10), .segmentationOnly]
        // The extreme class weights, under each reduction, with a label of weight 1e-6 alone.
        for reduction in Reduction.allCases {
            for base in [ObjectiveConfiguration.paper, .segmentationOnly] {
                var c = base
                c.classWeights = [1e6, 1e-6, 0, 1e6]
                c.reduction = reduction
                configurations.append(c)
            }
        }
        for c in configurations {
            let r = try HardPixelMiningObjective(c).evaluate(
                logits: i.logits, labels: i.labels, predictedLogDepth: i.predicted, groundTruthDepth: i.depth,
                shape: i.shape, epoch: 3, logitGradient: &gx, depthGradient: &gd)
            #expect(r.value.isFinite)
            #expect(r.images.allSatisfy { $0.objective.isFinite })
            #expect(gx.allSatisfy { $0.isFinite })
            #expect(gd.allSatisfy { $0.isFinite })
        }
    }

    /// Options and flags are named as Swift spells them, not printed as numbers.
    @Test func settingsAreNamedAsSwiftSpellsThem() throws {
        let shape = BatchShape(images: 1, classes: 2, height: 1, width: 2)
        var g = [Float](repeating: 0, count: shape.logitCount)
        do {
            _ = try LabelSmoothedCrossEntropy(mining: .topFraction(0.5), reduction: .mean).evaluate(
                logits: [0, 1, 2, 3], labels: [0, 1], shape: shape, gradient: &g)
            Issue.record("no error")
        } catch let error as HardPixelMiningError {
            #expect(error.description.hasPrefix("`reduction` is .mean;"), "\(error)")
        }
        var c = ObjectiveConfiguration.segmentationOnly
        c.pacesSegmentation = true
        do {
            _ = try HardPixelMiningObjective(c).evaluate(logits: [0, 1, 2, 3], labels: [0, 1], shape: shape)
            Issue.record("no error")
        } catch let error as HardPixelMiningError {
            #expect(error.description == "`configuration.pacesSegmentation` is true; it must be used together with pacing")
        }
    }
}
