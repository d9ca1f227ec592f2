// libFuzzer harness for every public entry point. Compiled together with the
// library's sources as one module by Tests/Fuzz/run.sh; not part of the SwiftPM package.
//
// The input bytes choose a shape (sometimes invalid), hyper-parameters (sometimes
// non-finite or out of range), buffer sizes (sometimes off by one) and values (NaN, ±Inf,
// ±1e30, subnormals, out-of-range labels). Every call must either succeed or throw a
// HardPixelMiningError with its output buffers untouched; with finite inputs and sane
// hyper-parameters every output must be finite. Anything else traps, which libFuzzer reports.

/// Reads the fuzzer's bytes; past the end it reads zeros.
struct ByteReader {
    let data: UnsafeBufferPointer<UInt8>
    var position = 0

    mutating func byte() -> UInt8 {
        defer { position += 1 }
        return position < data.count ? data[position] : 0
    }

    mutating func int(_ bound: Int) -> Int { bound <= 0 ? 0 : Int(byte()) % bound }

    /// A float: mostly ordinary, sometimes one of the special values.
    mutating func float(scale: Float = 4) -> Float {
        let specials: [Float] = [.nan, .infinity, -.infinity, 1e30, -1e30, 1e-40, -1e-40, 0, -0.0, 1e4, -1e4,
                                 .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 256, 1, 300]
        let selector = byte()
        if selector < 24 { return specials[Int(selector) % specials.count] }
        return (Float(byte()) - 127.5) / 127.5 * scale + Float(selector & 7) * 0.01
    }

    /// A hyper-parameter: mostly small and ordinary, sometimes special, sometimes any bit
    /// pattern of the whole Double range (subnormals, 1e±308, NaN payloads).
    mutating func parameter() -> Double {
        let specials: [Double] = [.nan, .infinity, -.infinity, 0, -1, 1e300, 0.5, 1, 10, 40, 1e6, 1e6 + 1,
                                  .greatestFiniteMagnitude, .leastNonzeroMagnitude, -0.0, 5]
        let selector = byte()
        if selector < 40 { return specials[Int(selector) % specials.count] }
        if selector < 64 { return Double(bitPattern: uint64()) }
        return Double(byte()) / 16
    }

    mutating func uint64() -> UInt64 {
        var v: UInt64 = 0
        for _ in 0..<8 { v = v << 8 | UInt64(byte()) }
        return v
    }

    /// A positive Float across the whole range, for bin widths and depth limits: down to
    /// subnormals and up to the largest finite value, sometimes special.
    mutating func wideFloat() -> Float {
        switch byte() % 8 {
        case 0: return [Float.nan, .infinity, 0, -1, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 1e-30, 1][int(8)]
        case 1, 2: return Float(bitPattern: UInt32(truncatingIfNeeded: uint64()) & 0x7FFF_FFFF)
        default: return Float(byte()) / 8 + 0.125
        }
    }

    /// A dimension: mostly small, sometimes negative, huge or near `Int` overflow.
    mutating func dimension(_ small: Int) -> Int {
        switch byte() % 32 {
        case 0: return [-1, 1 << 20, 1 << 31, 1 << 40, Int.max / 3, Int.max, Int.min, 1 << 62][int(8)]
        default: return int(small)
        }
    }

    /// A count near `expected`: usually exact, sometimes off by one.
    mutating func count(_ expected: Int) -> Int {
        switch byte() % 16 {
        case 0: return Swift.max(0, expected - 1)
        case 1: return expected + 1
        default: return Swift.max(0, expected)
        }
    }
}

let sentinel: Float = -7.25

/// A collective of one rank.
struct OneRank: BatchCollective {
    var rank: Int { 0 }
    var rankCount: Int { 1 }
    func allGather(_ values: [Double]) throws -> [[Double]] { [values] }
    func allReduceSum(_ counts: [UInt64]) throws -> [UInt64] { counts }
}

func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("fuzz property violated: \(message())") }
}

/// Runs `body`; on a HardPixelMiningError checks `outputs` still hold the sentinel — or,
/// only where it is documented (the one-pass cross-entropy's gradient and per-pixel losses, an
/// overwritten logit gradient of two passes; `onePass` naming those buffers by index), that a
/// buffer found a non-finite logit while
/// writing is wholly zero-filled (SPEC §5), never partly written. Any other error traps.
/// Returns whether `body` succeeded.
func expectTypedOrSuccess(
    _ outputs: [[Float]], onePass: Set<Int> = [], _ body: () throws -> Void, _ after: () -> [[Float]]
) -> Bool {
    do {
        try body()
        return true
    } catch let error as HardPixelMiningError {
        require(!error.argument.isEmpty && !error.description.isEmpty, "error without an argument")
        var nonFiniteLogit = false
        if case .nonFiniteValue(let argument, _, _) = error, argument == "logits" { nonFiniteLogit = true }
        for (index, buffer) in after().enumerated() {
            let untouched = buffer.allSatisfy { $0.bitPattern == sentinel.bitPattern }
            let zeroFilled = nonFiniteLogit && onePass.contains(index) && buffer.allSatisfy { $0 == 0 }
            require(untouched || zeroFilled, "partial write before \(error)")
        }
        return false
    } catch {
        fatalError("untyped error \(error)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var r = ByteReader(data: UnsafeBufferPointer(start: bytes, count: size))
    let shape = BatchShape(
        images: r.dimension(4), classes: r.dimension(7), height: r.dimension(10), width: r.dimension(10),
        logitLayout: r.byte() % 2 == 0 ? .channelsFirst : .channelsLast)
    let sane = shape.images >= 1 && shape.classes >= 2 && shape.height >= 1 && shape.width >= 1
        && shape.logitCount <= 1 << 40
    // Buffers follow the shape when it is small, and stay small when it is huge (then every
    // entry point must throw, without computing a wrapped count first).
    let pixels = Swift.min(shape.pixelCount, 4096)
    let logitCount = Swift.min(shape.logitCount, 4096)

    let logits = (0..<r.count(logitCount)).map { _ in r.float() }
    let labels = (0..<r.count(pixels)).map { _ -> Int32 in
        switch r.byte() % 10 {
        case 0: return 255
        case 1: return Int32(r.byte()) - 128
        default: return Int32(r.int(Swift.max(1, shape.classes)))
        }
    }
    let predicted = (0..<r.count(pixels)).map { _ in r.float() }
    let depth = (0..<r.count(pixels)).map { _ in Float(r.byte()) + r.float(scale: 1) }
    let weights = (0..<r.count(pixels)).map { _ in r.float() }

    var c = ObjectiveConfiguration()
    c.smoothing = [LabelSmoothing.none, .paperDefault, .pytorch(epsilon: 0.1), .paper(trueClassTarget: r.parameter())][r.int(4)]
    c.depthWeight = r.parameter()
    c.scaleInvariance = r.parameter()
    if r.byte() % 3 == 0 {
        c.depthTerm = .silog(SILog(varianceFocus: r.parameter(), scale: r.parameter(), variance: r.byte() % 2 == 0 ? .population : .sample))
    }
    c.depthPredictionErrorWeight = WeightSchedule(initial: r.parameter(), later: r.parameter(), switchEpoch: r.parameter())
    c.segmentationErrorWeight = r.parameter()
    // Grids up to and beyond the image (and beyond 65536); binnings of any width and range.
    c.grid = r.byte() % 5 == 0 ? .perPixel : .cells(rows: r.dimension(12) &- 1, columns: r.dimension(12) &- 1)
    c.depthBinning = r.byte() % 2 == 0
        ? DepthBinning(minimum: [1, 0, 0.5, -1][r.int(4)], maximum: [256, 100, .nan, 2][r.int(4)], binWidth: [10, 0, 3, 0.5][r.int(4)])
        : DepthBinning(minimum: r.wideFloat(), maximum: r.wideFloat(), binWidth: r.wideFloat())
    c.pacing = r.byte() % 2 == 0 ? nil : SelfPacedPacing(totalEpochs: r.parameter())
    c.pacesSegmentation = r.byte() % 4 == 0
    c.propagatesDepthPredictionErrorToDepth = r.byte() % 2 == 0
    if r.byte() % 8 == 0 { c.ignoreLabel = Int32(r.byte()) - 1 }
    // Class weights of any value (sometimes tiny, 0 or the extremes) and any reduction.
    if r.byte() % 3 == 0 {
        let count = r.count(Swift.min(Swift.max(shape.classes, 0), 64))
        c.classWeights = (0..<count).map { _ in r.byte() % 4 == 0 ? [0, 1e-6, 1e6, 1e-7][r.int(4)] : Float(r.parameter()) }
    }
    c.reduction = Reduction.allCases[r.int(3)]
    // Composable terms: focal (any γ, per-class α of any length), PolyLoss-1, a caller's map.
    if r.byte() % 3 == 0 {
        let alpha: [Float]? = r.byte() % 2 == 0 ? nil : (0..<r.count(Swift.min(Swift.max(shape.classes, 0), 64))).map { _ in Float(r.parameter()) }
        c.focal = FocalModulation(
            focusing: r.byte() % 4 == 0 ? [0, 0.25, 10, 11][r.int(4)] : r.parameter(), classAlpha: alpha,
            gradient: r.byte() % 2 == 0 ? .throughFactor : .factorHeldConstant)
    }
    if r.byte() % 3 == 0 { c.polyEpsilon = r.byte() % 4 == 0 ? [0, 1000, 1001, -1][r.int(4)] : r.parameter() }
    let usesMap = r.byte() % 3 == 0
    if usesMap || r.byte() % 8 == 0 { c.pixelWeightMap = PixelWeightMapTerm(coefficient: r.parameter(), paced: r.byte() % 2 == 0) }
    // The map: sometimes missing, of the wrong length, or with bad values.
    let pixelWeightMap: [Float]? = usesMap || r.byte() % 8 == 0 ? (0..<r.count(pixels)).map { _ in r.float() } : nil
    let epoch = r.parameter()
    let threads = r.int(4)

    // Whatever is accepted gives finite outputs (non-finite logits, log-depths and
    // weights are rejected, and every weight is bounded), so no gating on the parameters.
    let finiteInputs = true
    let saneParameters = true

    // A non-finite logit may leave the objective's overwritten logit gradient zero-filled (the
    // one pass writes it; two passes keep the statistics pass's exponentials in it); never the
    // depth gradient.
    let objectiveOnePass: Set<Int> = [0]
    // Whether the objective takes the cross-entropy's one pass (L_seg alone, no map): only then
    // may a side output's logit gradient be zero-filled (the multi-scale loss checks the logits
    // of two-pass side outputs first).
    let takesOnePass = !(c.needsGroundTruthDepth || c.pacesSegmentation || c.pixelWeightMap != nil)

    // The objective, with both gradients.
    var gx = [Float](repeating: sentinel, count: r.count(logitCount))
    var gd = [Float](repeating: sentinel, count: r.count(pixels))
    var result: ObjectiveResult? = nil
    let succeeded = expectTypedOrSuccess([gx, gd], onePass: objectiveOnePass, {
        result = try HardPixelMiningObjective(c, threadCount: threads).evaluate(
            logits: logits, labels: labels, predictedLogDepth: predicted, groundTruthDepth: depth, shape: shape,
            epoch: epoch, logitGradient: &gx, depthGradient: &gd, pixelWeightMap: pixelWeightMap)
    }, { [gx, gd] })
    if succeeded {
        require(sane, "accepted an invalid shape \(shape)")
        require(logits.allSatisfy(\.isFinite), "accepted non-finite logits")
        if finiteInputs && saneParameters, let result {
            require(result.value.isFinite, "non-finite value \(result.value)")
            require(result.images.allSatisfy { $0.objective.isFinite }, "non-finite image term")
            require(gx.allSatisfy(\.isFinite) && gd.allSatisfy(\.isFinite), "non-finite gradient")
        }
    }

    // The objective's pointer and Span forms, with a workspace reused across calls.
    let workspace = ObjectiveWorkspace()
    var px = [Float](repeating: sentinel, count: r.count(logitCount))
    var pd = [Float](repeating: sentinel, count: r.count(pixels))
    let objective = HardPixelMiningObjective(c, threadCount: threads)
    _ = expectTypedOrSuccess([px, pd], onePass: objectiveOnePass, {
        try logits.withUnsafeBufferPointer { x in
            try labels.withUnsafeBufferPointer { y in
                try predicted.withUnsafeBufferPointer { d in
                    try depth.withUnsafeBufferPointer { dStar in
                        try px.withUnsafeMutableBufferPointer { gx in
                            try pd.withUnsafeMutableBufferPointer { gd in
                                let result = try objective.evaluate(
                                    logits: x, labels: y, predictedLogDepth: d, groundTruthDepth: dStar, shape: shape,
                                    epoch: epoch, logitGradient: gx, depthGradient: gd, workspace: workspace)
                                require(result.value.isFinite, "non-finite value (pointer form)")
                            }
                        }
                    }
                }
            }
        }
        require(px.allSatisfy(\.isFinite) && pd.allSatisfy(\.isFinite), "non-finite gradient (pointer form)")
    }, { [px, pd] })
    #if compiler(>=6.2)
    var sx = [Float](repeating: sentinel, count: r.count(logitCount))
    var sd = [Float](repeating: sentinel, count: r.count(pixels))
    _ = expectTypedOrSuccess([sx, sd], onePass: objectiveOnePass, {
        var gx = sx.mutableSpan
        var gd = sd.mutableSpan
        let result = try objective.evaluate(
            logits: logits.span, labels: labels.span, predictedLogDepth: predicted.span, groundTruthDepth: depth.span,
            shape: shape, epoch: epoch, logitGradient: &gx, depthGradient: &gd, workspace: workspace)
        require(result.value.isFinite, "non-finite value (Span form)")
    }, { [sx, sd] })
    #endif
    // Workspaces for invalid, overflowing and small shapes. (A valid shape of billions of
    // pixels would really be reserved, which libFuzzer's malloc limit reports as out of
    // memory; the unit tests check that a refused allocation throws.)
    let reserved = BatchShape(images: r.dimension(4), classes: 2, height: r.dimension(10), width: r.dimension(10))
    if reserved.pixelCount <= 1 << 16 || reserved.logitCount > 1 << 40 {
        _ = try? ObjectiveWorkspace(reservingFor: reserved)
    }

    // Multi-scale side outputs of any size (up to and beyond 16× the input).
    let sides = (0..<(1 + r.int(2))).map { _ -> SideOutput<Float> in
        let (h, w) = (r.dimension(12), r.dimension(12))
        let n = Swift.min(BatchShape(images: shape.images, classes: shape.classes, height: h, width: w).logitCount, 4096)
        let m = Swift.min(BatchShape(images: shape.images, classes: 1, height: h, width: w).pixelCount, 4096)
        return SideOutput(logits: (0..<r.count(n)).map { _ in r.float() }, predictedLogDepth: (0..<r.count(m)).map { _ in r.float() },
                          height: h, width: w, weight: r.parameter())
    }
    var sideX = sides.map { [Float](repeating: sentinel, count: r.count($0.logits.count)) }
    var sideD = sides.map { [Float](repeating: sentinel, count: r.count($0.predictedLogDepth.count)) }
    _ = expectTypedOrSuccess(sideX + sideD, onePass: takesOnePass ? Set(sideX.indices) : [], {
        let result = try MultiScaleObjective(c, threadCount: threads).evaluate(
            outputs: sides, labels: labels, groundTruthDepth: depth, shape: shape, epoch: epoch,
            logitGradients: &sideX, depthGradients: &sideD)
        require(result.value.isFinite, "non-finite multi-scale value")
        require(sideX.allSatisfy { $0.allSatisfy(\.isFinite) } && sideD.allSatisfy { $0.allSatisfy(\.isFinite) }, "non-finite multi-scale gradient")
    }, { sideX + sideD })

    // The Loss Weight Module: weights from predictions (the labels, sometimes out of range).
    var lw = [Float](repeating: sentinel, count: r.count(pixels))
    let argmax = labels.map { $0 == 255 ? Int32(r.int(9)) - 1 : $0 }
    _ = expectTypedOrSuccess([lw], {
        _ = try argmax.withUnsafeBufferPointer { p in
            try labels.withUnsafeBufferPointer { y in
                try predicted.withUnsafeBufferPointer { d in
                    try depth.withUnsafeBufferPointer { dStar in
                        try lw.withUnsafeMutableBufferPointer { w in
                            try PixelLossWeights(c, threadCount: threads).weights(
                                predictions: p, labels: y, predictedLogDepth: d, groundTruthDepth: dStar, shape: shape,
                                epoch: epoch, into: w)
                        }
                    }
                }
            }
        }
        require(lw.allSatisfy { $0.isFinite && $0 >= 0 }, "bad loss weight")
    }, { [lw] })

    // Confusion matrices of any class count.
    if var matrix = try? ConfusionMatrix(classes: r.dimension(12)) {
        let preds = labels.map { $0 == 255 ? Int32(r.int(20)) : $0 }
        if (try? matrix.add(predictions: preds, labels: labels)) != nil {
            for score in [matrix.pixelAccuracy, matrix.meanAccuracy, matrix.meanIoU] {
                require(score.map { $0 >= 0 && $0 <= 1 } ?? true, "score outside 0...1")
            }
        }
    }

    // Public helpers that take a depth or an index.
    let binning = c.depthBinning
    _ = binning.binCount
    for d in depth.prefix(8) { if let b = binning.bin(of: d) { require(b >= 0 && b < binning.binCount, "bin out of range") } }

    // Cross-entropy with pixel weights and per-pixel losses.
    var g = [Float](repeating: sentinel, count: r.count(logitCount))
    let ce = LabelSmoothedCrossEntropy(
        smoothing: c.smoothing, ignoreLabel: c.ignoreLabel, classWeights: c.classWeights, reduction: c.reduction,
        focal: c.focal, polyEpsilon: c.polyEpsilon, threadCount: threads)
    var ceResult: CrossEntropyResult? = nil
    if expectTypedOrSuccess([g], onePass: [0], { ceResult = try ce.evaluate(logits: logits, labels: labels, shape: shape, pixelWeights: weights, gradient: &g) }, { [g] }),
        finiteInputs, let ceResult {
        require(ceResult.value.isFinite && g.allSatisfy(\.isFinite), "non-finite cross-entropy")
    }
    _ = try? ce.pixelLosses(logits: logits, labels: labels, shape: shape)
    // One rank of a data-parallel call: the same result as the call alone, or a typed error
    // with the gradient untouched (no zero-fill: the logits are checked before the pass).
    var gp = [Float](repeating: sentinel, count: g.count)
    var dpResult: CrossEntropyResult? = nil
    if expectTypedOrSuccess([gp], { dpResult = try ce.evaluate(logits: logits, labels: labels, shape: shape, pixelWeights: weights, gradient: &gp, dataParallel: DataParallel(OneRank())) }, { [gp] }),
        let dpResult, let ceResult {
        require(dpResult == ceResult && gp.map(\.bitPattern) == g.map(\.bitPattern), "one rank differs from the call alone")
    }
    // Accumulating (any scale): an error leaves the buffer untouched, with no zero-fill.
    var ga = [Float](repeating: sentinel, count: r.count(logitCount))
    let accumulate = GradientOutput.accumulate(scale: r.parameter())
    if expectTypedOrSuccess([ga], {
        _ = try ce.evaluate(logits: logits, labels: labels, shape: shape, gradient: &ga, gradientOutput: accumulate)
    }, { [ga] }) {
        require(ga.allSatisfy(\.isFinite), "non-finite accumulated gradient")
    }

    // Half-precision logits (bfloat16; Float16 where Swift has it), NaN and infinities kept:
    // the objective and the cross-entropy, overwriting and accumulating.
    let bLogits = logits.map(BFloat16.init)
    let bSentinel = BFloat16(sentinel)
    var bx = [BFloat16](repeating: bSentinel, count: r.count(logitCount))
    var bd = [Float](repeating: sentinel, count: r.count(pixels))
    if expectTypedOrSuccess([[Float](widening: bx), bd], onePass: objectiveOnePass, {
        _ = try objective.evaluate(
            logits: bLogits, labels: labels, predictedLogDepth: predicted, groundTruthDepth: depth, shape: shape,
            epoch: epoch, logitGradient: &bx, depthGradient: &bd)
    }, { [[Float](widening: bx), bd] }) {
        require(bLogits.allSatisfy { $0.floatValue.isFinite }, "accepted non-finite bfloat16 logits")
        require([Float](widening: bx).allSatisfy(\.isFinite) && bd.allSatisfy(\.isFinite), "non-finite bfloat16 gradient")
    }
    var ba = [BFloat16](repeating: bSentinel, count: r.count(logitCount))
    if expectTypedOrSuccess([[Float](widening: ba)], {
        _ = try ce.evaluate(logits: bLogits, labels: labels, shape: shape, pixelWeights: weights, gradient: &ba,
                            gradientOutput: accumulate)
    }, { [[Float](widening: ba)] }) {
        require([Float](widening: ba).allSatisfy(\.isFinite), "non-finite accumulated bfloat16 gradient")
    }
    #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
    let hLogits = logits.map(Float16.init)
    var hx = [Float16](repeating: Float16(sentinel), count: r.count(logitCount))
    if expectTypedOrSuccess([[Float](widening: hx)], onePass: [0], {
        _ = try ce.evaluate(logits: hLogits, labels: labels, shape: shape, pixelWeights: weights, gradient: &hx,
                            gradientOutput: GradientOutput(mode: .overwrite, scale: accumulate.scale))
    }, { [[Float](widening: hx)] }) {
        require(hLogits.allSatisfy(\.isFinite), "accepted non-finite Float16 logits")
        require(hx.allSatisfy(\.isFinite), "non-finite Float16 gradient")
    }
    _ = try? DepthAwareSegmentationError.predictedClasses(logits: hLogits, shape: shape, threadCount: threads)
    #endif

    // Loss-rank mining.
    var gm = [Float](repeating: sentinel, count: r.count(logitCount))
    let mining: PixelMining
    switch r.byte() % 4 {
    case 0: mining = .topFraction(r.parameter() / 8)
    case 1: mining = .probabilityBelow(threshold: r.parameter() / 8, minimumKept: r.int(40) - 3)
    case 2: mining = .batchTopFraction(r.parameter() / 8)
    default:
        mining = .ohem(
            threshold: r.byte() % 2 == 0 ? nil : r.parameter() / 8,
            minimumKept: r.byte() % 8 == 0 ? Int.max - r.int(3) : r.int(40) - 3, averageNonIgnored: r.byte() % 2 == 0)
    }
    var minedResult: CrossEntropyResult? = nil
    // Two passes, the first keeping its exponentials in the overwritten gradient.
    if expectTypedOrSuccess([gm], onePass: [0], {
        minedResult = try LabelSmoothedCrossEntropy(
            smoothing: c.smoothing, ignoreLabel: c.ignoreLabel, mining: mining, classWeights: c.classWeights,
            reduction: r.byte() % 4 == 0 ? c.reduction : .perImageMean)
            .evaluate(logits: logits, labels: labels, shape: shape, gradient: &gm)
    }, { [gm] }), finiteInputs, let minedResult {
        require(minedResult.value.isFinite && gm.allSatisfy(\.isFinite), "non-finite mined cross-entropy")
    }

    // Error prediction (its logits reuse `predicted` as one logit per pixel).
    var gz = [Float](repeating: sentinel, count: r.count(pixels))
    var ep = ErrorPrediction()
    if r.byte() % 4 == 0 { ep.threshold = r.parameter() }
    var epLoss: ErrorPrediction.Loss? = nil
    if expectTypedOrSuccess([gz], {
        epLoss = try ep.balancedLoss(errorLogits: predicted, segmentationLogits: logits, labels: labels, shape: shape, gradient: &gz)
    }, { [gz] }), finiteInputs, let epLoss {
        require(epLoss.value.isFinite && gz.allSatisfy(\.isFinite), "non-finite error-prediction loss")
    }
    _ = try? ep.fuse(segmentationLogits: logits, detailLogits: logits, errorLogits: predicted, shape: shape)
    _ = try? ep.errorMap(segmentationLogits: logits, labels: labels, shape: shape)
    if let d = try? ep.detailWeights(errorLogits: predicted) { require(d.allSatisfy(\.isFinite), "non-finite detail weight") }
    _ = try? ep.metrics(errorLogits: predicted, segmentationLogits: logits, labels: labels, shape: shape)

    // DepthMix and side-output resampling.
    let partners = (0..<Swift.min(Swift.max(0, shape.images), 64)).map { ($0 + r.int(2)) % Swift.max(1, shape.images) }
    if let mixed = try? DepthMix(margin: r.float()).mix(
        images: predicted, channels: r.byte() % 16 == 0 ? r.dimension(4) : 1, labels: labels, depth: depth, shape: shape.pixelMap,
        partners: partners) {
        require(mixed.masks.count == pixels, "DepthMix mask size")
    }
    _ = try? DepthMix(margin: r.float(), depthBinning: c.depthBinning).mask(depth: depth, partnerDepth: predicted)
    let hoyer = HoyerDepthMix(margin: r.parameter() - 1, foregroundThreshold: r.parameter() / 4)
    if let mixed = try? hoyer.mix(
        disparity: predicted, shape: shape.pixelMap, partners: r.byte() % 2 == 0 ? nil : partners, images: predicted,
        channels: 1, labels: labels, softTargets: r.byte() % 2 == 0 ? logits : nil,
        classes: r.byte() % 8 == 0 ? nil : r.byte() % 8 == 1 ? r.dimension(4) : shape.classes) {
        require(mixed.masks.count == pixels, "Hoyer DepthMix mask size")
        require(mixed.softTargets?.allSatisfy { $0.isFinite } ?? true, "non-finite mixed soft targets")
    }
    let (h, w) = (r.dimension(12), r.dimension(12))
    _ = try? SideOutputResampling.labels(labels, shape: shape.pixelMap, height: h, width: w)
    if let d = try? SideOutputResampling.depth(depth, shape: shape.pixelMap, height: h, width: w) {
        require(d.allSatisfy { $0.isFinite }, "non-finite resampled depth")
    }
    _ = try? SideOutputResampling.weights(weights, shape: shape.pixelMap, height: h, width: w)

    // The depth loss.
    var gdepth = [Float](repeating: sentinel, count: r.count(pixels))
    var depthResult: DepthLossResult? = nil
    let depthLoss = ScaleInvariantDepthLoss(scaleInvariance: c.scaleInvariance, depthBinning: c.depthBinning)
    if expectTypedOrSuccess([gdepth], { depthResult = try depthLoss.evaluate(predictedLogDepth: predicted, groundTruthDepth: depth, shape: shape.pixelMap, gradient: &gdepth) }, { [gdepth] }),
        finiteInputs && saneParameters, let depthResult {
        require(depthResult.value.isFinite && gdepth.allSatisfy(\.isFinite), "non-finite depth loss")
    }

    // SILog (BTS / AdaBins) over the batch.
    var gsilog = [Float](repeating: sentinel, count: r.count(pixels))
    var silogResult: DepthLossResult? = nil
    let silog = SILogDepthLoss(
        SILog(varianceFocus: r.parameter(), scale: r.parameter(), variance: r.byte() % 2 == 0 ? .population : .sample),
        depthBinning: c.depthBinning)
    if expectTypedOrSuccess([gsilog], { silogResult = try silog.evaluate(predictedLogDepth: predicted, groundTruthDepth: depth, shape: shape.pixelMap, gradient: &gsilog) }, { [gsilog] }),
        finiteInputs, let silogResult {
        require(silogResult.value.isFinite && gsilog.allSatisfy(\.isFinite), "non-finite SILog")
    }

    // The weight maps and pacing.
    if let w = try? DepthPredictionError(depthBinning: c.depthBinning, ignoreLabel: c.ignoreLabel).weights(
        predictedLogDepth: predicted, groundTruthDepth: depth, labels: labels, shape: shape) {
        require(w.allSatisfy { $0.isFinite && $0 >= 0 }, "bad DPE weight")
    }
    let predictions = (try? DepthAwareSegmentationError.predictedClasses(logits: logits, shape: shape))
        ?? labels.map { $0 == 255 ? 0 : $0 }
    let dse = DepthAwareSegmentationError(grid: c.grid, depthBinning: c.depthBinning, ignoreLabel: c.ignoreLabel)
    if let w = try? dse.weights(predictions: predictions, labels: labels, groundTruthDepth: depth, shape: shape) {
        require(w.allSatisfy { $0 >= 0 && $0 <= 1 }, "Z outside 0...1")
    }
    if let tables = try? dse.tables(predictions: predictions, labels: labels, groundTruthDepth: depth, shape: shape) {
        for t in tables {
            require(t.regions.count <= shape.pixelsPerImage, "a table larger than the image")
            _ = t.error(row: r.dimension(12) &- 1, column: r.dimension(12) &- 1, bin: r.dimension(30) &- 1)
        }
    }
    if let pacing = c.pacing {
        if let eta = try? pacing.learningPace(of: weights, epoch: epoch) { require(eta.isFinite, "non-finite pace") }
        _ = try? pacing.mask(weights: weights, eligible: weights.map { $0 > 0 }, epoch: epoch)
        _ = try? weights.withUnsafeBufferPointer { try pacing.learningPace(of: $0, epoch: epoch) }
    }
    fuzzPointerForms(&r, shape: shape, c: c, logits: logits, labels: labels, predicted: predicted, depth: depth,
                     weights: weights, pixelWeightMap: pixelWeightMap, epoch: epoch, threads: threads,
                     objectiveOnePass: objectiveOnePass, pixels: pixels, logitCount: logitCount)
    return 0
}

/// The pointer and Span forms, the public helpers, workspace reuse across shapes and aliasing.
func fuzzPointerForms(
    _ r: inout ByteReader, shape: BatchShape, c: ObjectiveConfiguration, logits: [Float], labels: [Int32],
    predicted: [Float], depth: [Float], weights: [Float], pixelWeightMap: [Float]?, epoch: Double, threads: Int,
    objectiveOnePass: Set<Int>, pixels: Int, logitCount: Int
) {
    // The objective's pointer form with every map and a caller's map, then again on a workspace
    // that served another shape.
    let workspace = ObjectiveWorkspace()
    for round in 0..<2 {
        var gx = [Float](repeating: sentinel, count: r.count(logitCount)), gd = [Float](repeating: sentinel, count: r.count(pixels))
        var w = [Float](repeating: sentinel, count: r.count(pixels)), l = w, mr = w, mz = w
        _ = expectTypedOrSuccess([gx, gd, w, l, mr, mz], onePass: objectiveOnePass, {
            try logits.withUnsafeBufferPointer { x in
                try labels.withUnsafeBufferPointer { y in
                    try predicted.withUnsafeBufferPointer { d in
                        try depth.withUnsafeBufferPointer { dStar in
                            try gx.withUnsafeMutableBufferPointer { gx in
                                try gd.withUnsafeMutableBufferPointer { gd in
                                    try w.withUnsafeMutableBufferPointer { w in
                                        try l.withUnsafeMutableBufferPointer { l in
                                            try mr.withUnsafeMutableBufferPointer { mr in
                                                try mz.withUnsafeMutableBufferPointer { mz in
                                                    try (pixelWeightMap ?? []).withUnsafeBufferPointer { map in
                                                        let result = try HardPixelMiningObjective(c, threadCount: threads).evaluate(
                                                            logits: x, labels: y, predictedLogDepth: d, groundTruthDepth: dStar,
                                                            shape: shape, epoch: epoch, logitGradient: gx, depthGradient: gd,
                                                            maps: ObjectiveMaps(lossWeights: w, pixelLosses: l, depthPredictionError: mr, segmentationError: mz),
                                                            pixelWeightMap: pixelWeightMap == nil ? nil : map, workspace: workspace)
                                                        require(result.value.isFinite, "non-finite value (pointer form with maps)")
                                                        _ = result.notices
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
            require(([gx, gd, w, l, mr, mz] as [[Float]]).allSatisfy { $0.allSatisfy(\.isFinite) }, "non-finite map or gradient")
        }, { [gx, gd, w, l, mr, mz] })
        // A second, smaller shape on the same workspace.
        if round == 0, shape.images > 1 {
            let smaller = BatchShape(images: shape.images - 1, classes: shape.classes, height: shape.height, width: shape.width)
            var sx = [Float](repeating: sentinel, count: Swift.min(smaller.logitCount, logitCount))
            var sd = [Float](repeating: sentinel, count: Swift.min(smaller.pixelCount, pixels))
            _ = expectTypedOrSuccess([sx, sd], onePass: objectiveOnePass, {
                _ = try HardPixelMiningObjective(c, threadCount: threads).evaluate(
                    logits: Array(logits.prefix(sx.count)), labels: Array(labels.prefix(sd.count)),
                    predictedLogDepth: Array(predicted.prefix(sd.count)), groundTruthDepth: Array(depth.prefix(sd.count)),
                    shape: smaller, epoch: epoch, logitGradient: &sx, depthGradient: &sd, workspace: workspace)
                require(sx.allSatisfy(\.isFinite) && sd.allSatisfy(\.isFinite), "non-finite gradient on a reused workspace")
            }, { [sx, sd] })
        }
    }

    // The cross-entropy's pointer form with per-pixel losses, and its Span form.
    let ce = LabelSmoothedCrossEntropy(
        smoothing: c.smoothing, ignoreLabel: c.ignoreLabel, classWeights: c.classWeights, reduction: c.reduction,
        focal: c.focal, polyEpsilon: c.polyEpsilon, threadCount: threads)
    var g = [Float](repeating: sentinel, count: r.count(logitCount)), losses = [Float](repeating: sentinel, count: r.count(pixels))
    _ = expectTypedOrSuccess([g, losses], onePass: [0, 1], {
        try logits.withUnsafeBufferPointer { x in
            try labels.withUnsafeBufferPointer { y in
                try weights.withUnsafeBufferPointer { pw in
                    try g.withUnsafeMutableBufferPointer { g in
                        try losses.withUnsafeMutableBufferPointer { l in
                            let result = try ce.evaluate(logits: x, labels: y, shape: shape, pixelWeights: pw, gradient: g, pixelLosses: l)
                            require(result.value.isFinite, "non-finite cross-entropy (pointer form)")
                        }
                    }
                }
            }
        }
        require(g.allSatisfy(\.isFinite) && losses.allSatisfy(\.isFinite), "non-finite pointer-form outputs")
    }, { [g, losses] })
    #if compiler(>=6.2)
    var sg = [Float](repeating: sentinel, count: r.count(logitCount))
    _ = expectTypedOrSuccess([sg], onePass: [0], {
        var span = sg.mutableSpan
        let result = try ce.evaluate(logits: logits.span, labels: labels.span, shape: shape, gradient: &span)
        require(result.value.isFinite, "non-finite cross-entropy (Span form)")
    }, { [sg] })
    #endif

    // Aliasing: the gradient written over a copy of the logits it reads (the same values).
    var aliased = logits
    if aliased.count == shape.logitCount {
        _ = try? aliased.withUnsafeMutableBufferPointer { buffer in
            try labels.withUnsafeBufferPointer { y in
                try ce.evaluate(logits: UnsafeBufferPointer(buffer), labels: y, shape: shape, gradient: buffer)
            }
        }
    }

    // The pointer forms of both depth losses, both weight maps; the array form of the Loss Weight Module.
    var gdep = [Float](repeating: sentinel, count: r.count(pixels))
    _ = expectTypedOrSuccess([gdep], {
        try predicted.withUnsafeBufferPointer { d in
            try depth.withUnsafeBufferPointer { dStar in
                try gdep.withUnsafeMutableBufferPointer { g in
                    _ = try ScaleInvariantDepthLoss(scaleInvariance: c.scaleInvariance, depthBinning: c.depthBinning).evaluate(
                        predictedLogDepth: d, groundTruthDepth: dStar, shape: shape.pixelMap, gradient: g)
                }
            }
        }
        require(gdep.allSatisfy(\.isFinite), "non-finite depth gradient (pointer form)")
    }, { [gdep] })
    var gsil = [Float](repeating: sentinel, count: r.count(pixels))
    _ = expectTypedOrSuccess([gsil], {
        try predicted.withUnsafeBufferPointer { d in
            try depth.withUnsafeBufferPointer { dStar in
                try gsil.withUnsafeMutableBufferPointer { g in
                    _ = try SILogDepthLoss(r.byte() % 2 == 0 ? .bts : .adaBins, depthBinning: c.depthBinning).evaluate(
                        predictedLogDepth: d, groundTruthDepth: dStar, shape: shape.pixelMap, gradient: g,
                        gradientOutput: .accumulate(scale: Float(r.parameter())))
                }
            }
        }
        require(gsil.allSatisfy(\.isFinite), "non-finite SILog gradient (pointer form)")
    }, { [gsil] })
    var dpe = [Float](repeating: sentinel, count: r.count(pixels)), dse = dpe
    _ = expectTypedOrSuccess([dpe], {
        try predicted.withUnsafeBufferPointer { d in
            try depth.withUnsafeBufferPointer { dStar in
                try labels.withUnsafeBufferPointer { y in
                    try dpe.withUnsafeMutableBufferPointer { w in
                        try DepthPredictionError(depthBinning: c.depthBinning, ignoreLabel: c.ignoreLabel).weights(
                            predictedLogDepth: d, groundTruthDepth: dStar, labels: y, shape: shape, into: w)
                    }
                }
            }
        }
    }, { [dpe] })
    let predictions = labels.map { $0 == 255 ? 0 : $0 }
    _ = expectTypedOrSuccess([dse], {
        try predictions.withUnsafeBufferPointer { p in
            try labels.withUnsafeBufferPointer { y in
                try depth.withUnsafeBufferPointer { dStar in
                    try dse.withUnsafeMutableBufferPointer { w in
                        try DepthAwareSegmentationError(grid: c.grid, depthBinning: c.depthBinning, ignoreLabel: c.ignoreLabel).weights(
                            predictions: p, labels: y, groundTruthDepth: dStar, shape: shape, into: w)
                    }
                }
            }
        }
        require(dse.allSatisfy { $0 >= 0 && $0 <= 1 }, "Z outside 0...1 (pointer form)")
    }, { [dse] })
    if let tables = try? DepthAwareSegmentationError(grid: c.grid, depthBinning: c.depthBinning).tables(
        predictions: predictions, labels: labels, groundTruthDepth: depth, shape: shape) {
        for t in tables { _ = t.region(row: r.dimension(12) &- 1, column: r.dimension(12) &- 1, bin: r.dimension(30) &- 1) }
    }
    if let (w, _) = try? PixelLossWeights(c, threadCount: threads).weights(
        predictions: predictions, labels: labels, predictedLogDepth: predicted, groundTruthDepth: depth, shape: shape,
        epoch: epoch) {
        require(w.allSatisfy { $0.isFinite && $0 >= 0 }, "bad loss weight (array form)")
    }

    // Helpers: rounding to half precision, bfloat16 scalars, rolled partners, combining sums.
    if let rounded = try? [BFloat16](rounding: weights) { require(rounded.allSatisfy { $0.floatValue.isFinite }, "infinite rounded bfloat16") }
    for x in weights.prefix(8) { let b = BFloat16(x); require(!x.isFinite || b.floatValue.isFinite, "BFloat16 of a finite value is infinite") }
    let partners = HoyerDepthMix.rolledPartners(count: r.int(70) - 3)
    require(partners.allSatisfy { $0 >= 0 && $0 < Swift.max(1, partners.count) }, "rolled partner out of range")
    var sums = (0..<r.int(4)).map { _ -> ImageSums in
        var s = ImageSums()
        s.labelledPixels = r.int(40) - 2
        s.depthPixels = r.int(40)
        s.eligiblePixels = r.int(40)
        s.crossEntropySum = r.byte() % 8 == 0 ? .greatestFiniteMagnitude : r.parameter()
        s.residualSum = r.parameter() - 1
        s.squaredResidualSum = r.byte() % 8 == 0 ? .greatestFiniteMagnitude : r.parameter()
        s.depthPredictionErrorSum = r.parameter()
        s.segmentationErrorSum = r.parameter()
        return s
    }
    if r.byte() % 4 == 0, !sums.isEmpty { sums[0].crossEntropySum = .nan }
    if let combined = try? ObjectiveResult(combining: sums, configuration: c, epoch: epoch) {
        require(combined.value.isFinite && combined.images.allSatisfy { $0.objective.isFinite }, "non-finite combined sums")
    }
    // Each loss combines its own part of the sums.
    let crossEntropy = LabelSmoothedCrossEntropy(classWeights: c.classWeights, reduction: c.reduction)
    if let combined = try? crossEntropy.result(combining: sums.map(\.crossEntropy)) {
        require(combined.value.isFinite && combined.images.allSatisfy { $0.isFinite }, "non-finite combined cross-entropy sums")
    }
    if let combined = try? ScaleInvariantDepthLoss(scaleInvariance: c.scaleInvariance).result(combining: sums.map(\.depth)) {
        require(combined.value.isFinite && combined.images.allSatisfy { $0.isFinite }, "non-finite combined depth sums")
    }
    if let combined = try? SILogDepthLoss().result(combining: sums.map(\.depth)) {
        require(combined.value.isFinite && combined.images.allSatisfy { $0.isFinite }, "non-finite combined SILog sums")
    }
}
