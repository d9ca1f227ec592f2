import HardPixelMining
import HardPixelMiningTestSupport
import Testing

/// What passes validation but a trainer should hear about (``ObjectiveResult/notices``).
@Suite struct ObjectiveNoticeTests {
    static let shape = BatchShape(images: 2, classes: 4, height: 5, width: 6)

    static func notices(_ c: ObjectiveConfiguration, depth: (Int) -> Float) throws -> [ObjectiveNotice] {
        var random = TestRandom(seed: 8)
        let b = random.batch(shape)
        let d = (0..<shape.pixelCount).map(depth)
        return try HardPixelMiningObjective(c).evaluate(
            logits: b.logits, labels: b.labels, predictedLogDepth: b.predicted, groundTruthDepth: d, shape: shape, epoch: 5
        ).notices
    }

    @Test func betaSwitchBeyondThePacedEpochsIsReported() throws {
        let rawScale = { (i: Int) in Float(1 + (i * 37) % 250) }
        // The paper's β switches on at epoch 10: within 40 epochs, never within 8.
        #expect(try Self.notices(.paperPaced(totalEpochs: 40), depth: rawScale).isEmpty)
        #expect(try Self.notices(.paperPaced(totalEpochs: 8), depth: rawScale)
            == [.depthPredictionErrorNeverSwitchesOn(switchEpoch: 10, totalEpochs: 8)])
    }

    @Test func depthInMetresUnderThePaperBinningIsReported() throws {
        let metres = { (i: Int) in Float(1 + (i % 9)) }  // 1...9 m: all in the paper's first bin (1..<11)
        let notices = try Self.notices(.paper, depth: metres)
        #expect(notices == [.depthInFirstBin(largestValidDepth: 9, firstBinEnd: 11)])
        #expect(notices[0].description.contains("first depth bin"))
        // The same depths under the metric binning, and raw-scale depth under the paper's: nothing.
        var metric = ObjectiveConfiguration.paper
        metric.depthBinning = .metric
        #expect(try Self.notices(metric, depth: { Float(0.5 + Double($0 % 9)) }).isEmpty)
        #expect(try Self.notices(.paper, depth: { Float(1 + ($0 * 37) % 250) }).isEmpty)
    }
}
