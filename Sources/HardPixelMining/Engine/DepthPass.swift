import HardPixelMiningKernels
/// The depth terms on their own: L_dep's per-image sums and gradient, and the DPE weight map,
/// from residuals in the workspace (`Kernels.depthResiduals`, R in Double).
enum DepthPass {
    /// A pooled depth term's gradient: `slope · (R_i − shift) + offset` on valid depth.
    typealias Coefficients = (slope: Double, shift: Double, offset: Double)

    /// The batch's nd, Σ R and Σ R² from the sums the statistics pass kept per work item: per
    /// image (``addKeptSums(_:image:plane:_:)``), then over images in order (as
    /// ``ObjectiveResult`` combines them).
    static func pooledSums(
        shape: PixelMapShape, workspace ws: ObjectiveWorkspace, batch: BatchExchange? = nil
    ) throws -> (pixels: Int, sum: Double, squaredSum: Double) {
        let images = (0..<shape.images).lazy.map { k in
            var s = ImageSums()
            _ = addKeptSums(&s, image: k, plane: shape.pixelsPerImage, ws)
            return s.depth
        }
        let pooled = try batch?.pooledDepth(Array(images)) ?? DepthSums.pooled(images)
        return (pooled.depthPixels, pooled.residualSum, pooled.squaredResidualSum)
    }

    /// One chunk's share of an image's depth sums: nd, the eligible pixels (valid depth and a
    /// label other than the ignore label; 0 without labels), Σ R, Σ R², and the largest valid
    /// depth (0 without one, or without the depths).
    struct ChunkSums {
        var pixels = 0, eligible = 0, sum = 0.0, squaredSum = 0.0
        var largestDepth: Float = 0
    }

    /// ``ChunkSums`` of `count` pixels from `first` (at most ``ObjectiveEngine/chunkPixels``,
    /// residuals and flags in the workspace): ``Kernels/depthSums(residual:hasDepth:labels:ignoreLabel:count:)``
    /// in eight lanes, totalled.
    static func chunkSums(
        from first: Int, count: Int, labels: UnsafePointer<Int32>? = nil, ignoreLabel: Int32 = 0,
        groundTruth: UnsafePointer<Float>? = nil, _ ws: ObjectiveWorkspace
    ) -> ChunkSums {
        let sums = Kernels.depthSums(
            residual: ws.residual + first, hasDepth: ws.hasDepth + first, labels: labels, ignoreLabel: ignoreLabel,
            count: count)
        let largest = groundTruth.flatMap { Kernels.largestValidDepth($0, hasDepth: ws.hasDepth + first, count: count) }
        return ChunkSums(
            pixels: sums.pixels, eligible: sums.eligible, sum: sums.sum, squaredSum: sums.squaredSum, largestDepth: largest ?? 0)
    }

    /// Adds a chunk's counts and sums to an image's (the largest depth is left to the caller).
    static func add(_ c: ChunkSums, to s: inout ImageSums) {
        s.depthPixels += c.pixels
        s.eligiblePixels += c.eligible
        s.residualSum += c.sum
        s.squaredResidualSum += c.squaredSum
    }

    /// Adds to `s` image `k`'s depth sums as the statistics pass (or ``prepare(item:pixels:predicted:groundTruth:labels:ignoreLabel:binning:workspace:)``)
    /// kept them per work item, in order; returns the image's largest valid depth (0 without one).
    static func addKeptSums(_ s: inout ImageSums, image k: Int, plane: Int, _ ws: ObjectiveWorkspace) -> Float {
        let chunks = ObjectiveEngine.WorkItems.chunks(perImage: plane)
        var largest: Float = 0
        for item in (k * chunks)..<((k + 1) * chunks) {
            let c = ws.chunkDepth[item]
            add(c, to: &s)
            largest = Swift.max(largest, c.largestDepth)
        }
        return largest
    }

    /// nd, Σ R, Σ R² of an image's `count` pixels from `first`: per chunk of
    /// ``ObjectiveEngine/chunkPixels`` (``chunkSums(from:count:labels:ignoreLabel:groundTruth:_:)``),
    /// added in order, so that they are bitwise the sums the statistics pass keeps per work item
    /// (``ObjectiveWorkspace/chunkDepth``).
    static func imageSums(_ s: inout ImageSums, from first: Int, count: Int, _ ws: ObjectiveWorkspace) {
        var done = 0
        while done < count {
            let n = Swift.min(ObjectiveEngine.chunkPixels, count - done)
            add(chunkSums(from: first + done, count: n, ws), to: &s)
            done += n
        }
    }

    /// SILog over the batch: the per-image sums, and the pooled gradient (times `factor`).
    static func silog(
        _ silog: SILog, predicted: UnsafePointer<Float>, groundTruth: UnsafePointer<Float>, shape: PixelMapShape,
        binning: DepthBinning, gradient: UnsafeMutablePointer<Float>?, factor: Double, accumulates: Bool,
        workspace ws: ObjectiveWorkspace, batch: BatchExchange? = nil
    ) throws -> [ImageSums] {
        try residuals(predicted: predicted, groundTruth: groundTruth, shape: shape, binning: binning, workspace: ws)
        let plane = shape.pixelsPerImage
        ws.imageSums.removeAll(keepingCapacity: true)
        for k in 0..<shape.images {
            var s = ImageSums()
            imageSums(&s, from: k * plane, count: plane, ws)
            ws.imageSums.append(s)
        }
        let local = ws.imageSums.map(\.depth)
        let pooled = try batch?.pooledDepth(local) ?? DepthSums.pooled(local)
        if let gradient {
            let g = silog.gradientCoefficients(
                pixels: pooled.depthPixels, sum: pooled.residualSum, squaredSum: pooled.squaredResidualSum, factor: factor)
            for i in 0..<shape.pixelCount {
                let value = ws.hasDepth[i] != 0 ? saturatingFloat(g.slope * (ws.residual[i] - g.shift) + g.offset) : 0
                if accumulates { gradient[i] += value } else { gradient[i] = value }
            }
        }
        return ws.imageSums
    }

    /// Per image: nd, Σ R, Σ R²; and, when `gradient` is given,
    /// `∂L/∂logD_i = factor · (1/N)(2/nd)(R_i − ρ mean(R))` on valid depth, 0 elsewhere, written
    /// or (`accumulates`) added.
    static func scaleInvariant(
        predicted: UnsafePointer<Float>, groundTruth: UnsafePointer<Float>, shape: PixelMapShape, binning: DepthBinning,
        scaleInvariance: Double, gradient: UnsafeMutablePointer<Float>?, factor: Double = 1, accumulates: Bool = false,
        workspace ws: ObjectiveWorkspace
    ) throws -> [ImageSums] {
        try residuals(predicted: predicted, groundTruth: groundTruth, shape: shape, binning: binning, workspace: ws)
        let plane = shape.pixelsPerImage
        ws.imageSums.removeAll(keepingCapacity: true)
        for k in 0..<shape.images {
            let base = k * plane
            var s = ImageSums()
            imageSums(&s, from: base, count: plane, ws)
            if let gradient {
                let nd = Double(s.depthPixels)
                let scale = s.depthPixels > 0 ? factor * (2 / (Double(shape.images) * nd)) : 0
                let mean = s.depthPixels > 0 ? s.residualSum / nd : 0
                for i in base..<(base + plane) {
                    let value = ws.hasDepth[i] != 0 ? saturatingFloat(scale * (ws.residual[i] - scaleInvariance * mean)) : 0
                    if accumulates { gradient[i] = saturatingFloat(Double(gradient[i]) + Double(value)) } else { gradient[i] = value }
                }
            }
            ws.imageSums.append(s)
        }
        return ws.imageSums
    }

    /// wR = |R| on eligible pixels (valid label and valid depth), 0 elsewhere.
    static func depthPredictionError(
        predicted: UnsafePointer<Float>, groundTruth: UnsafePointer<Float>, labels: UnsafePointer<Int32>,
        ignoreLabel: Int32, shape: PixelMapShape, binning: DepthBinning, into weights: UnsafeMutablePointer<Float>,
        workspace ws: ObjectiveWorkspace
    ) throws {
        try residuals(predicted: predicted, groundTruth: groundTruth, shape: shape, binning: binning, workspace: ws)
        for i in 0..<shape.pixelCount {
            weights[i] = labels[i] != ignoreLabel && ws.hasDepth[i] != 0 ? Float(abs(ws.residual[i])) : 0
        }
    }

    private static func residuals(
        predicted: UnsafePointer<Float>, groundTruth: UnsafePointer<Float>, shape: PixelMapShape, binning: DepthBinning,
        workspace ws: ObjectiveWorkspace
    ) throws {
        try ws.reserve(pixels: shape.pixelCount)
        prepare(predicted: predicted, groundTruth: groundTruth, pixels: 0..<shape.pixelCount, binning: binning, workspace: ws)
    }

    /// ``prepare(predicted:groundTruth:pixels:binning:workspace:)`` for work item `item`'s
    /// pixels, then the item's ``ChunkSums`` into the workspace while they are in cache (the
    /// weighing adds them): the statistics pass's depth work, and the Loss Weight Module's.
    static func prepare(
        item: Int, pixels: Range<Int>, predicted: UnsafePointer<Float>?, groundTruth: UnsafePointer<Float>,
        labels: UnsafePointer<Int32>, ignoreLabel: Int32, binning: DepthBinning, workspace ws: ObjectiveWorkspace
    ) {
        prepare(predicted: predicted, groundTruth: groundTruth, pixels: pixels, binning: binning, workspace: ws)
        let first = pixels.lowerBound
        ws.chunkDepth[item] = chunkSums(
            from: first, count: pixels.count, labels: labels + first, ignoreLabel: ignoreLabel,
            groundTruth: groundTruth + first, ws)
    }

    /// The workspace's `residual` and `hasDepth` for NHW pixels `pixels` (reserved
    /// beforehand): R in Double where the depth is valid (0 elsewhere) when the predicted
    /// log-depth is given, else validity alone with R = 0.
    static func prepare(
        predicted: UnsafePointer<Float>?, groundTruth: UnsafePointer<Float>, pixels: Range<Int>, binning: DepthBinning,
        workspace ws: ObjectiveWorkspace
    ) {
        let first = pixels.lowerBound
        if let predicted {
            Kernels.depthResiduals(
                predicted: predicted + first, depth: groundTruth + first, count: pixels.count,
                minimum: binning.minimum, maximum: binning.maximum, residual: ws.residual + first,
                hasDepth: ws.hasDepth + first)
        } else {
            for i in pixels {
                ws.hasDepth[i] = binning.isValid(groundTruth[i]) ? 1 : 0
                ws.residual[i] = 0
            }
        }
    }
}
