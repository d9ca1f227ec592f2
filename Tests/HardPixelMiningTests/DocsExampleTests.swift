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

    @Test(arguments: ["Docs/CrossEntropy.md", "Docs/PixelLossWeights.md"])
    func pagesShowTheTestedExamples(page: String) throws {
        let root = Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent(page), encoding: .utf8)
        let source = try String(contentsOf: URL(fileURLWithPath: #filePath), encoding: .utf8)
        let start = source.range(of: "// --- \(page) ---\n")!.upperBound
        let end = source[start...].range(of: "        // --- end ---")!.lowerBound
        let lines = source[start..<end].split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("        ") ? String($0.dropFirst(8)) : String($0) }
        for line in lines where !line.isEmpty {
            #expect(text.contains(line), "\(page) lacks: \(line)")
        }
    }
}
