import HardPixelMining
import HardPixelMiningReference
import HardPixelMiningTestSupport
import Testing

/// A caller's per-pixel map as an additive term of the objective (``PixelWeightMapTerm``),
/// alone and composed with DPE, DSE, focal, class weights and pacing, against the float64
/// NumPy reference; finite differences; bad input.
@Suite struct PixelWeightMapTermTests {
    static let names = Fixtures.weightingCases.filter { $0.pixelWeightMap != nil }.map(\.name)

    @Test(arguments: names)
    func matchesReference(name: String) throws {
        let g = Fixtures.weightingCase(name)
        try expectObjectiveMatches(g)
        try expectObjectiveMatches(g, threads: 2)
        // The per-pixel maps: W_i = m_i A_i and the modulated loss.
        let shape = g.batchShape
        var w = [Float](repeating: .nan, count: shape.pixelCount), loss = w
        try g.logitValues.withUnsafeBufferPointer { x in
            try g.labelValues.withUnsafeBufferPointer { y in
                try g.predictedLogDepth.withUnsafeBufferPointer { d in
                    try g.groundTruthDepth.withUnsafeBufferPointer { dStar in
                        try g.pixelWeightMap!.withUnsafeBufferPointer { map in
                            try w.withUnsafeMutableBufferPointer { w in
                                try loss.withUnsafeMutableBufferPointer { loss in
                                    _ = try HardPixelMiningObjective(g.configuration).evaluate(
                                        logits: x, labels: y, predictedLogDepth: d, groundTruthDepth: dStar, shape: shape,
                                        epoch: g.epoch, maps: ObjectiveMaps(lossWeights: w, pixelLosses: loss),
                                        pixelWeightMap: map)
                                }
                            }
                        }
                    }
                }
            }
        }
        #expect(Tolerance.firstGradientMismatch(w, g.expectedPixelLossWeights) == nil)
        #expect(Tolerance.firstGradientMismatch(loss, g.expectedModulatedLosses!) == nil)
    }

    @Test(arguments: names)
    func scalarReferenceMatchesNumPy(name: String) {
        let g = Fixtures.weightingCase(name)
        let r = expectScalarReferenceMatches(g)
        #expect(Tolerance.lossMatches(r.batch.pixelWeightMap, g.batch.map!))
    }

    /// Central differences in Float64 of the scalar reference with a map term (and focal).
    @Test(arguments: [false, true])
    func gradientMatchesFiniteDifferences(focal: Bool) {
        let shape = FiniteDifferenceTests.shape
        var c = ObjectiveConfiguration.paper
        c.pixelWeightMap = PixelWeightMapTerm(coefficient: 1.5)
        if focal { c.focal = FocalModulation(focusing: 2) }
        var random = TestRandom(seed: 21)
        let map = (0..<shape.pixelCount).map { _ in random.uniform(0...2) }
        let input = FiniteDifferenceTests.input(seed: 7)
        func objective(_ logits: [Double]) -> ScalarReference.Output<Double> {
            ScalarReference.evaluate(
                logits: logits, labels: input.labels, predictedLogDepth: input.predicted, groundTruthDepth: input.depth,
                shape: shape, configuration: c, epoch: 12, pixelWeightMap: map)
        }
        let numeric = FiniteDifference.gradient(
            of: { objective($0).batch.objective }, at: input.logits, indices: Array(input.logits.indices))
        FiniteDifferenceTests.expectClose(numeric, objective(input.logits).logitGradient, "logit")
    }

    #if compiler(>=6.2)
    /// The Span form takes the map too, with the same result as the array form.
    @Test func spanFormTakesTheMap() throws {
        let g = Fixtures.weightingCase("hpm_map")
        let shape = g.batchShape
        var ax = [Float](repeating: 0, count: shape.logitCount), ad = [Float](repeating: 0, count: shape.pixelCount)
        let array = try HardPixelMiningObjective(g.configuration).evaluate(
            logits: g.logitValues, labels: g.labelValues, predictedLogDepth: g.predictedLogDepth,
            groundTruthDepth: g.groundTruthDepth, shape: shape, epoch: g.epoch, logitGradient: &ax, depthGradient: &ad,
            pixelWeightMap: g.pixelWeightMap)
        var sx = [Float](repeating: 0, count: shape.logitCount), sd = [Float](repeating: 0, count: shape.pixelCount)
        var gx = sx.mutableSpan, gd = sd.mutableSpan
        let (logits, labels, predicted, depth, map) = (g.logitValues, g.labelValues, g.predictedLogDepth, g.groundTruthDepth, g.pixelWeightMap!)
        let span = try HardPixelMiningObjective(g.configuration).evaluate(
            logits: logits.span, labels: labels.span, predictedLogDepth: predicted.span, groundTruthDepth: depth.span,
            shape: shape, epoch: g.epoch, logitGradient: &gx, depthGradient: &gd, pixelWeightMap: map.span)
        _ = consume gx
        _ = consume gd
        #expect(span.value == array.value && sx == ax && sd == ad)
    }
    #endif

    /// A map of zeros adds nothing: the objective is bitwise the one without the term.
    @Test func zeroMapChangesNoBit() throws {
        let shape = BatchShape(images: 2, classes: 6, height: 9, width: 10)
        var random = TestRandom(seed: 5)
        let b = random.batch(shape)
        var c = ObjectiveConfiguration.paperPaced(totalEpochs: 40)
        var g1 = [Float](repeating: 0, count: shape.logitCount), g2 = g1
        var d1 = [Float](repeating: 0, count: shape.pixelCount), d2 = d1
        let without = try HardPixelMiningObjective(c).evaluate(
            logits: b.logits, labels: b.labels, predictedLogDepth: b.predicted, groundTruthDepth: b.depth,
            shape: shape, epoch: 20, logitGradient: &g1, depthGradient: &d1)
        c.pixelWeightMap = PixelWeightMapTerm(coefficient: 3)
        let with = try HardPixelMiningObjective(c).evaluate(
            logits: b.logits, labels: b.labels, predictedLogDepth: b.predicted, groundTruthDepth: b.depth,
            shape: shape, epoch: 20, logitGradient: &g2, depthGradient: &d2,
            pixelWeightMap: [Float](repeating: 0, count: shape.pixelCount))
        #expect(without.value == with.value)
        #expect(g1 == g2 && d1 == d2)
    }

    /// Docs/Objective.md's example of a caller's map, as printed; L_M by hand.
    @Test func documentationExampleRuns() throws {
        let shape = BatchShape(images: 1, classes: 2, height: 2, width: 3)
        let logits: [Float] = [1, 0, -1, 2, 0.5, 0, 0, 1, 1, -1, 0.5, 2]  // NCHW
        let labels: [Int32] = [0, 1, 1, 0, 255, 1]
        let depth: [Float] = [2, 5, 9, 30, 60, 120]
        let logDepth: [Float] = [0.8, 1.5, 2.3, 3.3, 4.2, 4.9]
        let boundary: [Float] = [0, 1, 1, 0, 0, 2]  // your map: here, pixels near a class boundary

        var configuration = ObjectiveConfiguration.paper
        configuration.pixelWeightMap = PixelWeightMapTerm(coefficient: 0.5)
        var dx = [Float](repeating: 0, count: shape.logitCount)
        var dd = [Float](repeating: 0, count: shape.pixelCount)
        let r = try HardPixelMiningObjective(configuration).evaluate(
            logits: logits, labels: labels, predictedLogDepth: logDepth, groundTruthDepth: depth,
            shape: shape, epoch: 12, logitGradient: &dx, depthGradient: &dd, pixelWeightMap: boundary)
        print(r.value, r.batch.pixelWeightMap)
        let reference = ScalarReference.evaluate(
            logits: logits.map(Double.init), labels: labels, predictedLogDepth: logDepth.map(Double.init),
            groundTruthDepth: depth.map(Double.init), shape: shape, configuration: configuration, epoch: 12,
            pixelWeightMap: boundary.map(Double.init))
        #expect(r.batch.pixelWeightMap > 0)
        #expect(Tolerance.lossMatches(r.batch.pixelWeightMap, reference.batch.pixelWeightMap))
        #expect(Tolerance.lossMatches(r.value, reference.batch.objective))
    }

    @Test func badMapsThrowNamingTheArgumentAndTouchNothing() throws {
        let shape = BatchShape(images: 1, classes: 3, height: 2, width: 2)
        let logits = [Float](repeating: 0, count: shape.logitCount), labels: [Int32] = [0, 1, 2, 255]
        let depth: [Float] = [2, 3, 4, 5], logDepth: [Float] = [0, 1, 1, 1]
        var c = ObjectiveConfiguration.paper
        c.pixelWeightMap = PixelWeightMapTerm(coefficient: 1)
        func expectError(_ c: ObjectiveConfiguration, _ map: [Float]?, _ argument: String) {
            var gx = [Float](repeating: 7, count: shape.logitCount), gd = [Float](repeating: 7, count: shape.pixelCount)
            do {
                _ = try HardPixelMiningObjective(c).evaluate(
                    logits: logits, labels: labels, predictedLogDepth: logDepth, groundTruthDepth: depth, shape: shape,
                    epoch: 12, logitGradient: &gx, depthGradient: &gd, pixelWeightMap: map)
                Issue.record("no error for \(argument)")
            } catch let error as HardPixelMiningError {
                #expect(error.argument == argument, "\(error)")
            } catch { Issue.record("\(error)") }
            #expect(gx.allSatisfy { $0 == 7 } && gd.allSatisfy { $0 == 7 }, "\(argument): output touched")
        }
        expectError(c, nil, "pixelWeightMap")
        expectError(c, [1, 1, 1], "pixelWeightMap")
        expectError(c, [1, .nan, 1, 1], "pixelWeightMap")
        expectError(c, [1, 1, -0.5, 1], "pixelWeightMap[2]")
        expectError(c, [1, 1, 2e6, 1], "pixelWeightMap[2]")
        expectError(.paper, [1, 1, 1, 1], "pixelWeightMap")
        var badCoefficient = c
        badCoefficient.pixelWeightMap = PixelWeightMapTerm(coefficient: -1)
        expectError(badCoefficient, [1, 1, 1, 1], "configuration.pixelWeightMap.coefficient")
        var pacedWithoutPacing = c
        pacedWithoutPacing.pixelWeightMap = PixelWeightMapTerm(coefficient: 1, paced: true)
        expectError(pacedWithoutPacing, [1, 1, 1, 1], "configuration.pixelWeightMap.paced")
    }
}
