import Foundation
import HardPixelMining
import HardPixelMiningTestSupport
import Testing

/// The README's usage example, compiled and run (DocsCoverageTests checks that README shows it).
@Suite struct ReadmeExampleTests {
    @Test func usageExampleRuns() throws {
        let shape = BatchShape(images: 2, classes: 3, height: 4, width: 5)
        let logits = (0..<shape.logitCount).map { Float($0 % 7) * 0.5 - 1 }       // NCHW
        let labels = (0..<shape.pixelCount).map { Int32($0 % 4 == 3 ? 255 : $0 % 3) } // 255 = ignore
        let depth = (0..<shape.pixelCount).map { Float(1 + $0 * 6) }               // valid where 1...256
        let logDepth = depth.map { Float(log(Double($0))) + 0.1 }                  // the depth head's output

        // L_T: the paper's objective with self-paced pacing over 40 epochs, at epoch 12.
        let objective = HardPixelMiningObjective(.paperPaced(totalEpochs: 40))
        var logitGradient = [Float](repeating: 0, count: shape.logitCount)
        var depthGradient = [Float](repeating: 0, count: shape.pixelCount)
        let result = try objective.evaluate(
            logits: logits, labels: labels, predictedLogDepth: logDepth, groundTruthDepth: depth,
            shape: shape, epoch: 12, logitGradient: &logitGradient, depthGradient: &depthGradient)
        print(result.value, result.batch.segmentation, result.images[0].depthPredictionError)
        #expect(result.value.isFinite && result.value > 0)
        #expect(abs(result.batch.depth - 0.005) < 1e-6, "R = 0.1 on every valid pixel: 0.01 − 0.5 · 0.1²")
        #expect(logitGradient.contains { $0 != 0 } && depthGradient.contains { $0 != 0 })
    }
}
