import HardPixelMiningKernels
/// The depth terms on their own: L_dep's per-image sums and gradient, and the DPE weight map,
/// from residuals in the workspace (`Kernels.depthResiduals`, R in Double).
enum DepthPass {
    /// A pooled depth term's gradient: `slope · (R_i − shift) + offset` on valid depth.
    typealias Coefficients = (slope: Double, shift: Double, offset: Double)

    /// The batch's nd, Σ R and Σ R² from the workspace's residuals: per image in eight lanes
    /// (``imageSums(_:from:count:labels:ignoreLabel:_:)``), then over images in order (as ``ObjectiveResult`` combines them).
    static func pooledSums(
        shape: PixelMapShape, workspace ws: ObjectiveWorkspace, batch: BatchExchange? = nil
    ) throws -> (pixels: Int, sum: Double, squaredSum: Double) {
        let plane = shape.pixelsPerImage
        let images = (0..<shape.images).lazy.map { k in
            var s = ImageSums()
            imageSums(&s, from: k * plane, count: plane, ws)
            return s.depth
        }
        let pooled = try batch?.pooledDepth(Array(images)) ?? DepthSums.pooled(images)
        return (pooled.depthPixels, pooled.residualSum, pooled.squaredResidualSum)
    }

    /// nd, Σ R, Σ R² of `count` pixels from `first`; with `labels` (of those pixels), also the
    /// eligible pixels (valid depth and a label other than `ignoreLabel`).
    ///
    /// Eight pixels at a time: the sums are kept in eight lanes (lane `l` adds pixels
    /// `l, l + 8, …` in order, the last vector padded with R = 0 and no depth) and the lanes
    /// added pairwise at the end, in a fixed order: the same for any thread count and build.
    /// R is exactly 0 where there is no depth, and adding +0 to a lane that starts at +0 leaves
    /// it bitwise as skipping the pixel would.
    static func imageSums(
        _ s: inout ImageSums, from first: Int, count: Int, labels: UnsafePointer<Int32>? = nil, ignoreLabel: Int32 = 0,
        _ ws: ObjectiveWorkspace
    ) {
        typealias D = SIMD8<Double>
        typealias I = SIMD8<Int32>
        let hasDepth = ws.hasDepth + first, residual = ws.residual + first
        var pixels = I(), eligible = I(), sum = D(), squaredSum = D()
        let none = I(), one = I(repeating: 1), ignore = I(repeating: ignoreLabel)
        var i = 0
        while i < count {
            let n = Swift.min(8, count - i)
            var r = D(), flags = SIMD8<UInt8>(), y = ignore
            if n == 8 {
                r = UnsafeRawPointer(residual + i).loadUnaligned(as: D.self)
                flags = UnsafeRawPointer(hasDepth + i).loadUnaligned(as: SIMD8<UInt8>.self)
                if let labels { y = UnsafeRawPointer(labels + i).loadUnaligned(as: I.self) }
            } else {
                for lane in 0..<n {
                    r[lane] = residual[i + lane]
                    flags[lane] = hasDepth[i + lane]
                    if let labels { y[lane] = labels[i + lane] }
                }
            }
            let valid = I(flags[0] != 0 ? 1 : 0, flags[1] != 0 ? 1 : 0, flags[2] != 0 ? 1 : 0, flags[3] != 0 ? 1 : 0,
                          flags[4] != 0 ? 1 : 0, flags[5] != 0 ? 1 : 0, flags[6] != 0 ? 1 : 0, flags[7] != 0 ? 1 : 0)
            pixels &+= valid
            eligible &+= valid & none.replacing(with: one, where: y .!= ignore)
            sum += r
            squaredSum += r * r
            i &+= n
        }
        @inline(__always) func total(_ v: D) -> Double { ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7])) }
        @inline(__always) func total(_ v: I) -> Int { (0..<8).reduce(0) { $0 + Int(v[$1]) } }
        s.depthPixels += total(pixels)
        if labels != nil { s.eligiblePixels += total(eligible) }
        s.residualSum += total(sum)
        s.squaredResidualSum += total(squaredSum)
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

    /// The largest depth among `count` pixels where `hasDepth` is set, or nil without one: a
    /// branch-free pass (invalid pixels count as 0, below any valid depth, which is > 0).
    static func largestValidDepth(_ depth: UnsafePointer<Float>, hasDepth: UnsafePointer<UInt8>, count: Int) -> Float? {
        // Eight lanes (a maximum does not depend on the order), the rest one by one.
        typealias F = SIMD8<Float>
        var lanes = F(), i = 0
        while i + 8 <= count {
            let d = UnsafeRawPointer(depth + i).loadUnaligned(as: F.self)
            let flags = UnsafeRawPointer(hasDepth + i).loadUnaligned(as: SIMD8<UInt8>.self)
            let valid = F(flags[0] != 0 ? 1 : 0, flags[1] != 0 ? 1 : 0, flags[2] != 0 ? 1 : 0, flags[3] != 0 ? 1 : 0,
                          flags[4] != 0 ? 1 : 0, flags[5] != 0 ? 1 : 0, flags[6] != 0 ? 1 : 0, flags[7] != 0 ? 1 : 0)
            let candidate = F().replacing(with: d, where: valid .!= F())
            lanes = lanes.replacing(with: candidate, where: candidate .> lanes)
            i &+= 8
        }
        var largest = lanes.max()
        while i < count {
            let d = hasDepth[i] != 0 ? depth[i] : 0
            largest = d > largest ? d : largest
            i &+= 1
        }
        return largest > 0 ? largest : nil
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
