import HardPixelMining
import HardPixelMiningTestSupport
import Testing

/// Self-paced pacing past its planned epochs (fine-tuning, longer training).
@Suite struct SelfPacedPacingTests {
    /// Past E the pace holds at its last value, η = u2: an epoch beyond E is read as E, for the
    /// stand-alone pace and for the objective, bitwise.
    @Test func paceHoldsPastTotalEpochs() throws {
        let pacing = SelfPacedPacing(totalEpochs: 10)
        let weights: [Float] = [3, 1, 4, 1, 5, 9, 2, 6]
        #expect(try pacing.learningPace(of: weights, epoch: 25) == pacing.learningPace(of: weights, epoch: 10))
        #expect(try pacing.learningPace(of: weights, epoch: 10) == 9)
        let shape = BatchShape(images: 2, classes: 5, height: 6, width: 7)
        var random = TestRandom(seed: 17)
        let b = random.batch(shape)
        func run(_ epoch: Double) throws -> (ObjectiveResult, [Float], [Float]) {
            var gx = [Float](repeating: 0, count: shape.logitCount), gd = [Float](repeating: 0, count: shape.pixelCount)
            let r = try HardPixelMiningObjective(.paperPaced(totalEpochs: 10)).evaluate(
                logits: b.logits, labels: b.labels, predictedLogDepth: b.predicted, groundTruthDepth: b.depth,
                shape: shape, epoch: epoch, logitGradient: &gx, depthGradient: &gd)
            return (r, gx, gd)
        }
        let atEnd = try run(10), past = try run(40)
        #expect(atEnd.0.sums == past.0.sums)
        #expect(atEnd.1 == past.1 && atEnd.2 == past.2)
        #expect(throws: HardPixelMiningError.self) { _ = try run(-1) }
    }
}
