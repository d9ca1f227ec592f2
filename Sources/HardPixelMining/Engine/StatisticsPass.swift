import HardPixelMiningKernels
/// The statistics pass: per-pixel max, log-sum-exp, ce, Δ and log p_label into the
/// workspace (and depth residuals when a binning is given), after which the logits are known
/// finite. Shared by mining, the hard-pixel objective and the error-prediction losses.
enum StatisticsPass {
    /// - Parameters:
    ///   - depthBinning: when given, residuals (with predicted depth) or validity alone
    ///     (without) are computed for every pixel.
    ///   - regionTable: counters the DSE region table needs (0 without DSE).
    ///   - exponentials: a Float NCHW gradient to be overwritten, where the pass keeps
    ///     `exp(x − m)` for ``GradientPass`` (``keepsExponentials(in:shape:accumulates:batch:)``);
    ///     meaningless if a logit is not finite (``ObjectiveEngine`` then zero-fills it).
    static func run(
        targets: Targets, shape: BatchShape, inputs: EngineInputs, depthBinning: DepthBinning?, regionTable: Int,
        exponentials: UnsafeMutablePointer<Float>? = nil, workspace ws: ObjectiveWorkspace, threads: Int
    ) throws {
        let items = ObjectiveEngine.WorkItems(shape)
        let layout = TileLayout(shape)
        try ws.reserve(
            pixels: shape.pixelCount, table: regionTable, chunks: items.count, columns: ObjectiveWorkspace.columns(of: shape.pixelMap),
            tile: .reserved(for: shape), workers: threads, images: shape.images)
        ObjectiveEngine.forEachItem(shape, layout: layout, threads: threads, workspace: ws, Tiles(
            targets: targets, plane: shape.pixelsPerImage, inputs: inputs, depthBinning: depthBinning,
            exponentials: exponentials, layout: layout, statistics: ws.statistics, workspace: ws))
        try throwIfNonFinite(logits: inputs.logits, shape: shape, items: items, workspace: ws)
    }

    /// The Float NCHW gradient in which the statistics pass keeps its exponentials, if any: an
    /// overwritten one, without a batch exchange (no rank writes when another may fail), on a
    /// build where keeping them pays and whose column vectors fill cache lines
    /// (``Kernels/keepsExponentials``).
    static func keepsExponentials(
        in gradient: MutableLogitBuffer?, shape: BatchShape, accumulates: Bool, batch: BatchExchange?
    ) -> UnsafeMutablePointer<Float>? {
        guard let gradient, gradient.precision == .float32, shape.logitLayout != .channelsLast, !accumulates,
              batch == nil, Kernels.keepsExponentials else { return nil }
        return gradient.base.assumingMemoryBound(to: Float.self)
    }

    /// Every pixel's predicted class (the first largest logit), N·H·W.
    static func predictedClasses(
        logits: LogitBuffer, shape: BatchShape, into out: UnsafeMutablePointer<Int32>,
        workspace ws: ObjectiveWorkspace, threads: Int
    ) throws {
        let items = ObjectiveEngine.WorkItems(shape)
        let layout = TileLayout(shape)
        try ws.reserve(pixels: 0, chunks: items.count, tile: .reserved(for: shape), workers: threads)
        ObjectiveEngine.forEachItem(shape, layout: layout, threads: threads, workspace: ws, PredictedClasses(
            logits: logits, plane: shape.pixelsPerImage, layout: layout, out: out, workspace: ws))
        try throwIfNonFinite(logits: logits, shape: shape, items: items, workspace: ws)
    }

    /// A work item's statistics (and with a binning: depth residuals or validity, and the
    /// item's ``DepthPass/ChunkSums``).
    private struct Tiles: ItemWork {
        let targets: Targets
        let plane: Int
        let inputs: EngineInputs
        let depthBinning: DepthBinning?
        let exponentials: UnsafeMutablePointer<Float>?
        let layout: TileLayout
        let statistics: PixelStatistics
        let workspace: ObjectiveWorkspace

        func run(
            item: Int, image _: Int, pixels: Range<Int>, firstPixel pixel: Int, firstLogit logit: Int,
            scratch: UnsafeMutablePointer<Float>
        ) {
            workspace.chunkFinite[item] = Kernels.statistics(
                logits: inputs.logits + logit, labels: inputs.labels + pixel, plane: plane,
                range: pixels, targets: targets, layout: layout, out: statistics.advanced(by: pixel),
                exponentials: exponentials.map { $0 + logit }, scratch: scratch)
            guard let binning = depthBinning, let depth = inputs.groundTruthDepth else { return }
            DepthPass.prepare(
                item: item, pixels: (pixel + pixels.lowerBound)..<(pixel + pixels.upperBound),
                predicted: inputs.predictedLogDepth, groundTruth: depth, labels: inputs.labels,
                ignoreLabel: targets.ignoreLabel, binning: binning, workspace: workspace)
        }
    }

    /// A work item's predicted classes.
    private struct PredictedClasses: ItemWork {
        let logits: LogitBuffer
        let plane: Int
        let layout: TileLayout
        let out: UnsafeMutablePointer<Int32>
        let workspace: ObjectiveWorkspace

        func run(
            item: Int, image _: Int, pixels: Range<Int>, firstPixel pixel: Int, firstLogit logit: Int,
            scratch: UnsafeMutablePointer<Float>
        ) {
            workspace.chunkFinite[item] = Kernels.predictedClasses(
                logits: logits + logit, plane: plane, range: pixels, layout: layout, out: out + pixel, scratch: scratch)
        }
    }

    /// The typed error for the first non-finite logit of the first work item that saw one.
    static func throwIfNonFinite(
        logits: LogitBuffer, shape: BatchShape, items: ObjectiveEngine.WorkItems, workspace ws: ObjectiveWorkspace
    ) throws {
        let count = shape.classes * shape.pixelsPerImage
        for item in 0..<items.count where !ws.chunkFinite[item] {
            let k = items(item).image
            let image = logits + k * count
            let index = Kernels.firstNonFiniteIndex(image, count: count) ?? 0
            throw HardPixelMiningError.nonFiniteValue(argument: "logits", index: k * count + index, value: image.float(at: index))
        }
    }
}
