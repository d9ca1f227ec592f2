import HardPixelMiningKernels
/// The passes over a batch, for every kind of ``SegmentationTerm``:
/// - `.plain`: a label pass, then one pass over the logits (``CrossEntropyPass``);
/// - `.mined` and `.hardPixel`: the statistics pass (reads the logits once; parallel over
///   image × pixel chunk; where that pays, it keeps exp(x − m) in an overwritten Float NCHW
///   gradient), the per-image weighing (per pixel, not per class; parallel over images), then
///   the gradient pass (from the kept exponentials, or reading the logits again; writes the
///   gradient once).
/// Work items write disjoint outputs and every sum runs in a fixed order, so the results are
/// bitwise identical for any thread count.
enum ObjectiveEngine {
    /// Pixels per work item of the pixel passes.
    static let chunkPixels = TileLayout.maximumPixels

    /// The work items of the pixel passes: each image cut into chunks of `chunkPixels` pixels.
    struct WorkItems {
        let plane: Int
        let chunksPerImage: Int
        let count: Int

        init(_ shape: BatchShape) {
            plane = shape.pixelsPerImage
            chunksPerImage = Self.chunks(perImage: plane)
            count = shape.images * chunksPerImage
        }

        /// The work items of an image of `plane` pixels (image `k`'s are `k · chunks ..< (k + 1) · chunks`).
        static func chunks(perImage plane: Int) -> Int { (plane + chunkPixels - 1) / chunkPixels }

        /// Item `i`: its image, its pixels within the image, and the image's first pixel in NHW.
        func callAsFunction(_ i: Int) -> (image: Int, pixels: Range<Int>, firstPixel: Int) {
            let k = i / chunksPerImage
            let lo = (i % chunksPerImage) * chunkPixels
            return (k, lo..<Swift.min(plane, lo + chunkPixels), k * plane)
        }
    }

    static func run(
        _ term: SegmentationTerm, targets: Targets, shape: BatchShape, inputs: EngineInputs, outputs: EngineOutputs,
        workspace ws: ObjectiveWorkspace, threads: Int, batch: BatchExchange? = nil
    ) throws -> [ImageSums] {
        var labelCoefficient: UnsafePointer<Float>? = nil
        let batchImages = batch?.images ?? shape.images
        let exponentials = StatisticsPass.keepsExponentials(
            in: outputs.logitGradient, shape: shape, accumulates: outputs.accumulates, batch: batch)
        switch term {
        case .plain(let pixelWeights, let reduction, let modulation):
            return try onePass(
                pixelWeights: pixelWeights, reduction: reduction, modulation: modulation, targets: targets, shape: shape,
                inputs: inputs, outputs: outputs, workspace: ws, threads: threads, batch: batch)
        case .weighted(let plan) where !plan.needsWeighing && !outputs.hasMaps:
            // L_seg alone (focal and poly included) is the cross-entropy's one pass.
            return try onePass(
                pixelWeights: nil, reduction: plan.reduction, modulation: plan.modulation, targets: targets, shape: shape,
                inputs: inputs, outputs: outputs, workspace: ws, threads: threads, batch: batch)
        case .mined(let mining, let pixelWeights):
            try statistics(outputs, shape, batch) {
                try StatisticsPass.run(
                    targets: targets, shape: shape, inputs: inputs, depthBinning: nil, regionTable: 0,
                    exponentials: exponentials, workspace: ws, threads: threads)
            }
            if mining.isBatchWide {
                try Mining.selectBatch(
                    mining, shape: shape.pixelMap, ignoreLabel: targets.ignoreLabel, labels: inputs.labels,
                    pixelWeights: pixelWeights, gradientScale: outputs.gradientScale, coefficientLimit: targets.coefficientLimit,
                    workspace: ws, batch: batch)
            } else {
                forEachImage(shape, ws, threads, MinedImage(
                    mining: mining, shape: shape.pixelMap, targets: targets, labels: inputs.labels, pixelWeights: pixelWeights,
                    gradientScale: outputs.gradientScale, workspace: ws, batchImages: batchImages))
            }
        case .weighted(var plan):
            plan.coefficientLimit = targets.coefficientLimit
            try statistics(outputs, shape, batch) {
                try StatisticsPass.run(
                    targets: targets, shape: shape, inputs: inputs,
                    depthBinning: plan.needsGroundTruthDepth ? plan.binning : nil,
                    regionTable: plan.regionTableCount(images: shape.images), exponentials: exponentials, workspace: ws,
                    threads: threads)
            }
            ws.mapColumns(of: shape.pixelMap, toGridColumns: plan.grid.columns)
            // A pooled depth term (SILog) needs the whole batch's sums before any image's gradient.
            var pooledDepth: DepthPass.Coefficients? = nil
            if plan.usesDepthLoss, let silog = plan.pooledDepth {
                let p = try DepthPass.pooledSums(shape: shape.pixelMap, workspace: ws, batch: batch)
                pooledDepth = silog.gradientCoefficients(
                    pixels: p.pixels, sum: p.sum, squaredSum: p.squaredSum, factor: outputs.gradientScale * plan.depthWeight)
            }
            countLabels(
                shape: shape, labels: inputs.labels, targets: targets, reduction: plan.reduction, workspace: ws, threads: threads)
            try batch?.poolDivisor(plan.reduction, &ws.imageSums)
            updateEachImage(shape, ws, threads, WeighingPass.EachImage(
                plan: plan, shape: shape.pixelMap, labels: inputs.labels, groundTruthDepth: inputs.groundTruthDepth,
                pooledDepth: pooledDepth, outputs: outputs, workspace: ws, batchImages: batchImages))
            if plan.modulation != nil { labelCoefficient = UnsafePointer(ws.labelCoefficient) }
            outputs.pixelLosses?.update(from: plan.modulation != nil ? ws.modulatedLoss : ws.loss, count: shape.pixelCount)
        }
        if let gradient = outputs.logitGradient {
            GradientPass.run(
                targets: targets, shape: shape, logits: inputs.logits, labels: inputs.labels, gradient: gradient,
                labelCoefficient: labelCoefficient, accumulates: outputs.accumulates, fromExponentials: exponentials != nil,
                workspace: ws, threads: threads)
        }
        if case .mined = term { outputs.pixelLosses?.update(from: ws.loss, count: shape.pixelCount) }
        return ws.imageSums
    }

    /// Per image, the mined pixels and their coefficients (``Mining/select(_:image:shape:ignoreLabel:labels:pixelWeights:gradientScale:coefficientLimit:workspace:batchImages:)``).
    private struct MinedImage: ImageWork {
        let mining: PixelMining
        let shape: PixelMapShape
        let targets: Targets
        let labels: UnsafePointer<Int32>
        let pixelWeights: UnsafePointer<Float>?
        let gradientScale: Double
        let workspace: ObjectiveWorkspace
        let batchImages: Int

        func run(image k: Int, sums: inout ImageSums) {
            sums = Mining.select(
                mining, image: k, shape: shape, ignoreLabel: targets.ignoreLabel, labels: labels, pixelWeights: pixelWeights,
                gradientScale: gradientScale, coefficientLimit: targets.coefficientLimit, workspace: workspace,
                batchImages: batchImages)
        }
    }

    /// The cross-entropy's one pass (a label pass first), with the depth gradient 0.
    private static func onePass(
        pixelWeights: UnsafePointer<Float>?, reduction: Reduction, modulation: Modulation?, targets: Targets,
        shape: BatchShape, inputs: EngineInputs, outputs: EngineOutputs, workspace ws: ObjectiveWorkspace, threads: Int,
        batch: BatchExchange?
    ) throws -> [ImageSums] {
        if outputs.accumulates || batch != nil {
            // Accumulating must leave the buffer untouched on error, and no rank of a split
            // batch may write when another fails: check before the one pass.
            try settled(batch) { try Check.allFinite(inputs.logits, count: shape.logitCount, "logits") }
        }
        let sums = try CrossEntropyPass.run(
            logits: inputs.logits, labels: inputs.labels, shape: shape, targets: targets, reduction: reduction,
            pixelWeights: pixelWeights, modulation: modulation, gradient: outputs.logitGradient,
            pixelLosses: outputs.pixelLosses, gradientScale: outputs.gradientScale, accumulates: outputs.accumulates,
            workspace: ws, threads: threads, batch: batch)
        // No depth term: its gradient is 0 (nothing to add when accumulating).
        if !outputs.accumulates { outputs.depthGradient?.update(repeating: 0, count: shape.pixelCount) }
        return sums
    }

    /// The statistics pass, run by `body` (through ``settled(_:_:)``). On a non-finite logit an
    /// overwritten logit gradient is zero-filled, without a batch exchange: the pass may have kept
    /// its exponentials there, and the one-pass cross-entropy leaves it so. Accumulated, or
    /// with a batch exchange (no rank writes when another fails), nothing was written to it.
    private static func statistics(
        _ outputs: EngineOutputs, _ shape: BatchShape, _ batch: BatchExchange?, _ body: () throws -> Void
    ) throws {
        do {
            try settled(batch, body)
        } catch HardPixelMiningError.nonFiniteValue(argument: "logits", let index, let value)
                    where batch == nil && !outputs.accumulates {
            outputs.logitGradient?.zero(count: shape.logitCount)
            throw HardPixelMiningError.nonFiniteValue(argument: "logits", index: index, value: value)
        }
    }

    /// `body`, and with a batch exchange every rank's outcome of it (``BatchExchange/settle(_:)``).
    private static func settled(_ batch: BatchExchange?, _ body: () throws -> Void) throws {
        if let batch { try batch.settle(body) } else { try body() }
    }

    /// Fills the workspace's per-image sums with `work`'s, in parallel over images: each
    /// image's starts empty (``ImageSums/init()``).
    static func forEachImage<Work: ImageWork>(_ shape: BatchShape, _ ws: ObjectiveWorkspace, _ threads: Int, _ work: Work) {
        ws.imageSums.removeAll(keepingCapacity: true)
        ws.imageSums.append(contentsOf: repeatElement(ImageSums(), count: shape.images))
        updateEachImage(shape, ws, threads, work)
    }

    /// Completes the workspace's per-image sums, already counted by ``countLabels(shape:labels:targets:reduction:workspace:threads:)``,
    /// with `work`, in parallel over images.
    static func updateEachImage<Work: ImageWork>(_ shape: BatchShape, _ ws: ObjectiveWorkspace, _ threads: Int, _ work: Work) {
        ws.imageSums.withUnsafeMutableBufferPointer { sums in
            Parallel.forEach(shape.images, threads: threads, Images(sums: sums.baseAddress!, work: work))
        }
    }

    /// The region of ``updateEachImage(_:_:_:_:)``: image `k` updates `sums[k]`.
    private struct Images<Work: ImageWork>: ParallelWork {
        let sums: UnsafeMutablePointer<ImageSums>
        let work: Work
        func run(_ k: Int, worker _: Int) { work.run(image: k, sums: &sums[k]) }
    }

    /// Runs `work` for every work item in parallel, each worker with its own tile scratch
    /// (reserved beforehand for `layout`).
    static func forEachItem<Work: ItemWork>(
        _ shape: BatchShape, layout: TileLayout, threads: Int, workspace ws: ObjectiveWorkspace, _ work: Work
    ) {
        let items = WorkItems(shape)
        Parallel.forEach(items.count, threads: threads, Items(
            items: items, imageLogits: shape.classes * shape.pixelsPerImage, scratch: ws.tileScratch,
            scratchFloats: layout.scratchFloats, work: work))
    }

    /// The region of ``forEachItem(_:layout:threads:workspace:_:)``: item `i` with worker `w`'s scratch.
    private struct Items<Work: ItemWork>: ParallelWork {
        let items: WorkItems
        let imageLogits: Int
        let scratch: UnsafeMutablePointer<Float>
        let scratchFloats: Int
        let work: Work

        func run(_ item: Int, worker: Int) {
            let (k, pixels, pixel) = items(item)
            work.run(
                item: item, image: k, pixels: pixels, firstPixel: pixel, firstLogit: k * imageLogits,
                scratch: scratch + worker * scratchFloats)
        }
    }

    /// The labelled pixels (label ≠ ignore) among `count` labels.
    static func labelledPixels(_ labels: UnsafePointer<Int32>, count: Int, ignoreLabel: Int32) -> Int {
        // A `while` loop with unchecked steps and no branch, which the compiler vectorises (a
        // `for i in 0..<count` loop with a branch per label does not, and mispredicts).
        var n = 0, i = 0
        while i < count {
            n &+= labels[i] != ignoreLabel ? 1 : 0
            i &+= 1
        }
        return n
    }

    /// n and, with class weights, Σ w_label over `count` (validated) labels, into `s`.
    static func countLabels(_ s: inout ImageSums, _ labels: UnsafePointer<Int32>, count: Int, targets: Targets) {
        s.labelledPixels = labelledPixels(labels, count: count, ignoreLabel: targets.ignoreLabel)
        guard let w = targets.classWeights else { return }
        var sum = 0.0
        for i in 0..<count where labels[i] != targets.ignoreLabel { sum += Double(w[Int(labels[i])]) }
        s.labelWeightSum = sum
    }

    /// The label pass, before any gradient, in parallel over images: the workspace's per-image
    /// sums start with each image's n (and Σ w_label), and with a pooled `reduction` the
    /// batch's divisor.
    static func countLabels(
        shape: BatchShape, labels: UnsafePointer<Int32>, targets: Targets, reduction: Reduction, workspace ws: ObjectiveWorkspace,
        threads: Int
    ) {
        forEachImage(shape, ws, threads, LabelCount(labels: labels, plane: shape.pixelsPerImage, targets: targets))
        if let divisor = Reduction.pooledDivisor(reduction, ws.imageSums.lazy.map(\.segmentationCount)) {
            for k in 0..<shape.images { ws.imageSums[k].pooledDivisor = divisor }
        }
    }

    /// The label pass's work: image `k`'s n and Σ w_label.
    private struct LabelCount: ImageWork {
        let labels: UnsafePointer<Int32>
        let plane: Int
        let targets: Targets
        func run(image k: Int, sums: inout ImageSums) {
            ObjectiveEngine.countLabels(&sums, labels + k * plane, count: plane, targets: targets)
        }
    }

    /// The factor of an image's logit gradient, `λ / (N · count)`, or `λ / divisor` when pooled.
    static func logitScale(_ s: ImageSums, images: Int, gradientScale: Double) -> Double {
        if let divisor = s.pooledDivisor { return divisor > 0 ? gradientScale / divisor : 0 }
        let count = s.segmentationCount
        return count > 0 ? gradientScale / (Double(images) * count) : 0
    }
}

/// The work of a region over images: image `k` fills or completes its sums.
protocol ImageWork {
    func run(image k: Int, sums: inout ImageSums)
}

/// The work of a pixel pass, per work item: the item, its image, its pixels within the image,
/// the image's first pixel in NHW and first logit in NCHW, and the worker's tile scratch.
protocol ItemWork {
    func run(
        item: Int, image: Int, pixels: Range<Int>, firstPixel: Int, firstLogit: Int, scratch: UnsafeMutablePointer<Float>)
}
