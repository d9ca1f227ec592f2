// libFuzzer harness for every public entry point (issue #6). Compiled together with the
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

    mutating func parameter() -> Double {
        let specials: [Double] = [.nan, .infinity, -.infinity, 0, -1, 1e300, 0.5, 1, 10, 40]
        let selector = byte()
        if selector < 40 { return specials[Int(selector) % specials.count] }
        return Double(byte()) / 16
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

func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("fuzz property violated: \(message())") }
}

/// Runs `body`; on a HardPixelMiningError checks `outputs` still hold the sentinel.
/// Any other error traps. Returns whether `body` succeeded.
func expectTypedOrSuccess(_ outputs: [[Float]], _ body: () throws -> Void, _ after: () -> [[Float]]) -> Bool {
    do {
        try body()
        return true
    } catch let error as HardPixelMiningError {
        require(!error.argument.isEmpty && !error.description.isEmpty, "error without an argument")
        for buffer in after() { require(buffer.allSatisfy { $0.bitPattern == sentinel.bitPattern }, "partial write before \(error)") }
        return false
    } catch {
        fatalError("untyped error \(error)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var r = ByteReader(data: UnsafeBufferPointer(start: bytes, count: size))
    let shape = BatchShape(images: r.int(4), classes: r.int(7), height: r.int(10), width: r.int(10))
    let sane = shape.images >= 1 && shape.classes >= 2 && shape.height >= 1 && shape.width >= 1
    let pixels = Swift.max(0, shape.images * shape.height * shape.width)
    let logitCount = pixels * Swift.max(0, shape.classes)

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
    c.depthPredictionErrorWeight = WeightSchedule(initial: r.parameter(), later: r.parameter(), switchEpoch: r.parameter())
    c.segmentationErrorWeight = r.parameter()
    c.grid = r.byte() % 5 == 0 ? .perPixel : .cells(rows: r.int(12) - 1, columns: r.int(12) - 1)
    c.depthBinning = DepthBinning(minimum: [1, 0, 0.5, -1][r.int(4)], maximum: [256, 100, .nan, 2][r.int(4)], binWidth: [10, 0, 3, 0.5][r.int(4)])
    c.pacing = r.byte() % 2 == 0 ? nil : SelfPacedPacing(totalEpochs: r.parameter())
    c.pacesSegmentation = r.byte() % 4 == 0
    c.propagatesDepthPredictionErrorToDepth = r.byte() % 2 == 0
    if r.byte() % 8 == 0 { c.ignoreLabel = Int32(r.byte()) - 1 }
    let epoch = r.parameter()
    let threads = r.int(4)

    let finiteInputs = logits.allSatisfy(\.isFinite) && predicted.allSatisfy(\.isFinite) && weights.allSatisfy(\.isFinite)
    let saneParameters = [c.depthWeight, c.scaleInvariance, c.depthPredictionErrorWeight.initial,
                          c.depthPredictionErrorWeight.later, c.segmentationErrorWeight, epoch]
        .allSatisfy { $0.isFinite && abs($0) <= 1e6 }

    // The objective, with both gradients.
    var gx = [Float](repeating: sentinel, count: r.count(logitCount))
    var gd = [Float](repeating: sentinel, count: r.count(pixels))
    var result: ObjectiveResult? = nil
    let succeeded = expectTypedOrSuccess([gx, gd], {
        result = try HardPixelMiningObjective(c, threadCount: threads).evaluate(
            logits: logits, labels: labels, predictedLogDepth: predicted, groundTruthDepth: depth, shape: shape,
            epoch: epoch, logitGradient: &gx, depthGradient: &gd)
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

    // Cross-entropy with pixel weights and per-pixel losses.
    var g = [Float](repeating: sentinel, count: r.count(logitCount))
    let ce = LabelSmoothedCrossEntropy(smoothing: c.smoothing, ignoreLabel: c.ignoreLabel, threadCount: threads)
    var ceResult: ObjectiveResult? = nil
    if expectTypedOrSuccess([g], { ceResult = try ce.evaluate(logits: logits, labels: labels, shape: shape, pixelWeights: weights, gradient: &g) }, { [g] }),
        finiteInputs, let ceResult {
        require(ceResult.value.isFinite && g.allSatisfy(\.isFinite), "non-finite cross-entropy")
    }
    _ = try? ce.pixelLosses(logits: logits, labels: labels, shape: shape)

    // Loss-rank mining.
    var gm = [Float](repeating: sentinel, count: r.count(logitCount))
    let mining: PixelMining = r.byte() % 2 == 0
        ? .topFraction(r.parameter() / 8) : .probabilityBelow(threshold: r.parameter() / 8, minimumKept: r.int(40) - 3)
    var minedResult: ObjectiveResult? = nil
    if expectTypedOrSuccess([gm], {
        minedResult = try LabelSmoothedCrossEntropy(smoothing: c.smoothing, ignoreLabel: c.ignoreLabel, mining: mining)
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
    _ = try? ep.metrics(errorLogits: predicted, segmentationLogits: logits, labels: labels, shape: shape)

    // DepthMix and side-output resampling.
    let partners = (0..<Swift.max(0, shape.images)).map { ($0 + r.int(2)) % Swift.max(1, shape.images) }
    if let mixed = try? DepthMix(margin: r.float()).mix(
        images: predicted, channels: 1, labels: labels, depth: depth, shape: shape, partners: partners) {
        require(mixed.masks.count == pixels, "DepthMix mask size")
    }
    let (h, w) = (r.int(12), r.int(12))
    _ = try? SideOutputResampling.labels(labels, shape: shape, height: h, width: w)
    if let d = try? SideOutputResampling.depth(depth, shape: shape, height: h, width: w) {
        require(d.allSatisfy { $0.isFinite }, "non-finite resampled depth")
    }
    _ = try? SideOutputResampling.weights(weights, shape: shape, height: h, width: w)

    // The depth loss.
    var gdepth = [Float](repeating: sentinel, count: r.count(pixels))
    var depthResult: ObjectiveResult? = nil
    let depthLoss = ScaleInvariantDepthLoss(scaleInvariance: c.scaleInvariance, depthBinning: c.depthBinning)
    if expectTypedOrSuccess([gdepth], { depthResult = try depthLoss.evaluate(predictedLogDepth: predicted, groundTruthDepth: depth, shape: shape, gradient: &gdepth) }, { [gdepth] }),
        finiteInputs && saneParameters, let depthResult {
        require(depthResult.value.isFinite && gdepth.allSatisfy(\.isFinite), "non-finite depth loss")
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
    if pixels <= 400 { _ = try? dse.tables(predictions: predictions, labels: labels, groundTruthDepth: depth, shape: shape) }
    if let pacing = c.pacing {
        if let eta = try? pacing.learningPace(of: weights, epoch: epoch) { require(eta.isFinite, "non-finite pace") }
        _ = try? pacing.mask(weights: weights, eligible: weights.map { $0 > 0 }, epoch: epoch)
    }
    return 0
}
