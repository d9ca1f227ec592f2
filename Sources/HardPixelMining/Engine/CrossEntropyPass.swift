import HardPixelMiningKernels
/// Label-smoothed cross-entropy in one pass over the logits (after a cheap pass over the
/// labels that counts each image's labelled pixels): statistics and gradient per tile, the
/// gradient streamed out. Work items are fixed chunks of pixels and every sum runs in chunk
/// order, so the result is bitwise the same for any thread count.
///
/// Error contract: the logits' finiteness is only known once a chunk has been read, so when
/// any logit is NaN or infinite the gradient and the per-pixel losses are zero-filled (never
/// left partly written) and the first such index is thrown. (In accumulate mode the engine
/// checks the logits first, so this pass never fails there.)
enum CrossEntropyPass {
    static func run(
        logits: LogitBuffer, labels: UnsafePointer<Int32>, shape: BatchShape, targets: Targets,
        reduction: Reduction, pixelWeights: UnsafePointer<Float>?, modulation: Modulation? = nil, gradient: MutableLogitBuffer?,
        pixelLosses: UnsafeMutablePointer<Float>?, gradientScale: Double, accumulates: Bool,
        workspace ws: ObjectiveWorkspace, threads: Int, batch: BatchExchange? = nil
    ) throws -> [ImageSums] {
        let plane = shape.pixelsPerImage
        let items = ObjectiveEngine.WorkItems(shape)
        let layout = TileLayout(shape)
        try ws.reserve(pixels: 0, table: 0, chunks: items.count, columns: 0, tile: .reserved(for: shape), workers: threads)
        try ws.reserveChunkSums(items.count)

        ObjectiveEngine.countLabels(shape: shape, labels: labels, targets: targets, reduction: reduction, workspace: ws, threads: threads)
        try batch?.poolDivisor(reduction, &ws.imageSums)
        let images = batch?.images ?? shape.images
        // The logit pass. Each item computes its image's gradient scale (cheap) rather than the
        // call keeping an array of them: no allocation in a steady-state call.
        ObjectiveEngine.forEachItem(shape, layout: layout, threads: threads, workspace: ws, Tiles(
            logits: logits, labels: labels, plane: plane, targets: targets, images: images, gradientScale: gradientScale,
            pixelWeights: pixelWeights, modulation: modulation, gradient: gradient, accumulates: accumulates,
            pixelLosses: pixelLosses, layout: layout, workspace: ws))
        if (0..<items.count).contains(where: { !ws.chunkFinite[$0] }) {
            // An accumulating caller checked the logits before this pass, so this is overwrite mode.
            gradient?.zero(count: shape.logitCount)
            pixelLosses?.update(repeating: 0, count: shape.pixelCount)
            try StatisticsPass.throwIfNonFinite(logits: logits, shape: shape, items: items, workspace: ws)
        }
        for item in 0..<items.count {
            ws.imageSums[items(item).image].crossEntropySum += ws.chunkSums[item]
        }
        return ws.imageSums
    }

    /// A work item's losses and gradient, in one pass over its tile.
    private struct Tiles: ItemWork {
        let logits: LogitBuffer
        let labels: UnsafePointer<Int32>
        let plane: Int
        let targets: Targets
        let images: Int
        let gradientScale: Double
        let pixelWeights: UnsafePointer<Float>?
        let modulation: Modulation?
        let gradient: MutableLogitBuffer?
        let accumulates: Bool
        let pixelLosses: UnsafeMutablePointer<Float>?
        let layout: TileLayout
        let workspace: ObjectiveWorkspace

        func run(
            item: Int, image k: Int, pixels: Range<Int>, firstPixel pixel: Int, firstLogit logit: Int,
            scratch: UnsafeMutablePointer<Float>
        ) {
            let scale = saturatingFloat(
                ObjectiveEngine.logitScale(workspace.imageSums[k], images: images, gradientScale: gradientScale),
                limit: targets.coefficientLimit)
            let (sum, finite) = Kernels.crossEntropy(
                logits: logits + logit, labels: labels + pixel, plane: plane, range: pixels,
                targets: targets, scale: scale, pixelWeights: pixelWeights.map { $0 + pixel }, modulation: modulation,
                gradient: gradient.map { $0 + logit }, accumulating: accumulates,
                pixelLosses: pixelLosses.map { $0 + pixel }, layout: layout, scratch: scratch)
            workspace.chunkFinite[item] = finite
            workspace.chunkSums[item] = sum
        }
    }
}
