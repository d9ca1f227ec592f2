import Foundation
import HardPixelMining
import HardPixelMiningTestSupport
import Testing

/// Swift examples of Docs pages, compiled and run here with the variables the pages assume
/// (a small batch), and checked to stand in the page exactly as printed (between the
/// `// --- Docs/…` and `// --- end` markers, indentation of eight spaces removed).
@Suite struct DocsExampleTests {
    static let shape = BatchShape(images: 2, classes: 3, height: 4, width: 5)

    @Test func crossEntropyAccumulationExampleRuns() throws {
        let shape = Self.shape
        var random = TestRandom(seed: 5)
        let b = random.batch(shape)
        let (logits, labels) = (b.logits, b.labels)
        let ce = LabelSmoothedCrossEntropy(smoothing: .pytorch(epsilon: 0.1))
        // --- Docs/CrossEntropy.md ---
        var total = [Float](repeating: 0, count: shape.logitCount)
        for microBatch in 0..<4 {  // the same batch four times, as a stand-in
            _ = try ce.evaluate(logits: logits, labels: labels, shape: shape, gradient: &total,
                                gradientOutput: .accumulate(scale: 0.25))
            _ = microBatch
        }
        // --- end ---
        var once = [Float](repeating: 0, count: shape.logitCount)
        _ = try ce.evaluate(logits: logits, labels: labels, shape: shape, gradient: &once)
        #expect(zip(total, once).allSatisfy { abs($0 - $1) <= 1e-7 })
    }

    @Test func pixelLossWeightsExampleRuns() throws {
        let shape = Self.shape
        var random = TestRandom(seed: 6)
        let b = random.batch(shape)
        let (labels, depth, logDepth) = (b.labels, b.depth, b.predicted)
        let predictions = try DepthAwareSegmentationError.predictedClasses(logits: b.logits, shape: shape)
        // --- Docs/PixelLossWeights.md ---
        let module = PixelLossWeights(.paperPaced(totalEpochs: 40))
        let (weights, report) = try module.weights(
            predictions: predictions, labels: labels, predictedLogDepth: logDepth,
            groundTruthDepth: depth, shape: shape, epoch: 12)
        print(report.depthPredictionErrorWeight, report.images[0].depthPredictionErrorPace ?? .nan)
        // --- end ---
        #expect(weights.count == shape.pixelCount && report.depthPredictionErrorWeight == 10)
    }

    @Test func peerConventionExamplesRun() throws {
        let shape = Self.shape
        var random = TestRandom(seed: 7)
        let b = random.batch(shape)
        let (logits, labels, depth, logDepth) = (b.logits, b.labels, b.depth, b.predicted)
        // --- Docs/PeerConventions.md ---
        let deepLab = LabelSmoothedCrossEntropy(smoothing: .none, mining: .batchTopFraction(0.2))
        let mmseg = LabelSmoothedCrossEntropy(
            smoothing: .none, mining: .ohem(threshold: 0.7, minimumKept: 100_000, averageNonIgnored: true))
        var gradient = [Float](repeating: 0, count: shape.logitCount)
        let r = try mmseg.evaluate(logits: logits, labels: labels, shape: shape, gradient: &gradient)
        print(try deepLab.evaluate(logits: logits, labels: labels, shape: shape, gradient: &gradient).value,
              r.value, r.sums[0].pooledDivisor!)
        // --- end ---
        #expect(r.sums[0].pooledDivisor == Double(labels.count { $0 != 255 }))
        // --- Docs/PeerConventions.md ---
        let bts = SILogDepthLoss(.bts)
        var depthGradient = [Float](repeating: 0, count: shape.pixelCount)
        let silog = try bts.evaluate(predictedLogDepth: logDepth, groundTruthDepth: depth, shape: shape,
                                     gradient: &depthGradient)
        var configuration = ObjectiveConfiguration.paper
        configuration.depthTerm = .silog(.adaBins)
        print(silog.value, silog.images.map(\.depth), configuration.depthTerm)
        // --- end ---
        #expect(silog.value > 0 && configuration.depthTerm == .silog(SILog(variance: .sample)))
        let disparity = depth.map { $0.isFinite && $0 > 0 ? 1 / $0 : 0 }
        let rgb = (0..<(shape.images * 3 * shape.pixelsPerImage)).map { _ in Float(random.uniform()) }
        let teacherProbabilities = [Float](repeating: 1 / Float(shape.classes), count: shape.logitCount)
        // --- Docs/PeerConventions.md ---
        let mixer = HoyerDepthMix.paper                       // margin 0.03, foreground threshold 0
        let mixed = try mixer.mix(disparity: disparity, shape: shape, images: rgb, channels: 3,
                                  softTargets: teacherProbabilities)
        print(mixed.masks.count, mixed.softTargetLabels!.count)
        // --- end ---
        #expect(mixed.softTargetLabels!.allSatisfy { $0 == 0 })
    }

    @Test(arguments: ["Docs/CrossEntropy.md", "Docs/PixelLossWeights.md", "Docs/PeerConventions.md"])
    func pagesShowTheTestedExamples(page: String) throws {
        let root = Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent(page), encoding: .utf8)
        let source = try String(contentsOf: URL(fileURLWithPath: #filePath), encoding: .utf8)
        var rest = source[...]
        var blocks = 0
        while let marker = rest.range(of: "// --- \(page) ---\n") {
            let end = rest[marker.upperBound...].range(of: "        // --- end ---")!
            let lines = rest[marker.upperBound..<end.lowerBound].split(separator: "\n", omittingEmptySubsequences: false)
                .map { $0.hasPrefix("        ") ? String($0.dropFirst(8)) : String($0) }
            for line in lines where !line.isEmpty {
                #expect(text.contains(line), "\(page) lacks: \(line)")
            }
            blocks += 1
            rest = rest[end.upperBound...]
        }
        #expect(blocks > 0)
    }
}
