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

    static let halfShape = BatchShape(images: 2, classes: 5, height: 6, width: 8)

    /// A configuration that uses every per-pixel term, and its inputs with Float16 logits.
    static func halfInputs() -> (objective: HardPixelMiningObjective, logits: [Float16], labels: [Int32],
                                 predicted: [Float], depth: [Float], map: [Float]) {
        var random = TestRandom(seed: 41)
        let b = random.batch(halfShape)
        var c = ObjectiveConfiguration.paperPaced(totalEpochs: 20)
        c.pixelWeightMap = PixelWeightMapTerm(coefficient: 0.5, paced: true)
        c.focal = FocalModulation(focusing: 2)
        let map = (0..<halfShape.pixelCount).map { _ in Float(random.uniform(0...2)) }
        return (HardPixelMiningObjective(c), b.logits.map { Float16($0) }, b.labels, b.predicted, b.depth, map)
    }

    /// Half-precision logits, a caller's map and the per-pixel maps through the objective's
    /// pointer, array and Span forms: bitwise the same result, gradients and maps.
    @Test func objectiveFormsTakeEveryOption() throws {
        let shape = Self.halfShape
        let v = Self.halfInputs()
        var gx = [Float16](repeating: 0, count: shape.logitCount), gd = [Float](repeating: 0, count: shape.pixelCount)
        var maps = ObjectiveMapArrays(shape: shape, lossWeights: true, pixelLosses: true, depthPredictionError: true, segmentationError: true)
        let array = try v.objective.evaluate(
            logits: v.logits, labels: v.labels, predictedLogDepth: v.predicted, groundTruthDepth: v.depth, shape: shape,
            epoch: 12, logitGradient: &gx, depthGradient: &gd, maps: &maps, pixelWeightMap: v.map)
        #expect(maps.lossWeights!.contains { $0 > 1 } && maps.pixelLosses!.contains { $0 > 0 })

        var px = [Float16](repeating: 1, count: shape.logitCount), pd = [Float](repeating: 1, count: shape.pixelCount)
        var w = [Float](repeating: -1, count: shape.pixelCount), l = w, r = w, z = w
        let pointer = try v.logits.withUnsafeBufferPointer { x in
            try v.labels.withUnsafeBufferPointer { y in
                try v.predicted.withUnsafeBufferPointer { d in
                    try v.depth.withUnsafeBufferPointer { dStar in
                        try v.map.withUnsafeBufferPointer { m in
                            try px.withUnsafeMutableBufferPointer { gx in
                                try pd.withUnsafeMutableBufferPointer { gd in
                                    try w.withUnsafeMutableBufferPointer { w in
                                        try l.withUnsafeMutableBufferPointer { l in
                                            try r.withUnsafeMutableBufferPointer { r in
                                                try z.withUnsafeMutableBufferPointer { z in
                                                    try v.objective.evaluate(
                                                        logits: x, labels: y, predictedLogDepth: d, groundTruthDepth: dStar,
                                                        shape: shape, epoch: 12, logitGradient: gx, depthGradient: gd,
                                                        maps: ObjectiveMaps(lossWeights: w, pixelLosses: l, depthPredictionError: r, segmentationError: z),
                                                        pixelWeightMap: m)
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        #expect(pointer == array)
        #expect(px.map(\.bitPattern) == gx.map(\.bitPattern) && pd == gd)
        #expect(w == maps.lossWeights! && l == maps.pixelLosses! && r == maps.depthPredictionError! && z == maps.segmentationError!)

        #if compiler(>=6.2)
        var sx = [Float16](repeating: 2, count: shape.logitCount), sd = [Float](repeating: 2, count: shape.pixelCount)
        var sw = [Float](repeating: -2, count: shape.pixelCount)
        var spanX = sx.mutableSpan, spanD = sd.mutableSpan
        let span = try sw.withUnsafeMutableBufferPointer { sw in
            try v.objective.evaluate(
                logits: v.logits.span, labels: v.labels.span, predictedLogDepth: v.predicted.span,
                groundTruthDepth: v.depth.span, shape: shape, epoch: 12, logitGradient: &spanX, depthGradient: &spanD,
                maps: ObjectiveMaps(lossWeights: sw), pixelWeightMap: v.map.span)
        }
        _ = consume spanX
        _ = consume spanD
        #expect(span == array && sx.map(\.bitPattern) == gx.map(\.bitPattern) && sd == gd && sw == maps.lossWeights!)
        #endif
    }

    /// Half-precision logits, pixel weights and per-pixel losses through the cross-entropy's
    /// pointer, array and Span forms.
    @Test func crossEntropyFormsTakeEveryOption() throws {
        let shape = Self.halfShape
        let v = Self.halfInputs()
        let ce = LabelSmoothedCrossEntropy(classWeights: [1, 2, 0.5, 1, 3], reduction: .mean, focal: FocalModulation(focusing: 1.5))
        var gx = [BFloat16](repeating: BFloat16(0), count: shape.logitCount), lx = [Float](repeating: -1, count: shape.pixelCount)
        let logits = v.logits.map { BFloat16(Float($0)) }
        let array = try ce.evaluate(
            logits: logits, labels: v.labels, shape: shape, pixelWeights: v.map, gradient: &gx, pixelLosses: &lx,
            gradientOutput: .accumulate(scale: 2))
        var px = [BFloat16](repeating: BFloat16(0), count: shape.logitCount), lp = [Float](repeating: -1, count: shape.pixelCount)
        let pointer = try logits.withUnsafeBufferPointer { x in
            try v.labels.withUnsafeBufferPointer { y in
                try v.map.withUnsafeBufferPointer { w in
                    try px.withUnsafeMutableBufferPointer { g in
                        try lp.withUnsafeMutableBufferPointer { l in
                            try ce.evaluate(logits: x, labels: y, shape: shape, pixelWeights: w, gradient: g, pixelLosses: l,
                                            gradientOutput: .accumulate(scale: 2))
                        }
                    }
                }
            }
        }
        #expect(pointer == array && px == gx && lp == lx && lx.contains { $0 > 0 })
        #if compiler(>=6.2)
        var sx = [BFloat16](repeating: BFloat16(0), count: shape.logitCount), sl = [Float](repeating: -1, count: shape.pixelCount)
        var spanX = sx.mutableSpan, spanL = sl.mutableSpan
        let span = try ce.evaluate(
            logits: logits.span, labels: v.labels.span, shape: shape, pixelWeights: v.map.span, gradient: &spanX,
            pixelLosses: &spanL, gradientOutput: .accumulate(scale: 2))
        _ = consume spanX
        _ = consume spanL
        #expect(span == array && sx == gx && sl == lx)
        #endif
    }

    /// The multi-scale objective with half-precision side outputs and per-output maps: each
    /// output's result, gradient and maps are the objective's on that output (an output at the
    /// input's size sees the labels and depth unchanged).
    @Test func multiScaleTakesHalfPrecisionAndMaps() throws {
        let shape = Self.halfShape
        let v = Self.halfInputs()
        let multi = MultiScaleObjective(v.objective.configuration)
        let small = BatchShape(images: 2, classes: 5, height: 3, width: 4)
        var random = TestRandom(seed: 43)
        let s = random.batch(small)
        let outputs = [
            SideOutput(logits: v.logits, predictedLogDepth: v.predicted, height: 6, width: 8, weight: 1),
            SideOutput(logits: s.logits.map { Float16($0) }, predictedLogDepth: s.predicted, height: 3, width: 4, weight: 0.5),
        ]
        var gx: [[Float16]] = [[Float16](repeating: 0, count: shape.logitCount), [Float16](repeating: 0, count: small.logitCount)]
        var gd: [[Float]] = [[Float](repeating: 0, count: shape.pixelCount), [Float](repeating: 0, count: small.pixelCount)]
        var w0 = [Float](repeating: -1, count: shape.pixelCount), w1 = [Float](repeating: -1, count: small.pixelCount)
        let result = try w0.withUnsafeMutableBufferPointer { w0 in
            try w1.withUnsafeMutableBufferPointer { w1 in
                try multi.evaluate(
                    outputs: outputs, labels: v.labels, groundTruthDepth: v.depth, shape: shape, epoch: 12,
                    logitGradients: &gx, depthGradients: &gd, maps: [ObjectiveMaps(lossWeights: w0), ObjectiveMaps(lossWeights: w1)],
                    pixelWeightMap: v.map)
            }
        }
        var ox = [Float16](repeating: 0, count: shape.logitCount), od = [Float](repeating: 0, count: shape.pixelCount)
        var maps = ObjectiveMapArrays(shape: shape, lossWeights: true)
        let alone = try v.objective.evaluate(
            logits: v.logits, labels: v.labels, predictedLogDepth: v.predicted, groundTruthDepth: v.depth, shape: shape,
            epoch: 12, logitGradient: &ox, depthGradient: &od, maps: &maps, pixelWeightMap: v.map)
        #expect(result.outputs[0] == alone)
        #expect(gx[0].map(\.bitPattern) == ox.map(\.bitPattern) && gd[0] == od && w0 == maps.lossWeights!)
        #expect(w1.allSatisfy { $0 >= 0 } && w1.contains { $0 > 0 })
        #expect(result.value == result.outputs[0].value + 0.5 * result.outputs[1].value)
        // One map per output, or none.
        #expect(throws: HardPixelMiningError.wrongCount(argument: "maps", expected: 2, actual: 1)) {
            try multi.evaluate(
                outputs: outputs, labels: v.labels, groundTruthDepth: v.depth, shape: shape, epoch: 12,
                logitGradients: &gx, depthGradients: &gd, maps: [ObjectiveMaps()], pixelWeightMap: v.map)
        }
    }
}
