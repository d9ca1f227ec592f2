/// `x` as a Float, saturated at ±`limit` so that finite inputs, however extreme, give
/// finite outputs (an exact Double such as β · |R| / (N n) may exceed Float's range).
@inline(__always)
func saturatingFloat(_ x: Double, limit: Float = .greatestFiniteMagnitude) -> Float {
    Float(Swift.min(Swift.max(x, -Double(limit)), Double(limit)))
}

/// Raw views of the inputs, already validated against the shape.
struct EngineInputs {
    var logits: UnsafePointer<Float>
    var labels: UnsafePointer<Int32>
    /// Predicted log-depth; required when the configuration uses depth.
    var predictedLogDepth: UnsafePointer<Float>?
    /// Ground-truth depth; required when the configuration uses depth or DSE.
    var groundTruthDepth: UnsafePointer<Float>?
    /// Optional per-pixel weights of the segmentation term (cross-entropy API only).
    var pixelWeights: UnsafePointer<Float>? = nil
    /// Optional loss-rank mining of the segmentation term (cross-entropy API only).
    var mining: PixelMining? = nil
}

/// Raw views of the outputs; each is written only after all validation has passed.
struct EngineOutputs {
    var logitGradient: UnsafeMutablePointer<Float>?
    var depthGradient: UnsafeMutablePointer<Float>?
    var pixelLosses: UnsafeMutablePointer<Float>?
    /// A factor on both gradients (a side output's λ), applied per pixel in phase 2.
    var gradientScale: Double = 1
}

/// The fused objective in three phases:
/// 1. statistics (reads the logits once; parallel over image × pixel chunk),
/// 2. weights, pacing and sums (per pixel, not per class; parallel over images),
/// 3. gradient (reads the logits again, writes the gradient once; parallel over chunks).
/// Work items write disjoint outputs and every sum runs in a fixed order, so the
/// results are bitwise identical for any thread count.
enum ObjectiveEngine {
    /// Pixels per work item of phases 1 and 3 (a multiple of 8).
    static let chunkPixels = 8192

    /// The work items of the pixel passes: each image cut into chunks of `chunkPixels` pixels.
    struct WorkItems {
        let plane: Int
        let chunksPerImage: Int
        let count: Int

        init(_ shape: BatchShape) {
            plane = shape.pixelsPerImage
            chunksPerImage = (plane + chunkPixels - 1) / chunkPixels
            count = shape.images * chunksPerImage
        }

        /// Item `i`: its image, its pixels within the image, and the image's first pixel in NHW.
        func callAsFunction(_ i: Int) -> (image: Int, pixels: Range<Int>, firstPixel: Int) {
            let k = i / chunksPerImage
            let lo = (i % chunksPerImage) * chunkPixels
            return (k, lo..<Swift.min(plane, lo + chunkPixels), k * plane)
        }
    }

    static func run(
        configuration c: ObjectiveConfiguration, shape: BatchShape, epoch: Double,
        inputs: EngineInputs, outputs: EngineOutputs, workspace ws: ObjectiveWorkspace, threads: Int
    ) throws -> [ImageSums] {
        let plane = shape.pixelsPerImage
        let classes = shape.classes
        let items = WorkItems(shape)
        let targets = c.targets(classCount: classes)
        let grid = c.grid.dimensions(height: shape.height, width: shape.width)

        // Phase 1: per-pixel statistics and depth residuals (grows the workspace as needed).
        try statistics(configuration: c, shape: shape, inputs: inputs, workspace: ws, threads: threads)
        let layout = TileLayout(classes: classes)

        // Phase 2: weights, pacing, sums, depth gradient and per-pixel gradient coefficients.
        ws.imageSums.removeAll(keepingCapacity: true)
        ws.imageSums.append(contentsOf: repeatElement(ImageSums(), count: shape.images))
        for x in 0..<shape.width {
            ws.columnCell[x] = x * grid.columns / shape.width
        }
        ws.imageSums.withUnsafeMutableBufferPointer { sums in
            Parallel.forEach(shape.images, threads: threads) { k in
                sums[k] = weighImage(
                    k, configuration: c, shape: shape, grid: grid, epoch: epoch, inputs: inputs, outputs: outputs,
                    workspace: ws)
            }
        }

        // Phase 3: the logit gradient.
        if let gradient = outputs.logitGradient {
            Parallel.forEach(items.count, threads: threads) { item, worker in
                let (k, pixels, pixel) = items(item)
                Kernels.gradient(
                    logits: inputs.logits + k * classes * plane, labels: inputs.labels + pixel, plane: plane,
                    range: pixels, targets: targets, maximum: ws.maximum + pixel,
                    logSum: ws.logSum + pixel, coefficient: ws.coefficient + pixel,
                    gradient: gradient + k * classes * plane, layout: layout,
                    scratch: ws.tileScratch + worker * layout.scratchFloats)
            }
        }
        if let losses = outputs.pixelLosses {
            losses.update(from: ws.loss, count: shape.pixelCount)
        }
        return ws.imageSums
    }

    /// Phase 1 alone: per-pixel max, log-sum-exp, ce, Δ and log p_label into the workspace
    /// (and depth residuals when depth is given), after which the logits are known finite.
    /// Shared by the objective, cross-entropy and the error-prediction losses.
    static func statistics(
        configuration c: ObjectiveConfiguration, shape: BatchShape, inputs: EngineInputs,
        workspace ws: ObjectiveWorkspace, threads: Int
    ) throws {
        let plane = shape.pixelsPerImage
        let classes = shape.classes
        let items = WorkItems(shape)
        let targets = c.targets(classCount: classes)
        let grid = c.grid.dimensions(height: shape.height, width: shape.width)
        let table = c.usesSegmentationError ? shape.images * grid.columns * c.depthBinning.binCount : 0
        let layout = TileLayout(classes: classes)
        try ws.reserve(
            pixels: shape.pixelCount, table: table, chunks: items.count, columns: shape.width, tile: layout,
            workers: threads)
        let stats = ws.statistics
        Parallel.forEach(items.count, threads: threads) { item, worker in
            let (k, pixels, pixel) = items(item)
            let (lo, hi) = (pixels.lowerBound, pixels.upperBound)
            ws.chunkFinite[item] = Kernels.statistics(
                logits: inputs.logits + k * classes * plane, labels: inputs.labels + pixel, plane: plane,
                range: pixels, targets: targets, layout: layout, out: stats.advanced(by: pixel),
                scratch: ws.tileScratch + worker * layout.scratchFloats)
            if let depth = inputs.groundTruthDepth {
                if let predicted = inputs.predictedLogDepth {
                    Kernels.depthResiduals(
                        predicted: predicted + pixel + lo, depth: depth + pixel + lo, count: hi - lo,
                        minimum: c.depthBinning.minimum, maximum: c.depthBinning.maximum,
                        residual: ws.residual + pixel + lo, hasDepth: ws.hasDepth + pixel + lo)
                } else {
                    for i in (pixel + lo)..<(pixel + hi) {
                        ws.hasDepth[i] = c.depthBinning.isValid(depth[i]) ? 1 : 0
                        ws.residual[i] = 0
                    }
                }
            }
        }
        for item in 0..<items.count where !ws.chunkFinite[item] {
            let k = items(item).image
            let image = UnsafeBufferPointer(start: inputs.logits + k * classes * plane, count: classes * plane)
            let index = Kernels.firstNonFiniteIndex(image) ?? 0
            throw HardPixelMiningError.nonFiniteValue(
                argument: "logits", index: k * classes * plane + index, value: image[index])
        }
    }

    /// Phase 2 for image `k`.
    private static func weighImage(
        _ k: Int, configuration c: ObjectiveConfiguration, shape: BatchShape, grid: (rows: Int, columns: Int),
        epoch: Double, inputs: EngineInputs, outputs: EngineOutputs, workspace ws: ObjectiveWorkspace
    ) -> ImageSums {
        let plane = shape.pixelsPerImage
        let base = k * plane
        let labels = inputs.labels + base
        let loss = ws.loss + base
        let residual = ws.residual + base
        let hasDepth = ws.hasDepth + base
        let ignore = c.ignoreLabel
        let usesDepth = inputs.groundTruthDepth != nil
        var s = ImageSums()

        for i in 0..<plane where labels[i] != ignore {
            s.labelledPixels += 1
        }
        if let mining = inputs.mining {
            Mining.select(
                mining, plane: plane, images: shape.images, labels: labels, ignoreLabel: ignore, loss: loss,
                labelLogProbability: ws.labelLogProbability + base, pixelWeights: inputs.pixelWeights.map { $0 + base },
                scratch: ws.selection + base, coefficient: ws.coefficient + base, sums: &s)
            return s
        }
        if usesDepth {
            for i in 0..<plane where hasDepth[i] != 0 {
                s.depthPixels += 1
                let r = residual[i]
                s.residualSum += r
                s.squaredResidualSum += r * r
                if labels[i] != ignore { s.eligiblePixels += 1 }
            }
        }
        @inline(__always) func isEligible(_ i: Int) -> Bool { labels[i] != ignore && hasDepth[i] != 0 }

        let wZ = ws.segmentationError + base
        if c.usesSegmentationError {
            RegionTable.weights(
                image: k, shape: shape, grid: grid, binning: c.depthBinning, labels: labels,
                depth: inputs.groundTruthDepth! + base, hasDepth: hasDepth, wrong: ws.wrong + base,
                ignoreLabel: ignore, columnCell: ws.columnCell,
                count: ws.regionCount + k * grid.columns * c.depthBinning.binCount,
                errors: ws.regionErrors + k * grid.columns * c.depthBinning.binCount, weights: wZ,
                keys: ws.regionKey + base)
        }

        // Self-paced pacing: η per weight map over the eligible pixels (labelled ones for ce).
        if let pacing = c.pacing {
            let scratch = ws.selection + base
            func pace(_ include: (Int) -> Bool, _ weight: (Int) -> Float) -> Double? {
                var m = 0
                for i in 0..<plane where include(i) {
                    scratch[m] = weight(i)
                    m += 1
                }
                guard m > 0 else { return nil }
                let (u1, u2) = Selection.lowerMedianAndMaximum(UnsafeMutableBufferPointer(start: scratch, count: m))
                return pacing.pace(median: Double(u1), maximum: Double(u2), epoch: epoch)
            }
            if c.usesDepthPredictionError {
                s.depthPredictionErrorPace = pace(isEligible) { Float(abs(residual[$0])) }
            }
            if c.usesSegmentationError {
                s.segmentationErrorPace = pace(isEligible) { wZ[$0] }
            }
            if c.pacesSegmentation {
                s.segmentationPace = pace({ labels[$0] != ignore }) { loss[$0] }
            }
        }

        // Which hard pixels count: all eligible ones, or those under the pace.
        let paced = c.pacing != nil
        @inline(__always) func counts(_ w: Float, _ eta: Double?) -> Bool {
            guard paced else { return true }
            guard let eta else { return false }
            return Double(w) < eta
        }
        let beta = c.depthPredictionErrorWeight.value(atEpoch: epoch)
        let gamma = c.segmentationErrorWeight
        let n = Double(s.labelledPixels)
        let images = Double(shape.images)
        let λ = outputs.gradientScale
        let logitScale = s.labelledPixels > 0 ? λ / (images * n) : 0
        let depthScale = s.depthPixels > 0 && c.usesDepthLoss ? λ * c.depthWeight / images * 2 / Double(s.depthPixels) : 0
        let meanResidual = s.depthPixels > 0 ? s.residualSum / Double(s.depthPixels) : 0
        let depthGradient = outputs.depthGradient.map { $0 + base }
        let coefficient = ws.coefficient + base
        let pixelWeights = inputs.pixelWeights.map { $0 + base }

        for i in 0..<plane {
            var dg = 0.0
            if usesDepth && hasDepth[i] != 0 {
                dg = depthScale * (residual[i] - c.scaleInvariance * meanResidual)
            }
            guard labels[i] != ignore else {
                coefficient[i] = 0
                depthGradient?[i] = saturatingFloat(dg)
                continue
            }
            let ce = Double(loss[i])
            var w = 0.0
            if !c.pacesSegmentation || counts(loss[i], s.segmentationPace) {
                let pw = pixelWeights.map { Double($0[i]) } ?? 1
                w = pw
                s.crossEntropySum += pw * ce
            }
            if usesDepth && hasDepth[i] != 0 {  // hasDepth is only written when depth is given
                if c.usesDepthPredictionError {
                    let r = residual[i]
                    // wR as Float, the same value the pace was selected from.
                    let wr = Float(abs(r))
                    if counts(wr, s.depthPredictionErrorPace) {
                        s.depthPredictionErrorSum += Double(wr) * ce
                        w += beta * Double(wr)
                        if c.propagatesDepthPredictionErrorToDepth && r != 0 {
                            dg += beta * (r > 0 ? 1 : -1) * ce * logitScale
                        }
                    }
                }
                if c.usesSegmentationError && counts(wZ[i], s.segmentationErrorPace) {
                    s.segmentationErrorSum += Double(wZ[i]) * ce
                    w += gamma * Double(wZ[i])
                }
            }
            // A quarter of Float's range keeps coef · (p − y) finite in the gradient kernel.
            coefficient[i] = saturatingFloat(w * logitScale, limit: .greatestFiniteMagnitude / 4)
            depthGradient?[i] = saturatingFloat(dg)
        }
        return s
    }
}
