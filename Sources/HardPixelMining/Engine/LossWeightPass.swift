import HardPixelMiningKernels
/// The per-pixel loss weights from predicted classes instead of logits (the journal
/// version's Loss Weight Module, for trainers whose logits stay on an accelerator): Δ from
/// the predictions, R from the depths, then the objective's own weighing per image, which
/// writes `W_i`. Nothing here reads logits, so no per-pixel loss exists: the segmentation
/// term cannot be paced, and the sums of weighted losses stay 0.
enum LossWeightPass {
    static func run(
        predictions: UnsafePointer<Int32>, labels: UnsafePointer<Int32>, predictedLogDepth: UnsafePointer<Float>?,
        groundTruthDepth: UnsafePointer<Float>?, shape: BatchShape, plan: WeightingPlan, targets: Targets,
        into weights: UnsafeMutablePointer<Float>, workspace ws: ObjectiveWorkspace, threads: Int
    ) throws -> [ImageSums] {
        let items = ObjectiveEngine.WorkItems(shape)
        try ws.reserve(
            pixels: shape.pixelCount, table: plan.regionTableCount(images: shape.images), chunks: items.count,
            columns: ObjectiveWorkspace.columns(of: shape.pixelMap), images: shape.images)
        RegionTable.markErrors(
            predictions: predictions, labels: labels, ignoreLabel: plan.ignoreLabel, count: shape.pixelCount, workspace: ws)
        ws.loss.update(repeating: 0, count: shape.pixelCount)
        if let depth = groundTruthDepth {
            for item in 0..<items.count {
                let (_, pixels, pixel) = items(item)
                DepthPass.prepare(
                    item: item, pixels: (pixel + pixels.lowerBound)..<(pixel + pixels.upperBound), predicted: predictedLogDepth,
                    groundTruth: depth, labels: labels, ignoreLabel: plan.ignoreLabel, binning: plan.binning, workspace: ws)
            }
        }
        ws.mapColumns(of: shape.pixelMap, toGridColumns: plan.grid.columns)
        let outputs = EngineOutputs(logitGradient: nil, lossWeights: weights)
        ObjectiveEngine.countLabels(shape: shape, labels: labels, targets: targets, reduction: .perImageMean, workspace: ws, threads: threads)
        ObjectiveEngine.updateEachImage(shape, ws, threads, WeighingPass.EachImage(
            plan: plan, shape: shape.pixelMap, labels: labels, groundTruthDepth: groundTruthDepth, pooledDepth: nil,
            outputs: outputs, workspace: ws, batchImages: nil))
        return ws.imageSums
    }
}
