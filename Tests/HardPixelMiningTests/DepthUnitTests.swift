import Foundation
import HardPixelMining
import HardPixelMiningTestSupport
import Testing

/// Depth units: metres with the paper's binning lose almost every pixel, and the result says
/// so; the metric preset keeps them.
@Suite struct DepthUnitTests {
    @Test func resultCountsImagesWithoutDepthAndMetricPresetKeepsMetres() throws {
        let shape = BatchShape(images: 2, classes: 3, height: 4, width: 5)
        var random = TestRandom(seed: 44)
        let b = random.batch(shape)
        let metres = b.depth.map { $0 / 100 }  // 0.01...2.56 m: valid for the metric preset
        var paper = ObjectiveConfiguration.paper
        paper.depthBinning = .paper
        let logDepth = metres.map { $0.isFinite && $0 > 0 ? Float(log(Double($0))) : 0 }
        let r = try HardPixelMiningObjective(paper).evaluate(
            logits: b.logits, labels: b.labels, predictedLogDepth: logDepth, groundTruthDepth: metres.map { $0 / 10 },  // all below the paper's minimum of 1
            shape: shape, epoch: 12)
        #expect(r.imagesWithoutDepth == 2)
        #expect(r.depthPredictionErrorWeight == 10)
        var metric = paper
        metric.depthBinning = .metric
        let m = try HardPixelMiningObjective(metric).evaluate(
            logits: b.logits, labels: b.labels, predictedLogDepth: logDepth, groundTruthDepth: metres, shape: shape, epoch: 5)
        #expect(m.imagesWithoutDepth == 0)
        #expect(m.depthPredictionErrorWeight == 0)
        #expect(DepthBinning.metric.binCount == 25 && DepthBinning.paper.binCount == 26)
        #expect(try HardPixelMiningObjective(.segmentationOnly).evaluate(
            logits: b.logits, labels: b.labels, shape: shape).imagesWithoutDepth == 0)
    }
}
