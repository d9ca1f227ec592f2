import HardPixelMining
import HardPixelMiningTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Sizes that overflow or cannot be allocated, and hyper-parameters outside their
/// stated ranges, throw a typed error that names the argument (and the dimensions, never a
/// wrapped product); nothing traps; every accepted finite input gives finite outputs.
@Suite struct SizeAndRangeTests {
    static let shape = BatchShape(images: 2, classes: 4, height: 3, width: 5)
    static let huge = BatchShape(images: 1 << 20, classes: 1 << 20, height: 1 << 20, width: 1 << 20)

    static func valid() -> (logits: [Float], labels: [Int32], predicted: [Float], depth: [Float]) {
        var random = TestRandom(seed: 10)
        return random.batch(shape)
    }

    /// The fuzz harness's find: predicted log-depth −Float.greatestFiniteMagnitude (finite) makes
    /// wR ≈ 3.4e38; with class weights 1e6, W · (A p − a) overflowed Float and Inf · 0 gave NaN in
    /// the logit gradient. The coefficients now saturate at a limit that bounds every term.
    @Test(arguments: [1, 2])
    func hugeWeightsWithClassWeightsGiveFiniteGradients(threads: Int) throws {
        let shape = BatchShape(images: 3, classes: 3, height: 5, width: 2, logitLayout: .channelsLast)
        var random = TestRandom(seed: 16)
        let b = random.batch(shape)
        var c = ObjectiveConfiguration.paper
        c.smoothing = .paperDefault
        c.classWeights = [1e6, 1e6, 0]
        c.reduction = .sum
        c.depthTerm = .silog(SILog(varianceFocus: 0.5, scale: 1, variance: .population))
        c.depthPredictionErrorWeight = WeightSchedule(initial: 1, later: 10, switchEpoch: 10)
        c.propagatesDepthPredictionErrorToDepth = true
        for focal in [nil, FocalModulation(focusing: 0.5)] {
            c.focal = focal
            var gx = [Float](repeating: .nan, count: shape.logitCount)
            var gd = [Float](repeating: .nan, count: shape.pixelCount)
            let logDepth = [Float](repeating: -.greatestFiniteMagnitude, count: shape.pixelCount)
            let r = try HardPixelMiningObjective(c, threadCount: threads).evaluate(
                logits: b.logits, labels: b.labels, predictedLogDepth: logDepth, groundTruthDepth: b.depth,
                shape: shape, epoch: 1e300, logitGradient: &gx, depthGradient: &gd)
            #expect(r.value.isFinite)
            let finite = gx.allSatisfy { $0.isFinite } && gd.allSatisfy { $0.isFinite }
            #expect(finite, "focal \(String(describing: focal)): \(gx.filter { !$0.isFinite }.count) non-finite")
            // And the cross-entropy with pixel weights of 1e6 under the same class weights.
            var g = [Float](repeating: .nan, count: shape.logitCount)
            _ = try LabelSmoothedCrossEntropy(classWeights: [1e6, 1e6, 0], reduction: .sum, focal: focal).evaluate(
                logits: b.logits, labels: b.labels, shape: shape,
                pixelWeights: [Float](repeating: 1e6, count: shape.pixelCount), gradient: &g)
            let ceFinite = g.allSatisfy { $0.isFinite }
            #expect(ceFinite)
        }
    }

    @Test func overflowingShapeCountsSaturateInsteadOfTrapping() {
        #expect(Self.huge.logitCount == .max)
        #expect(Self.huge.pixelCount == 1 << 60)
        #expect(BatchShape(images: 3, classes: 2, height: Int.max, width: 2).pixelsPerImage == .max)
        #expect(BatchShape(images: -1, classes: 2, height: 2, width: 2).pixelCount == 0)
    }

    @Test func overflowingShapeIsNamedByItsDimensions() {
        let expected = HardPixelMiningError.tooLarge(
            argument: "shape", dimensions: [1 << 20, 1 << 20, 1 << 20, 1 << 20],
            requirement: "a shape of at most 2^40 elements")
        #expect(throws: expected) {
            try LabelSmoothedCrossEntropy().pixelLosses(logits: [], labels: [], shape: Self.huge)
        }
        var gx: [Float] = [], gd: [Float] = []
        #expect(throws: expected) {
            try HardPixelMiningObjective().evaluate(
                logits: [], labels: [], shape: Self.huge, logitGradient: &gx, depthGradient: &gd)
        }
        #expect(expected.description.contains("1048576 × 1048576 × 1048576 × 1048576"))
    }

    @Test func workspaceValidatesItsShapeAndItsAllocation() {
        let e = #expect(throws: HardPixelMiningError.self) { try ObjectiveWorkspace(reservingFor: Self.huge) }
        #expect(e?.argument == "shape")
        // 2^40 logits pass the shape check, but no system provides 2^39 pixels' scratch (tens of TB):
        // the refused allocation is a typed error, not a trap.
        let enormous = BatchShape(images: 1 << 9, classes: 2, height: 1 << 15, width: 1 << 15)
        let f = #expect(throws: HardPixelMiningError.self) { try ObjectiveWorkspace(reservingFor: enormous) }
        #expect(f?.description == "`workspace` is 549755813888 × 4; it must be an allocation the system can provide")
        #expect(throws: Never.self) { try ObjectiveWorkspace(reservingFor: Self.shape) }
    }

    @Test(arguments: [Float(1e-30), .leastNonzeroMagnitude, .leastNormalMagnitude])
    func tinyBinWidthIsRejectedWithoutTrapping(width: Float) {
        let binning = DepthBinning(minimum: 1, maximum: 256, binWidth: width)
        #expect(binning.binCount == 1 << 40)
        let v = Self.valid()
        var gd = [Float](repeating: 0, count: Self.shape.pixelCount)
        #expect(throws: HardPixelMiningError.invalidParameter(
            argument: "depthBinning.binWidth", value: Double(width),
            requirement: "wide enough for at most 2^20 bins over 1.0...256.0")) {
            try ScaleInvariantDepthLoss(depthBinning: binning).evaluate(
                predictedLogDepth: v.predicted, groundTruthDepth: v.depth, shape: Self.shape.pixelMap, gradient: &gd)
        }
    }

    @Test func binCountAndBinNeverTrap() {
        #expect(DepthBinning(minimum: 1, maximum: .greatestFiniteMagnitude, binWidth: 1).binCount == 1 << 40)
        #expect(DepthBinning(minimum: 1, maximum: 256, binWidth: 0).binCount == 1 << 40)
        #expect(DepthBinning(minimum: 1, maximum: 256, binWidth: .nan).binCount == 1)
        #expect(DepthBinning(minimum: 1, maximum: 256, binWidth: -3).binCount == 1)
        #expect(DepthBinning(minimum: 300, maximum: 256, binWidth: 10).binCount == 1)
        let paper = DepthBinning.paper
        #expect(paper.bin(of: .nan) == nil)
        #expect(paper.bin(of: 1e30) == nil)
        #expect(paper.bin(of: -.infinity) == nil)
        #expect(paper.bin(of: 0.5) == nil)
        #expect(paper.bin(of: 1) == 0)
        #expect(paper.bin(of: 11) == 1)
        #expect(paper.bin(of: 256) == 25)
        // A binning that fails validation bins nothing (it had given bin 2^40 − 1 for width 0).
        for invalid in [DepthBinning(minimum: 1, maximum: 256, binWidth: 0), DepthBinning(minimum: 0, maximum: 256, binWidth: 10),
                        DepthBinning(minimum: -1, maximum: 256, binWidth: 10), DepthBinning(minimum: 1, maximum: 256, binWidth: -2),
                        DepthBinning(minimum: 1, maximum: 256, binWidth: .nan), DepthBinning(minimum: 1, maximum: 256, binWidth: 1e-6)] {
            #expect(invalid.bin(of: 5) == nil, "\(invalid)")
        }
    }

    @Test func regionBandLargerThanTheImageIsRejected() {
        let v = Self.valid()
        var configuration = ObjectiveConfiguration.paper
        configuration.grid = .cells(rows: 1, columns: 4096)
        configuration.depthBinning = DepthBinning(minimum: 1, maximum: 256, binWidth: 255.0 / 1_020_000)
        var gx = [Float](repeating: 7, count: Self.shape.logitCount)
        var gd = [Float](repeating: 7, count: Self.shape.pixelCount)
        let bins = configuration.depthBinning.binCount
        #expect(throws: HardPixelMiningError.tooLarge(
            argument: "configuration.grid", dimensions: [4096, bins],
            requirement: "at most max(H · W, 65536) = 65536 regions per band (grid columns × depth bins)")) {
            try HardPixelMiningObjective(configuration).evaluate(
                logits: v.logits, labels: v.labels, predictedLogDepth: v.predicted, groundTruthDepth: v.depth,
                shape: Self.shape, epoch: 12, logitGradient: &gx, depthGradient: &gd)
        }
        #expect(gx.allSatisfy { $0 == 7 } && gd.allSatisfy { $0 == 7 })
        let dse = DepthAwareSegmentationError(grid: .cells(rows: 65536, columns: 65536))
        let predictions = v.labels.map { $0 == 255 ? 0 : $0 }
        #expect(throws: HardPixelMiningError.self) {
            try dse.tables(predictions: predictions, labels: v.labels, groundTruthDepth: v.depth, shape: Self.shape)
        }
    }

    @Test func perPixelTablesListOnlyNonEmptyRegions() throws {
        let v = Self.valid()
        let predictions = v.labels.map { $0 == 255 ? 0 : $0 }
        let dse = DepthAwareSegmentationError(grid: .perPixel)
        let tables = try dse.tables(predictions: predictions, labels: v.labels, groundTruthDepth: v.depth, shape: Self.shape)
        for (k, table) in tables.enumerated() {
            let eligible = (0..<Self.shape.pixelsPerImage).filter { p in
                let i = k * Self.shape.pixelsPerImage + p
                return v.labels[i] != 255 && DepthBinning.paper.isValid(v.depth[i])
            }
            #expect(table.regions.count == eligible.count, "one region per eligible pixel")
            #expect(table.error(row: -1, column: 0, bin: 0) == nil)
            #expect(table.error(row: 0, column: Self.shape.width, bin: 0) == nil)
            #expect(table.error(row: 0, column: 0, bin: 26) == nil)
        }
    }

    @Test func resamplingDepthMixAndConfusionMatrixSizesAreBounded() {
        let v = Self.valid()
        #expect(throws: HardPixelMiningError.invalidDimension(argument: "height", value: 1 << 40, requirement: "in 1...16 × 3")) {
            try SideOutputResampling.labels(v.labels, shape: Self.shape.pixelMap, height: 1 << 40, width: 2)
        }
        #expect(throws: HardPixelMiningError.invalidDimension(argument: "width", value: Int.max, requirement: "in 1...16 × 5")) {
            try SideOutputResampling.weights(v.predicted, shape: Self.shape.pixelMap, height: 2, width: .max)
        }
        let images = [Float](repeating: 0, count: Self.shape.pixelCount * 3)
        #expect(throws: HardPixelMiningError.tooLarge(
            argument: "channels", dimensions: [2, 1 << 62, 3, 5],
            requirement: "a channel count whose N × channels × H × W is at most 2^40")) {
            try DepthMix().mix(images: images, channels: 1 << 62, labels: v.labels, depth: v.depth, shape: Self.shape.pixelMap, partners: [1, 0])
        }
        #expect(throws: HardPixelMiningError.invalidDimension(argument: "classes", value: 1 << 40, requirement: "in 2...4096")) {
            try ConfusionMatrix(classes: 1 << 40)
        }
    }

    @Test func hyperParametersOutsideTheirRangesAreRejected() {
        let v = Self.valid()
        func argument(_ change: (inout ObjectiveConfiguration) -> Void) -> String? {
            var c = ObjectiveConfiguration.paperPaced(totalEpochs: 20)
            change(&c)
            var gx = [Float](repeating: 3, count: Self.shape.logitCount)
            var gd = [Float](repeating: 3, count: Self.shape.pixelCount)
            do {
                _ = try HardPixelMiningObjective(c).evaluate(
                    logits: v.logits, labels: v.labels, predictedLogDepth: v.predicted, groundTruthDepth: v.depth,
                    shape: Self.shape, epoch: 12, logitGradient: &gx, depthGradient: &gd)
                return nil
            } catch let e as HardPixelMiningError {
                #expect(gx.allSatisfy { $0 == 3 } && gd.allSatisfy { $0 == 3 })
                return e.argument
            } catch { return "untyped" }
        }
        #expect(argument { $0.scaleInvariance = 5 } == "configuration.scaleInvariance")
        #expect(argument { $0.scaleInvariance = -0.1 } == "configuration.scaleInvariance")
        #expect(argument { $0.depthWeight = -1 } == "configuration.depthWeight")
        #expect(argument { $0.depthWeight = 1e300 } == "configuration.depthWeight")
        #expect(argument { $0.segmentationErrorWeight = -0.5 } == "configuration.segmentationErrorWeight")
        #expect(argument { $0.depthPredictionErrorWeight = .constant(-1) } == "configuration.depthPredictionErrorWeight.initial")
        #expect(argument { $0.depthPredictionErrorWeight.later = 2e6 } == "configuration.depthPredictionErrorWeight.later")
        #expect(argument { $0.scaleInvariance = 1; $0.depthWeight = 1e6 } == nil, "the bounds themselves are accepted")

        var g = [Float](repeating: 3, count: Self.shape.logitCount)
        var weights = [Float](repeating: 1, count: Self.shape.pixelCount)
        weights[4] = -0.25
        #expect(throws: HardPixelMiningError.invalidParameter(argument: "pixelWeights[4]", value: -0.25, requirement: "finite, >= 0 and <= 1e6")) {
            try LabelSmoothedCrossEntropy().evaluate(logits: v.logits, labels: v.labels, shape: Self.shape, pixelWeights: weights, gradient: &g)
        }
        #expect(g.allSatisfy { $0 == 3 })
        var prediction = ErrorPrediction()
        prediction.hardWeight = 1.8e308
        #expect(throws: HardPixelMiningError.invalidParameter(argument: "hardWeight", value: 1.8e308, requirement: "finite, >= 0 and <= 1e6")) {
            try prediction.detailWeights(errorLogits: [0, 1])
        }
    }

    @Test func sideOutputWeightIsBounded() throws {
        let v = Self.valid()
        let outputs = [SideOutput(logits: v.logits, predictedLogDepth: v.predicted, height: 3, width: 5, weight: 1.8e308)]
        var gx = [[Float](repeating: 0, count: Self.shape.logitCount)]
        var gd = [[Float](repeating: 0, count: Self.shape.pixelCount)]
        let e = #expect(throws: HardPixelMiningError.self) {
            try MultiScaleObjective().evaluate(
                outputs: outputs, labels: v.labels, groundTruthDepth: v.depth, shape: Self.shape, epoch: 12,
                logitGradients: &gx, depthGradients: &gd)
        }
        #expect(e?.argument == "outputs[0].weight")
    }

    /// The largest accepted weights with the most extreme finite logits and log-depths: every
    /// value and gradient element stays finite.
    @Test func extremeAcceptedInputGivesFiniteOutput() throws {
        var v = Self.valid()
        for i in v.logits.indices { v.logits[i] = i % 3 == 0 ? .greatestFiniteMagnitude : i % 3 == 1 ? -.greatestFiniteMagnitude : 0 }
        for i in v.predicted.indices { v.predicted[i] = i % 2 == 0 ? .greatestFiniteMagnitude : -.greatestFiniteMagnitude }
        var c = ObjectiveConfiguration.paperPaced(totalEpochs: 20)
        c.depthWeight = 1e6
        c.segmentationErrorWeight = 1e6
        c.depthPredictionErrorWeight = .constant(1e6)
        c.scaleInvariance = 0
        c.propagatesDepthPredictionErrorToDepth = true
        var gx = [Float](repeating: 0, count: Self.shape.logitCount)
        var gd = [Float](repeating: 0, count: Self.shape.pixelCount)
        for epoch in [0.0, 12, 20] {
            let r = try HardPixelMiningObjective(c).evaluate(
                logits: v.logits, labels: v.labels, predictedLogDepth: v.predicted, groundTruthDepth: v.depth,
                shape: Self.shape, epoch: epoch, logitGradient: &gx, depthGradient: &gd)
            #expect(r.value.isFinite)
            #expect(r.images.allSatisfy { $0.objective.isFinite })
            #expect(gx.allSatisfy(\.isFinite) && gd.allSatisfy(\.isFinite))
        }
        let outputs = [SideOutput(logits: v.logits, predictedLogDepth: v.predicted, height: 3, width: 5, weight: 1e6)]
        var gxs = [gx], gds = [gd]
        let m = try MultiScaleObjective(c).evaluate(
            outputs: outputs, labels: v.labels, groundTruthDepth: v.depth, shape: Self.shape, epoch: 12,
            logitGradients: &gxs, depthGradients: &gds)
        #expect(m.value.isFinite && gxs[0].allSatisfy(\.isFinite) && gds[0].allSatisfy(\.isFinite))
        var prediction = ErrorPrediction()
        prediction.easyWeight = 1e6
        prediction.hardWeight = 1e6
        var ge = [Float](repeating: 0, count: Self.shape.pixelCount)
        let loss = try prediction.balancedLoss(
            errorLogits: v.predicted, segmentationLogits: v.logits, labels: v.labels, shape: Self.shape, gradient: &ge)
        #expect(loss.value.isFinite && ge.allSatisfy(\.isFinite))
    }

    /// A subnormal minimum depth: subnormal depths are valid and their log is exact, so a
    /// prediction equal to the (Float-rounded) log gives L_dep at the rounding level, not 1.7.
    @Test func subnormalDepthsHaveExactLogs() throws {
        let shape = BatchShape(images: 1, classes: 2, height: 1, width: 6)
        let depth: [Float] = [1e-40, 3e-42, .leastNonzeroMagnitude, 2e-38, 0.5, 7]
        let predicted = depth.map { Float(log(Double($0))) }
        var gd = [Float](repeating: 0, count: 6)
        let binning = DepthBinning(minimum: .leastNonzeroMagnitude, maximum: 256, binWidth: 10)
        let r = try ScaleInvariantDepthLoss(scaleInvariance: 0, depthBinning: binning).evaluate(
            predictedLogDepth: predicted, groundTruthDepth: depth, shape: shape.pixelMap, gradient: &gd)
        #expect(r.sums[0].depthPixels == 6)
        #expect(r.value < 1e-12, "L_dep is \(r.value)")
    }
}
