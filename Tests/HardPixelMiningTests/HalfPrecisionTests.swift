import HardPixelMining
import HardPixelMiningTestSupport
import Testing

#if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
/// Float16 where Swift has it.
typealias TestHalf = Float16
#endif

/// How a test makes and reads one half-precision type, by means independent of the package:
/// Swift's own Float16 conversions, and bfloat16 as the upper half of a Float's bits.
struct HalfFormat<Scalar: LogitScalar> {
    /// An exactly representable Float as the type (traps if it is not: the fixtures are).
    var exact: (Float) -> Scalar
    var float: (Scalar) -> Float
    /// The nearest value, ties to even, saturated at the largest finite value.
    var nearest: (Float) -> Scalar
    var bits: (Scalar) -> UInt16

    static var bfloat16: HalfFormat<BFloat16> {
        HalfFormat<BFloat16>(
            exact: { x in
                precondition(x.bitPattern & 0xffff == 0, "\(x) is not a bfloat16")
                return BFloat16(bitPattern: UInt16(x.bitPattern >> 16))
            },
            float: { Float(bitPattern: UInt32($0.bitPattern) << 16) },
            nearest: { BFloat16(bitPattern: HalfPrecisionTests.nearestBFloat16Bits($0)) },
            bits: \.bitPattern)
    }

    #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
    static var float16: HalfFormat<Float16> {
        HalfFormat<Float16>(
            exact: { x in
                let h = Float16(x)
                precondition(Float(h) == x, "\(x) is not a Float16")
                return h
            },
            float: { Float($0) },
            nearest: { x in
                let h = Float16(x)
                return h.isInfinite ? (x < 0 ? -Float16.greatestFiniteMagnitude : .greatestFiniteMagnitude) : h
            },
            bits: \.bitPattern)
    }
    #endif
}

/// Half-precision logits and gradients (Float16, bfloat16): the float64 reference evaluated
/// on the same half-precision inputs (Tests/Fixtures/half_precision.json), LogitPrecision's
/// stated tolerance, rounding once to nearest even, and the conversions themselves.
@Suite struct HalfPrecisionTests {
    static let names = Fixtures.halfPrecisionCases.map(\.name)

    /// The nearest bfloat16 to `x` (ties to even; saturated at the largest finite value),
    /// chosen in Double between the two bfloat16 values around `x`.
    static func nearestBFloat16Bits(_ x: Float) -> UInt16 {
        let down = UInt16(x.bitPattern >> 16)  // toward zero
        let lower = Double(Float(bitPattern: UInt32(down) << 16))
        let upper = Double(Float(bitPattern: UInt32(down &+ 1) << 16))
        if upper.isInfinite { return down }
        let below = abs(Double(x) - lower), above = abs(upper - Double(x))
        if below != above { return below < above ? down : down &+ 1 }
        return down & 1 == 0 ? down : down &+ 1
    }

    /// One case through the objective (and, for L_seg alone, the cross-entropy) with its
    /// logits as `Scalar`, in `layout`, at 1 and 2 threads; returns the NCHW logit gradients.
    func check<Scalar: LogitScalar>(_ g: GoldenCase, _ format: HalfFormat<Scalar>, layout: LogitLayout) throws {
        let precision = Scalar.logitPrecision
        var shape = g.batchShape
        let nchw = g.logitValues.map(format.exact)
        shape.logitLayout = layout
        let logits = layout == .channelsLast ? Layouts.channelsLast(nchw, g.batchShape) : nchw
        let zero = format.exact(0)
        var gradients: [[UInt16]] = []
        for threads in [1, 2] {
            var gx = [Scalar](repeating: zero, count: shape.logitCount)
            var gd = [Float](repeating: .nan, count: shape.pixelCount)
            let r = try HardPixelMiningObjective(g.configuration, threadCount: threads).evaluate(
                logits: logits, labels: g.labelValues, predictedLogDepth: g.predictedLogDepth,
                groundTruthDepth: g.groundTruthDepth, shape: shape, epoch: g.epoch, logitGradient: &gx, depthGradient: &gd)
            expectTerms(r.batch, g.batch, "\(g.name) \(layout) \(threads) threads")
            for (k, (actual, expected)) in zip(r.images, g.images).enumerated() {
                expectTerms(actual, expected, "\(g.name) image \(k)")
            }
            let gradient = layout == .channelsLast ? Layouts.channelsFirst(gx, g.batchShape) : gx
            let mismatch = Tolerance.firstHalfPrecisionGradientMismatch(gradient.map(format.float), g.expectedLogitGradient, precision)
            #expect(mismatch == nil, "\(g.name) \(layout) logit gradient \(String(describing: mismatch))")
            #expect(Tolerance.firstGradientMismatch(gd, g.expectedDepthGradient) == nil, "\(g.name) depth gradient")
            gradients.append(gradient.map(format.bits))
        }
        #expect(gradients[0] == gradients[1], "\(g.name): bitwise the same at 1 and 2 threads")
        if !g.configuration.needsGroundTruthDepth && !g.configuration.pacesSegmentation {
            let c = g.configuration
            var gx = [Scalar](repeating: zero, count: shape.logitCount)
            let r = try LabelSmoothedCrossEntropy(smoothing: c.smoothing, classWeights: c.classWeights, reduction: c.reduction)
                .evaluate(logits: logits, labels: g.labelValues, shape: shape, gradient: &gx)
            expectCrossEntropyTerms(r, g, "\(g.name) cross-entropy")
            let gradient = layout == .channelsLast ? Layouts.channelsFirst(gx, g.batchShape) : gx
            let mismatch = Tolerance.firstHalfPrecisionGradientMismatch(gradient.map(format.float), g.expectedLogitGradient, precision)
            #expect(mismatch == nil, "\(g.name) cross-entropy gradient \(String(describing: mismatch))")
        }
    }

    @Test(arguments: names, LogitLayout.allCases)
    func halfPrecisionMatchesReferenceOnTheSameInputs(name: String, layout: LogitLayout) throws {
        let g = Fixtures.halfPrecisionCase(name)
        switch g.precision {
        case "bfloat16": try check(g, HalfFormat<BFloat16>.bfloat16, layout: layout)
        case "float16":
            #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
            try check(g, HalfFormat<TestHalf>.float16, layout: layout)
            #endif
        default: Issue.record("unknown precision \(String(describing: g.precision))")
        }
    }

    /// The half-precision gradient is the Float gradient of the same (widened) logits rounded
    /// once, to nearest even — bitwise, for every element of every case and both layouts.
    func checkRoundedOnce<Scalar: LogitScalar>(_ g: GoldenCase, _ format: HalfFormat<Scalar>, layout: LogitLayout) throws {
        var shape = g.batchShape
        shape.logitLayout = layout
        let floats = layout == .channelsLast ? Layouts.channelsLast(g.logitValues, g.batchShape) : g.logitValues
        let objective = HardPixelMiningObjective(g.configuration)
        var gf = [Float](repeating: .nan, count: shape.logitCount), gd = [Float](repeating: .nan, count: shape.pixelCount)
        let single = try objective.evaluate(
            logits: floats, labels: g.labelValues, predictedLogDepth: g.predictedLogDepth, groundTruthDepth: g.groundTruthDepth,
            shape: shape, epoch: g.epoch, logitGradient: &gf, depthGradient: &gd)
        var gh = [Scalar](repeating: format.exact(0), count: shape.logitCount), hd = gd
        let half = try objective.evaluate(
            logits: floats.map(format.exact), labels: g.labelValues, predictedLogDepth: g.predictedLogDepth,
            groundTruthDepth: g.groundTruthDepth, shape: shape, epoch: g.epoch, logitGradient: &gh, depthGradient: &hd)
        #expect(single.batch == half.batch && single.sums == half.sums, "\(g.name): the same values")
        #expect(gh.map(format.bits) == gf.map { format.bits(format.nearest($0)) }, "\(g.name) \(layout)")
        #expect(hd.map(\.bitPattern) == gd.map(\.bitPattern))
    }

    @Test(arguments: names, LogitLayout.allCases)
    func halfGradientIsTheFloatGradientRoundedOnce(name: String, layout: LogitLayout) throws {
        let g = Fixtures.halfPrecisionCase(name)
        if g.precision == "bfloat16" { try checkRoundedOnce(g, HalfFormat<BFloat16>.bfloat16, layout: layout) }
        #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
        if g.precision == "float16" { try checkRoundedOnce(g, HalfFormat<TestHalf>.float16, layout: layout) }
        #endif
    }

    // MARK: Conversions

    #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
    @Test func everyFloat16WidensAsSwiftConvertsIt() {
        let all = (0...UInt16.max).map { Float16(bitPattern: $0) }
        let widened = [Float](widening: all)
        for (h, f) in zip(all, widened) {
            if h.isNaN { #expect(f.isNaN, "\(h.bitPattern)") } else { #expect(f.bitPattern == Float(h).bitPattern, "\(h.bitPattern)") }
        }
    }

    @Test func float16RoundingIsToNearestEvenAndSaturates() throws {
        var values: [Float] = []
        // Every midpoint between neighbouring finite Float16 values (ties), and a Float ulp either side.
        for bits in UInt16(0)..<0x7bff {
            let mid = (Float(Float16(bitPattern: bits)) + Float(Float16(bitPattern: bits + 1))) / 2
            values += [mid, mid.nextDown, mid.nextUp, -mid]
        }
        var random = TestRandom(seed: 16)
        for _ in 0..<20_000 {
            values.append(Float(random.uniform(-70_000...70_000)))
            values.append(Float(random.uniform(-1...1) * 1e-4))
        }
        values += [65504, 65519.99, 65520, 1e30, -1e30, .greatestFiniteMagnitude, 0, -0.0, 1e-45]
        let rounded = try [Float16](rounding: values)
        let format = HalfFormat<Float16>.float16
        for (x, h) in zip(values, rounded) {
            #expect(h.bitPattern == format.nearest(x).bitPattern, "\(x): \(h) vs \(format.nearest(x))")
        }
    }
    #endif

    @Test func everyBFloat16WidensToTheUpperHalfOfAFloat() {
        let all = (0...UInt16.max).map { BFloat16(bitPattern: $0) }
        let widened = [Float](widening: all)
        for (b, f) in zip(all, widened) {
            #expect(f.bitPattern == UInt32(b.bitPattern) << 16)
            #expect(Float(b).bitPattern == f.bitPattern)
        }
    }

    @Test func bfloat16RoundingIsToNearestEvenAndSaturates() throws {
        var values: [Float] = []
        var random = TestRandom(seed: 8)
        for _ in 0..<50_000 {
            let bits = UInt32(truncatingIfNeeded: random.next())
            let x = Float(bitPattern: bits)
            if x.isFinite { values.append(x) }
            // A tie: exactly half-way between two bfloat16 values.
            let tie = Float(bitPattern: (bits & 0xffff_0000) | 0x8000)
            if tie.isFinite { values.append(tie) }
        }
        values += [Float.greatestFiniteMagnitude, -.greatestFiniteMagnitude, 0, -0.0, 1, 1.0 / 3]
        let rounded = try [BFloat16](rounding: values)
        for (x, b) in zip(values, rounded) {
            #expect(b.bitPattern == Self.nearestBFloat16Bits(x), "\(x)")
            // The scalar initialiser rounds the same way, saturating too.
            #expect(BFloat16(x) == b, "\(x)")
        }
        #expect(BFloat16(Float.greatestFiniteMagnitude).bitPattern == 0x7f7f)
        #expect(BFloat16(-Float.greatestFiniteMagnitude).bitPattern == 0xff7f)
        #expect(BFloat16(Float.infinity).bitPattern == 0x7f80)
        #expect(BFloat16(1.0 / 3.0).bitPattern == 0x3eab)
        #expect(BFloat16(Float.nan).floatValue.isNaN)
    }

    @Test func roundingRefusesNonFiniteValues() {
        #expect(throws: HardPixelMiningError.nonFiniteValue(argument: "values", index: 2, value: .infinity)) {
            _ = try [BFloat16](rounding: [1, 2, .infinity])
        }
    }

    // MARK: Edges and errors

    /// A gradient beyond 65504 is written as ±65504 in Float16 (never infinity); bfloat16
    /// holds it.
    @Test func halfGradientSaturatesInsteadOfOverflowing() throws {
        let shape = BatchShape(images: 1, classes: 2, height: 1, width: 1)
        let ce = LabelSmoothedCrossEntropy(smoothing: .none)
        var gb = [BFloat16](repeating: BFloat16(0), count: 2)
        _ = try ce.evaluate(logits: [BFloat16(0), BFloat16(0)], labels: [0], shape: shape, gradient: &gb,
                            gradientOutput: .overwrite(scale: 1e6))
        #expect(gb.map(\.floatValue) == [-499_712, 499_712])  // ±5e5 rounded to bfloat16
        #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
        var gh = [Float16](repeating: 0, count: 2)
        _ = try ce.evaluate(logits: [Float16(0), Float16(0)], labels: [0], shape: shape, gradient: &gh,
                            gradientOutput: .overwrite(scale: 1e6))
        #expect(gh == [-65504, 65504])
        #endif
    }

    /// Accumulating adds the Float gradient to the widened buffer and rounds once.
    @Test(arguments: LogitLayout.allCases)
    func halfAccumulationRoundsTheSumOnce(layout: LogitLayout) throws {
        let g = Fixtures.halfPrecisionCase("bfloat16_paced_c40_epoch20_propagate")
        var shape = g.batchShape
        shape.logitLayout = layout
        let floats = layout == .channelsLast ? Layouts.channelsLast(g.logitValues, g.batchShape) : g.logitValues
        let format = HalfFormat<BFloat16>.bfloat16
        let objective = HardPixelMiningObjective(g.configuration)
        var gf = [Float](repeating: 0, count: shape.logitCount), gd = [Float](repeating: 0, count: shape.pixelCount)
        _ = try objective.evaluate(
            logits: floats, labels: g.labelValues, predictedLogDepth: g.predictedLogDepth, groundTruthDepth: g.groundTruthDepth,
            shape: shape, epoch: g.epoch, logitGradient: &gf, depthGradient: &gd, gradientOutput: .overwrite(scale: 100))
        var random = TestRandom(seed: 3)
        let start = (0..<shape.logitCount).map { _ in format.nearest(Float(random.uniform(-0.01...0.01))) }
        var gh = start, hd = [Float](repeating: 0, count: shape.pixelCount)
        _ = try objective.evaluate(
            logits: floats.map(format.exact), labels: g.labelValues, predictedLogDepth: g.predictedLogDepth,
            groundTruthDepth: g.groundTruthDepth, shape: shape, epoch: g.epoch, logitGradient: &gh, depthGradient: &hd,
            gradientOutput: .accumulate(scale: 100))
        let expected = zip(start, gf).map { format.bits(format.nearest(format.float($0) + $1)) }
        #expect(gh.map(format.bits) == expected)
    }

    /// More classes than the NHWC staging block (4096 floats), and around it: half-precision
    /// NHWC gives bitwise the NCHW values and the transposed gradient, overwriting and accumulating.
    @Test(arguments: [2, 150, 4096, 5000])
    func halfChannelsLastMatchesChannelsFirstForAnyClassCount(classes: Int) throws {
        let shape = BatchShape(images: 2, classes: classes, height: 3, width: 7)
        var random = TestRandom(seed: UInt64(classes))
        let batch = random.batch(shape)
        let format = HalfFormat<BFloat16>.bfloat16
        let logits = batch.logits.map(format.nearest)
        let last = Layouts.channelsLast(shape)
        let ce = LabelSmoothedCrossEntropy(smoothing: .pytorch(epsilon: 0.1))
        for output in [GradientOutput.overwrite, .accumulate(scale: 3)] {
            let start = (0..<shape.logitCount).map { _ in format.nearest(Float(random.uniform(-1...1))) }
            var a = start, b = Layouts.channelsLast(start, shape)
            let first = try ce.evaluate(logits: logits, labels: batch.labels, shape: shape, gradient: &a, gradientOutput: output)
            let second = try ce.evaluate(
                logits: Layouts.channelsLast(logits, shape), labels: batch.labels, shape: last, gradient: &b, gradientOutput: output)
            #expect(first == second)
            #expect(Layouts.channelsFirst(b, shape).map(format.bits) == a.map(format.bits), "\(classes) classes \(output)")
        }
    }

    /// A NaN or infinite half-precision logit is reported at its index with its value: the
    /// one-pass cross-entropy and the objective zero-fill the logit gradient; the depth
    /// gradient stays untouched.
    @Test(arguments: LogitLayout.allCases)
    func nonFiniteHalfLogitIsReportedAtItsIndex(layout: LogitLayout) throws {
        let shape = BatchShape(images: 2, classes: 3, height: 5, width: 4, logitLayout: layout)
        var logits = [BFloat16](repeating: BFloat16(0.5), count: shape.logitCount)
        logits[77] = BFloat16(bitPattern: 0xff80)  // −∞
        var gradient = [BFloat16](repeating: BFloat16(7), count: shape.logitCount)
        let labels = [Int32](repeating: 1, count: shape.pixelCount)
        #expect(throws: HardPixelMiningError.nonFiniteValue(argument: "logits", index: 77, value: -.infinity)) {
            _ = try LabelSmoothedCrossEntropy().evaluate(logits: logits, labels: labels, shape: shape, gradient: &gradient)
        }
        #expect(gradient.allSatisfy { $0.bitPattern == 0 })
        gradient = [BFloat16](repeating: BFloat16(7), count: shape.logitCount)
        var depthGradient = [Float](repeating: 7, count: shape.pixelCount)
        let depth = [Float](repeating: 10, count: shape.pixelCount)
        #expect(throws: HardPixelMiningError.nonFiniteValue(argument: "logits", index: 77, value: -.infinity)) {
            _ = try HardPixelMiningObjective(.paper).evaluate(
                logits: logits, labels: labels, predictedLogDepth: depth, groundTruthDepth: depth, shape: shape, epoch: 12,
                logitGradient: &gradient, depthGradient: &depthGradient)
        }
        #expect(gradient.allSatisfy { $0.bitPattern == 0 } && depthGradient.allSatisfy { $0 == 7 })
        #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
        var halves = [Float16](repeating: 0.5, count: shape.logitCount)
        halves[5] = .nan
        do {
            _ = try DepthAwareSegmentationError.predictedClasses(logits: halves, shape: shape)
            Issue.record("a NaN logit was accepted")
        } catch HardPixelMiningError.nonFiniteValue(let argument, let index, let value) {
            #expect(argument == "logits" && index == 5 && value.isNaN)
        }
        #endif
    }

    /// A conformance whose memory is not its precision's size is refused, by argument.
    @Test func foreignLogitScalarIsRefused() {
        struct Wide: LogitScalar {
            static var logitPrecision: LogitPrecision { .float16 }
            var value: Float
        }
        let shape = BatchShape(images: 1, classes: 2, height: 1, width: 1)
        var gradient = [Wide(value: 0), Wide(value: 0)]
        #expect(throws: HardPixelMiningError.invalidParameter(argument: "logits", value: 4, requirement: "an element of 2 bytes (float16)")) {
            _ = try LabelSmoothedCrossEntropy().evaluate(
                logits: [Wide(value: 1), Wide(value: 2)], labels: [0], shape: shape, gradient: &gradient)
        }
    }

    @Test func docsExamplesRun() throws {
        let shape = BatchShape(images: 2, classes: 3, height: 4, width: 5)
        var random = TestRandom(seed: 9)
        let b = random.batch(shape)
        let (logits, labels, depth, logDepth) = (b.logits, b.labels, b.depth, b.predicted)
        // A mixed-precision model's bfloat16 logits (here rounded from Float logits):
        let halves = try [BFloat16](rounding: logits)
        var gradient = [BFloat16](repeating: BFloat16(0), count: shape.logitCount)
        let result = try LabelSmoothedCrossEntropy().evaluate(
            logits: halves, labels: labels, shape: shape, gradient: &gradient,
            gradientOutput: .overwrite(scale: 1024))          // loss scaling
        let unscaled = [Float](widening: gradient).map { $0 / 1024 }
        print(result.value, unscaled[0])
        var reference = [Float](repeating: 0, count: shape.logitCount)
        _ = try LabelSmoothedCrossEntropy().evaluate(
            logits: [Float](widening: halves), labels: labels, shape: shape, gradient: &reference)
        #expect(zip(unscaled, reference).allSatisfy { abs($0 - $1) <= 0x1p-8 * abs($1) })
        #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
        let logits16 = logits.map { Float16($0) }
        var dLogits16 = [Float16](repeating: 0, count: shape.logitCount)
        var dLogDepth = [Float](repeating: 0, count: shape.pixelCount)
        let lt = try HardPixelMiningObjective(.paperPaced(totalEpochs: 40)).evaluate(
            logits: logits16, labels: labels, predictedLogDepth: logDepth, groundTruthDepth: depth,
            shape: shape, epoch: 12, logitGradient: &dLogits16, depthGradient: &dLogDepth)
        print(lt.value, lt.batch.segmentation)
        #expect(lt.value.isFinite && dLogits16.allSatisfy(\.isFinite))
        #endif
    }

    @Test func wrongCountOfHalfLogitsNamesTheArgument() {
        let shape = BatchShape(images: 1, classes: 2, height: 2, width: 2)
        var gradient = [BFloat16](repeating: BFloat16(0), count: 8)
        #expect(throws: HardPixelMiningError.wrongCount(argument: "logits", expected: 8, actual: 7)) {
            _ = try LabelSmoothedCrossEntropy().evaluate(
                logits: [BFloat16](repeating: BFloat16(0), count: 7), labels: [0, 1, 0, 1], shape: shape, gradient: &gradient)
        }
    }
}
