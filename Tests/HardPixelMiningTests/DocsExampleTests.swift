import Foundation
import HardPixelMining
import HardPixelMiningTestSupport
import Testing

/// The calls the Docs pages show, run on generated batches with their results checked against
/// independent expectations. (The pages' blocks themselves are compiled and run alone, as
/// printed, by Tests/DocsExamples/run.sh.)
@Suite struct DocsExampleTests {
    static let shape = BatchShape(images: 2, classes: 3, height: 4, width: 5)

    @Test func pixelLossWeightsExampleRuns() throws {
        let shape = Self.shape
        var random = TestRandom(seed: 6)
        let b = random.batch(shape)
        let (labels, depth, logDepth) = (b.labels, b.depth, b.predicted)
        let predictions = try DepthAwareSegmentationError.predictedClasses(logits: b.logits, shape: shape)
        let module = PixelLossWeights(.paperPaced(totalEpochs: 40))
        let (weights, report) = try module.weights(
            predictions: predictions, labels: labels, predictedLogDepth: logDepth,
            groundTruthDepth: depth, shape: shape, epoch: 12)
        print(report.depthPredictionErrorWeight, report.images[0].depthPredictionErrorPace ?? .nan)
        #expect(weights.count == shape.pixelCount && report.depthPredictionErrorWeight == 10)
    }

    @Test func peerConventionExamplesRun() throws {
        let shape = Self.shape
        var random = TestRandom(seed: 7)
        let b = random.batch(shape)
        let (logits, labels, depth, logDepth) = (b.logits, b.labels, b.depth, b.predicted)
        let deepLab = LabelSmoothedCrossEntropy(smoothing: .none, mining: .batchTopFraction(0.2))
        let mmseg = LabelSmoothedCrossEntropy(
            smoothing: .none, mining: .ohem(threshold: 0.7, minimumKept: 100_000, averageNonIgnored: true))
        var gradient = [Float](repeating: 0, count: shape.logitCount)
        let r = try mmseg.evaluate(logits: logits, labels: labels, shape: shape, gradient: &gradient)
        print(try deepLab.evaluate(logits: logits, labels: labels, shape: shape, gradient: &gradient).value,
              r.value, r.sums[0].pooledDivisor!)
        #expect(r.sums[0].pooledDivisor == Double(labels.count { $0 != 255 }))
        let bts = SILogDepthLoss(.bts)
        var depthGradient = [Float](repeating: 0, count: shape.pixelCount)
        let silog = try bts.evaluate(predictedLogDepth: logDepth, groundTruthDepth: depth, shape: shape.pixelMap,
                                     gradient: &depthGradient)
        var configuration = ObjectiveConfiguration.paper
        configuration.depthTerm = .silog(.adaBins)
        print(silog.value, silog.images, configuration.depthTerm)
        #expect(silog.value > 0 && configuration.depthTerm == .silog(SILog(variance: .sample)))
        let disparity = depth.map { $0.isFinite && $0 > 0 ? 1 / $0 : 0 }
        let rgb = (0..<(shape.images * 3 * shape.pixelsPerImage)).map { _ in Float(random.uniform()) }
        let teacherProbabilities = [Float](repeating: 1 / Float(shape.classes), count: shape.logitCount)
        let mixer = HoyerDepthMix.paper                       // margin 0.03, foreground threshold 0
        let mixed = try mixer.mix(disparity: disparity, shape: shape.pixelMap, images: rgb, channels: 3,
                                  softTargets: teacherProbabilities, classes: shape.classes)
        print(mixed.masks.count, mixed.softTargetLabels!.count)
        #expect(mixed.softTargetLabels!.allSatisfy { $0 == 0 })
    }

    @Test func crossEntropyExampleRuns() throws {
        let shape = Self.shape
        var random = TestRandom(seed: 11)
        let b = random.batch(shape)
        let (logits, labels) = (b.logits, b.labels)
        let ce = LabelSmoothedCrossEntropy(smoothing: .pytorch(epsilon: 0.1))
        var gradient = [Float](repeating: 0, count: shape.logitCount)
        let result = try ce.evaluate(logits: logits, labels: labels, shape: shape, gradient: &gradient)
        print(result.value, result.images)
        let perPixel = try ce.pixelLosses(logits: logits, labels: labels, shape: shape)   // 0 where ignored
        #expect(perPixel.count == shape.pixelCount && result.value > 0)
        var total = [Float](repeating: 0, count: shape.logitCount)
        for microBatch in 0..<4 {  // the same batch four times, as a stand-in
            _ = try ce.evaluate(logits: logits, labels: labels, shape: shape, gradient: &total,
                                gradientOutput: .accumulate(scale: 0.25))
            _ = microBatch
        }
        var once = [Float](repeating: 0, count: shape.logitCount)
        _ = try ce.evaluate(logits: logits, labels: labels, shape: shape, gradient: &once)
        #expect(zip(total, once).allSatisfy { abs($0 - $1) <= 1e-7 })
    }

    @Test func classWeightsAndLayoutExampleRuns() throws {
        let shape = Self.shape
        var random = TestRandom(seed: 21)
        let b = random.batch(shape)
        let labels = b.labels
        let nhwcLogits = Layouts.channelsLast(b.logits, shape)
        let torchLike = LabelSmoothedCrossEntropy(
            smoothing: .pytorch(epsilon: 0.1), classWeights: [0.5, 2, 1], reduction: .mean)
        let channelsLast = BatchShape(images: 2, classes: 3, height: 4, width: 5, logitLayout: .channelsLast)
        var nhwcGradient = [Float](repeating: 0, count: channelsLast.logitCount)
        let pooled = try torchLike.evaluate(logits: nhwcLogits, labels: labels, shape: channelsLast,
                                            gradient: &nhwcGradient)
        print(pooled.value, pooled.sums[0].pooledDivisor!)   // the batch's Σ c_label
        let expected = labels.reduce(0.0) { $0 + ($1 == 255 ? 0 : Double([0.5, 2, 1][Int($1)])) }
        #expect(pooled.sums.allSatisfy { $0.pooledDivisor == expected })
    }

    @Test func depthAwareSegmentationErrorExampleRuns() throws {
        let shape = BatchShape(images: 1, classes: 3, height: 32, width: 40)
        var random = TestRandom(seed: 12)
        let b = random.batch(shape)
        let (logits, labels, depth) = (b.logits, b.labels, b.depth)
        let dse = DepthAwareSegmentationError(grid: .paper, depthBinning: .paper)
        let predictions = try DepthAwareSegmentationError.predictedClasses(logits: logits, shape: shape)
        let wZ = try dse.weights(predictions: predictions, labels: labels, groundTruthDepth: depth, shape: shape)
        let tables = try dse.tables(predictions: predictions, labels: labels, groundTruthDepth: depth, shape: shape)
        print(tables[0].error(row: 3, column: 4, bin: 2) ?? 0) // Z of one region of image 0 (nil outside the table)
        #expect(wZ.count == shape.pixelCount && wZ.allSatisfy { (0...1).contains($0) })
    }

    @Test func depthLossExampleRuns() throws {
        let shape = Self.shape
        var random = TestRandom(seed: 13)
        let b = random.batch(shape)
        let (logDepth, depth) = (b.predicted, b.depth)
        var gradient = [Float](repeating: 0, count: shape.pixelCount)
        let loss = ScaleInvariantDepthLoss(scaleInvariance: 0.5)
        let result = try loss.evaluate(predictedLogDepth: logDepth, groundTruthDepth: depth, shape: shape.pixelMap,
                                       gradient: &gradient)
        print(result.value)            // L_dep, mean over images
        #expect(result.value >= 0 && gradient.contains { $0 != 0 })
    }

    @Test func depthMixExampleRuns() throws {
        let shape = BatchShape(images: 3, classes: 3, height: 4, width: 5)
        var random = TestRandom(seed: 14)
        let b = random.batch(shape)
        let (labels, depth) = (b.labels, b.depth)
        let rgb = (0..<(shape.images * 3 * shape.pixelsPerImage)).map { _ in Float(random.uniform()) }
        var trained = 0
        func train(on images: [Float], _ labels: [Int32], _ depth: [Float]) { trained = images.count + labels.count + depth.count }
        let mixed = try DepthMix(margin: 0).mix(
            images: rgb, channels: 3, labels: labels, depth: depth, shape: shape.pixelMap, partners: [1, 2, 0])
        train(on: mixed.images, mixed.labels, mixed.depth)
        #expect(trained == rgb.count + 2 * shape.pixelCount)
    }

    @Test func depthPredictionErrorExampleRuns() throws {
        let shape = Self.shape
        var random = TestRandom(seed: 15)
        let b = random.batch(shape)
        let (logDepth, depth, labels) = (b.predicted, b.depth, b.labels)
        let wR = try DepthPredictionError().weights(
            predictedLogDepth: logDepth, groundTruthDepth: depth, labels: labels, shape: shape)
        #expect(wR.count == shape.pixelCount && wR.allSatisfy { $0 >= 0 })
    }

    @Test func errorPredictionExampleRuns() throws {
        let shape = Self.shape
        var random = TestRandom(seed: 16)
        let b = random.batch(shape), d = random.batch(shape)
        let (x, y, detail) = (b.logits, b.labels, d.logits)
        let z = (0..<shape.pixelCount).map { _ in Float(random.uniform(-3...3)) }
        var dDetail = [Float](repeating: 0, count: shape.logitCount)
        let ep = ErrorPrediction()                          // ρ = 0.95, w1 = 1, w2 = 1.5, t = 0.7
        var dz = [Float](repeating: 0, count: shape.pixelCount)
        let lossEP = try ep.balancedLoss(errorLogits: z, segmentationLogits: x, labels: y, shape: shape, gradient: &dz)
        let weights = try ep.detailWeights(errorLogits: z)
        let lossDB = try LabelSmoothedCrossEntropy(smoothing: .none).evaluate(
            logits: detail, labels: y, shape: shape, pixelWeights: weights, gradient: &dDetail)
        let fused = try ep.fuse(segmentationLogits: x, detailLogits: detail, errorLogits: z, shape: shape)
        let m = try ep.metrics(errorLogits: z, segmentationLogits: x, labels: y, shape: shape)
        #expect(lossEP.value.isFinite && lossDB.value.isFinite && fused.count == shape.logitCount)
        _ = m
    }

    @Test func multiScaleExampleRuns() throws {
        let shape = BatchShape(images: 1, classes: 3, height: 480, width: 640)
        let half = BatchShape(images: 1, classes: 3, height: 240, width: 320)
        var random = TestRandom(seed: 17)
        let b = random.batch(shape), h = random.batch(half)
        let (full, fullDepth, labels, depth) = (b.logits, b.predicted, b.labels, b.depth)
        let (halfLogits, halfDepth) = (h.logits, h.predicted)
        try checkMultiScale(full, fullDepth, halfLogits, halfDepth, labels, depth, shape)
    }

    private func checkMultiScale(
        _ full: [Float], _ fullDepth: [Float], _ half: [Float], _ halfDepth: [Float], _ labels: [Int32],
        _ depth: [Float], _ shape: BatchShape
    ) throws {
        let outputs = [
            SideOutput(logits: full, predictedLogDepth: fullDepth, height: 480, width: 640, weight: 1),
            SideOutput(logits: half, predictedLogDepth: halfDepth, height: 240, width: 320, weight: 0.5),
        ]
        var dLogits = outputs.map { [Float](repeating: 0, count: $0.logits.count) }
        var dDepth = outputs.map { [Float](repeating: 0, count: $0.predictedLogDepth.count) }
        let r = try MultiScaleObjective(.paperPaced(totalEpochs: 40)).evaluate(
            outputs: outputs, labels: labels, groundTruthDepth: depth, shape: shape, epoch: 12,
            logitGradients: &dLogits, depthGradients: &dDepth)
        print(r.value, r.outputs.map(\.value))
        #expect(r.outputs.count == 2 && r.value.isFinite)
    }

    @Test func objectiveExampleRuns() throws {
        let shape = Self.shape
        var random = TestRandom(seed: 18)
        let b = random.batch(shape)
        let (logits, labels, logDepth, depth) = (b.logits, b.labels, b.predicted, b.depth)
        var dx = [Float](repeating: 0, count: shape.logitCount)
        var dd = [Float](repeating: 0, count: shape.pixelCount)
        let k = 1
        let objective = HardPixelMiningObjective(.paperPaced(totalEpochs: 40), threadCount: 2)
        let workspace = try ObjectiveWorkspace(reservingFor: shape) // reuse: steady-state calls allocate nothing
        let r = try objective.evaluate(
            logits: logits, labels: labels, predictedLogDepth: logDepth, groundTruthDepth: depth,
            shape: shape, epoch: 12, logitGradient: &dx, depthGradient: &dd, workspace: workspace)
        print(r.value, r.batch.segmentation, r.images[k].depth, r.sums[k].depthPredictionErrorPace ?? .nan)
        #expect(r.value.isFinite)
    }

    @Test func pixelMiningExampleRuns() throws {
        let shape = Self.shape
        var random = TestRandom(seed: 19)
        let b = random.batch(shape)
        let (logits, labels) = (b.logits, b.labels)
        let ohem = LabelSmoothedCrossEntropy(smoothing: .none, mining: .topFraction(0.2))
        var gradient = [Float](repeating: 0, count: shape.logitCount)
        let r = try ohem.evaluate(logits: logits, labels: labels, shape: shape, gradient: &gradient)
        print(r.value, r.sums.map { $0.minedPixels! })
        #expect(r.sums.allSatisfy { $0.minedPixels! > 0 })
    }

    @Test func selfPacedPacingExampleRuns() throws {
        let shape = Self.shape
        var random = TestRandom(seed: 20)
        let b = random.batch(shape)
        let wR = try DepthPredictionError().weights(
            predictedLogDepth: b.predicted, groundTruthDepth: b.depth, labels: b.labels, shape: shape)
        let eligible = wR.map { $0 > 0 }
        let eligibleWeights = wR.filter { $0 > 0 }
        let pacing = SelfPacedPacing(totalEpochs: 40)
        let eta = try pacing.learningPace(of: eligibleWeights, epoch: 12)      // nil when empty
        let mask = try pacing.mask(weights: wR, eligible: eligible, epoch: 12)
        let objective = HardPixelMiningObjective(.paperPaced(totalEpochs: 40))  // L_T
        #expect(eta != nil && mask.count == wR.count && objective.configuration.pacing != nil)
    }
}
