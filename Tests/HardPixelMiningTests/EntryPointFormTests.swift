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

        var px: [Float]? = [Float](repeating: 1, count: shape.logitCount), pd: [Float]? = [Float](repeating: 1, count: shape.pixelCount)
        var noMaps: PixelMapArrays? = nil
        let pointer = try objective.evaluateThroughPointers(
            logits: b.logits, labels: b.labels, predictedLogDepth: b.predicted, groundTruthDepth: b.depth, shape: shape,
            epoch: 12, logitGradient: &px, depthGradient: &pd, maps: &noMaps, workspace: ObjectiveWorkspace())
        #expect(pointer == array && px! == gx && pd! == gd)

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

    /// The cross-entropy's array, pointer and Span forms give the same result and gradient.
    @Test func crossEntropyFormsAgree() throws {
        let shape = BatchShape(images: 2, classes: 4, height: 5, width: 6)
        var random = TestRandom(seed: 31)
        let b = random.batch(shape)
        let ce = LabelSmoothedCrossEntropy(smoothing: .pytorch(epsilon: 0.1), classWeights: [1, 2, 0.5, 1], reduction: .mean)
        var gx = [Float](repeating: 1, count: shape.logitCount)
        let array = try ce.evaluate(logits: b.logits, labels: b.labels, shape: shape, gradient: &gx)
        var px = [Float](repeating: 3, count: shape.logitCount)
        let pointer = try b.logits.withUnsafeBufferPointer { x in
            try b.labels.withUnsafeBufferPointer { y in
                try px.withUnsafeMutableBufferPointer { g in try ce.evaluate(logits: x, labels: y, shape: shape, gradient: g) }
            }
        }
        #expect(pointer == array && px == gx)
        #if compiler(>=6.2)
        var sx = [Float](repeating: 2, count: shape.logitCount)
        var spanX = sx.mutableSpan
        let span = try ce.evaluate(logits: b.logits.span, labels: b.labels.span, shape: shape, gradient: &spanX)
        _ = consume spanX
        #expect(span == array && sx == gx)
        #endif
    }
}
