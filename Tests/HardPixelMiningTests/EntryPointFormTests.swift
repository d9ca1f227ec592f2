import HardPixelMining
import HardPixelMiningTestSupport
import Testing

/// The objective's array, pointer and Span forms are one computation: bitwise equal values
/// and gradients.
@Suite struct EntryPointFormTests {
    @Test func arrayPointerAndSpanFormsAgreeBitwise() throws {
        let shape = BatchShape(images: 2, classes: 5, height: 9, width: 11)
        var random = TestRandom(seed: 21)
        let b = random.batch(shape)
        let objective = HardPixelMiningObjective(.paperPaced(totalEpochs: 20))
        var gx = [Float](repeating: 0, count: shape.logitCount), gd = [Float](repeating: 0, count: shape.pixelCount)
        let array = try objective.evaluate(
            logits: b.logits, labels: b.labels, predictedLogDepth: b.predicted, groundTruthDepth: b.depth, shape: shape,
            epoch: 12, logitGradient: &gx, depthGradient: &gd)

        var px = [Float](repeating: 1, count: shape.logitCount), pd = [Float](repeating: 1, count: shape.pixelCount)
        let pointer = try b.logits.withUnsafeBufferPointer { x in
            try b.labels.withUnsafeBufferPointer { y in
                try b.predicted.withUnsafeBufferPointer { d in
                    try b.depth.withUnsafeBufferPointer { dStar in
                        try px.withUnsafeMutableBufferPointer { g in
                            try pd.withUnsafeMutableBufferPointer { h in
                                try objective.evaluate(
                                    logits: x, labels: y, predictedLogDepth: d, groundTruthDepth: dStar, shape: shape,
                                    epoch: 12, logitGradient: g, depthGradient: h, workspace: ObjectiveWorkspace())
                            }
                        }
                    }
                }
            }
        }
        #expect(pointer == array && px == gx && pd == gd)

        #if compiler(>=6.2)
        var sx = [Float](repeating: 2, count: shape.logitCount), sd = [Float](repeating: 2, count: shape.pixelCount)
        var spanX = sx.mutableSpan, spanD = sd.mutableSpan
        let span = try objective.evaluate(
            logits: b.logits.span, labels: b.labels.span, predictedLogDepth: b.predicted.span,
            groundTruthDepth: b.depth.span, shape: shape, epoch: 12, logitGradient: &spanX, depthGradient: &spanD)
        _ = consume spanX
        _ = consume spanD
        #expect(span == array && sx == gx && sd == gd)
        #endif
    }
}
