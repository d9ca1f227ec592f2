import HardPixelMining
import HardPixelMiningTestSupport
import Testing

/// Channels-last (NHWC) logits: every entry point that takes logits gives bitwise the same
/// values, and a gradient that is bitwise the NCHW gradient transposed — so every golden
/// tolerance holds as it does for NCHW.
@Suite struct ChannelsLastTests {
    @Test(arguments: Fixtures.objectiveCases.map(\.name))
    func objectiveIsTheSameInEitherLayout(name: String) throws {
        let g = Fixtures.objectiveCase(name)
        let shape = g.batchShape, last = Layouts.channelsLast(shape)
        for threads in [1, 2] {
            var gx = [Float](repeating: .nan, count: shape.logitCount), gd = [Float](repeating: .nan, count: shape.pixelCount)
            var hx = gx, hd = gd
            let objective = HardPixelMiningObjective(g.configuration, threadCount: threads)
            let first = try objective.evaluate(
                logits: g.logitValues, labels: g.labelValues, predictedLogDepth: g.predictedLogDepth,
                groundTruthDepth: g.groundTruthDepth, shape: shape, epoch: g.epoch, logitGradient: &gx, depthGradient: &gd)
            let second = try objective.evaluate(
                logits: Layouts.channelsLast(g.logitValues, shape), labels: g.labelValues,
                predictedLogDepth: g.predictedLogDepth, groundTruthDepth: g.groundTruthDepth, shape: last,
                epoch: g.epoch, logitGradient: &hx, depthGradient: &hd)
            #expect(first.batch == second.batch && first.sums == second.sums, "\(name)")
            #expect(Layouts.channelsFirst(hx, shape).map(\.bitPattern) == gx.map(\.bitPattern), "\(name) logit gradient")
            #expect(hd.map(\.bitPattern) == gd.map(\.bitPattern), "\(name) depth gradient")
        }
    }

    @Test(arguments: Fixtures.torchCrossEntropyCases.map(\.name))
    func crossEntropyMatchesPyTorchChannelsLast(name: String) throws {
        let t = Fixtures.torchCrossEntropyCase(name)
        let shape = t.batchShape, last = Layouts.channelsLast(shape)
        let ce = t.crossEntropy
        var gradient = [Float](repeating: .nan, count: shape.logitCount)
        let r = try ce.evaluate(logits: Layouts.channelsLast(t.logitValues, shape), labels: t.labelValues, shape: last,
                                gradient: &gradient)
        #expect(Tolerance.lossMatches(r.value, t.value))
        #expect(Tolerance.firstGradientMismatch(Layouts.channelsFirst(gradient, shape), t.expectedGradient) == nil)
    }

    /// Class counts around the staging buffer (4096 floats): many pixels per block, one pixel
    /// per block, and more classes than a block holds (ordinary stores); with pixel weights,
    /// mining, accumulation, and the per-pixel losses.
    @Test(arguments: [(3, 2, 19, 23), (2, 150, 9, 31), (1, 4096, 3, 5), (1, 5000, 2, 3)])
    func crossEntropyEntryPointsAreTheSameInEitherLayout(shape dims: (Int, Int, Int, Int)) throws {
        let shape = BatchShape(images: dims.0, classes: dims.1, height: dims.2, width: dims.3)
        let last = Layouts.channelsLast(shape)
        var random = TestRandom(seed: UInt64(dims.1))
        let b = random.batch(shape)
        let weights = (0..<shape.pixelCount).map { _ in Float(random.uniform(0...2)) }
        let logitsLast = Layouts.channelsLast(b.logits, shape)
        let variants: [LabelSmoothedCrossEntropy] = [
            LabelSmoothedCrossEntropy(),
            LabelSmoothedCrossEntropy(smoothing: .pytorch(epsilon: 0.1), mining: .topFraction(0.3)),
            LabelSmoothedCrossEntropy(mining: .ohem(threshold: 0.7, minimumKept: 10, averageNonIgnored: true)),
            LabelSmoothedCrossEntropy(classWeights: (0..<shape.classes).map { Float($0 % 3) }, reduction: .mean, threadCount: 2),
        ]
        for ce in variants {
            for output in [GradientOutput.overwrite, .accumulate(scale: 0.5)] {
                /// The loss, its gradient and its per-pixel losses for `logits` laid out as `shape` says.
                func run(_ logits: [Float], _ shape: BatchShape) throws -> (CrossEntropyResult, [Float], [Float]) {
                    var g = [Float](repeating: 0.25, count: shape.logitCount)
                    var l = [Float](repeating: .nan, count: shape.pixelCount)
                    let r = try logits.withUnsafeBufferPointer { x in
                        try b.labels.withUnsafeBufferPointer { y in
                            try weights.withUnsafeBufferPointer { w in
                                try g.withUnsafeMutableBufferPointer { gx in
                                    try l.withUnsafeMutableBufferPointer { lx in
                                        try ce.evaluate(logits: x, labels: y, shape: shape, pixelWeights: w, gradient: gx,
                                                        pixelLosses: lx, gradientOutput: output)
                                    }
                                }
                            }
                        }
                    }
                    return (r, g, l)
                }
                let (first, g, l) = try run(b.logits, shape)
                let (second, h, m) = try run(logitsLast, last)
                #expect(first == second, "\(shape) \(ce)")
                #expect(Layouts.channelsFirst(h, shape).map(\.bitPattern) == g.map(\.bitPattern), "\(shape) \(ce) \(output)")
                #expect(l.map(\.bitPattern) == m.map(\.bitPattern))
            }
        }
    }

    /// The argmax, the error-prediction losses (statistics and fusion), and the multi-scale
    /// objective read channels-last logits as they read NCHW.
    @Test func otherEntryPointsAreTheSameInEitherLayout() throws {
        let shape = BatchShape(images: 2, classes: 7, height: 8, width: 9)
        let last = Layouts.channelsLast(shape)
        var random = TestRandom(seed: 77)
        let b = random.batch(shape), d = random.batch(shape)
        let x = Layouts.channelsLast(b.logits, shape), detail = Layouts.channelsLast(d.logits, shape)
        #expect(try DepthAwareSegmentationError.predictedClasses(logits: b.logits, shape: shape)
                == DepthAwareSegmentationError.predictedClasses(logits: x, shape: last))
        let prediction = ErrorPrediction()
        let errorLogits = (0..<shape.pixelCount).map { _ in Float(random.uniform(-3...3)) }
        #expect(try prediction.errorMap(segmentationLogits: b.logits, labels: b.labels, shape: shape)
                == prediction.errorMap(segmentationLogits: x, labels: b.labels, shape: last))
        let fusedFirst = try prediction.fuse(segmentationLogits: b.logits, detailLogits: d.logits, errorLogits: errorLogits, shape: shape)
        let fusedLast = try prediction.fuse(segmentationLogits: x, detailLogits: detail, errorLogits: errorLogits, shape: last)
        #expect(Layouts.channelsFirst(fusedLast, shape) == fusedFirst)
        var g1 = [Float](repeating: 0, count: shape.pixelCount), g2 = g1
        let l1 = try prediction.balancedLoss(errorLogits: errorLogits, segmentationLogits: b.logits, labels: b.labels, shape: shape, gradient: &g1)
        let l2 = try prediction.balancedLoss(errorLogits: errorLogits, segmentationLogits: x, labels: b.labels, shape: last, gradient: &g2)
        #expect(l1.value == l2.value && g1 == g2)

        // Multi-scale: a full-resolution output and a half-resolution side output.
        let small = BatchShape(images: 2, classes: 7, height: 4, width: 5)
        let s = random.batch(small)
        let outputs = [
            SideOutput(logits: b.logits, predictedLogDepth: b.predicted, height: 8, width: 9),
            SideOutput(logits: s.logits, predictedLogDepth: s.predicted, height: 4, width: 5, weight: 0.5),
        ]
        let outputsLast = [
            SideOutput(logits: x, predictedLogDepth: b.predicted, height: 8, width: 9),
            SideOutput(logits: Layouts.channelsLast(s.logits, small), predictedLogDepth: s.predicted, height: 4, width: 5, weight: 0.5),
        ]
        let multi = MultiScaleObjective(.paper)
        var ga = outputs.map { [Float](repeating: 0, count: $0.logits.count) }, gb = ga
        var da = outputs.map { [Float](repeating: 0, count: $0.predictedLogDepth.count) }, db = da
        let r1 = try multi.evaluate(outputs: outputs, labels: b.labels, groundTruthDepth: b.depth, shape: shape, epoch: 12,
                                    logitGradients: &ga, depthGradients: &da)
        let r2 = try multi.evaluate(outputs: outputsLast, labels: b.labels, groundTruthDepth: b.depth, shape: last, epoch: 12,
                                    logitGradients: &gb, depthGradients: &db)
        #expect(r1.value == r2.value && da == db)
        #expect(Layouts.channelsFirst(gb[0], shape) == ga[0] && Layouts.channelsFirst(gb[1], small) == ga[1])
    }

    /// A non-finite logit is reported at its index in the caller's (NHWC) buffer, with the
    /// gradient zero-filled by the one-pass cross-entropy as in NCHW.
    @Test func nonFiniteChannelsLastLogitIsReportedAtItsIndex() {
        let shape = Layouts.channelsLast(BatchShape(images: 2, classes: 3, height: 4, width: 5))
        var random = TestRandom(seed: 9)
        var logits = random.batch(shape).logits
        let labels = [Int32](repeating: 1, count: shape.pixelCount)
        logits[77] = .nan
        var g = [Float](repeating: 7, count: shape.logitCount)
        #expect(throws: HardPixelMiningError.self) {
            try LabelSmoothedCrossEntropy().evaluate(logits: logits, labels: labels, shape: shape, gradient: &g)
        }
        do {
            _ = try HardPixelMiningObjective(.segmentationOnly).evaluate(logits: logits, labels: labels, shape: shape)
        } catch let e as HardPixelMiningError {
            if case .nonFiniteValue(let argument, let index, _) = e {
                #expect(argument == "logits" && index == 77)
            } else {
                Issue.record("unexpected \(e)")
            }
        } catch { Issue.record("unexpected \(error)") }
        #expect(g.allSatisfy { $0 == 0 })
    }
}
