// The vectorised inner loops. Logits are NCHW, so each kernel works on blocks of
// 8 neighbouring pixels (contiguous within a class plane) and loops over classes.
// Everything here trusts its caller: shapes and labels are validated by the API layer.

/// Where the statistics pass leaves its per-pixel results (all of one length).
struct PixelStatistics {
    /// m, the largest logit of the pixel.
    var maximum: UnsafeMutablePointer<Float>
    /// log Σ_j exp(x_j - m); the log-sum-exp is `maximum + logSum`.
    var logSum: UnsafeMutablePointer<Float>
    /// ce, the label-smoothed cross-entropy (0 on ignored pixels).
    var loss: UnsafeMutablePointer<Float>
    /// Δ: 1 where the first largest logit's class differs from a valid label, else 0.
    var wrong: UnsafeMutablePointer<UInt8>

    func advanced(by offset: Int) -> PixelStatistics {
        PixelStatistics(
            maximum: maximum + offset, logSum: logSum + offset, loss: loss + offset, wrong: wrong + offset)
    }
}

/// The cross-entropy target of one configuration, as the kernels use it.
struct Targets {
    /// The target of the true class.
    var on: Float
    /// The target of every other class.
    var off: Float
    /// The ignore label.
    var ignoreLabel: Int32
}

enum Kernels {
    /// The smallest term kept in Σ(x - m): very negative logit gaps are clamped here so
    /// that sums over classes stay finite for any finite input.
    static let gapFloor: Float = -1e30

    /// Statistics pass over pixels `range` of one image.
    ///
    /// - Parameters:
    ///   - logits: the image's first logit (class 0, pixel 0); class `c` of pixel `p` is at `c · plane + p`.
    ///   - labels: the image's first label.
    ///   - out: per-pixel outputs of the image (indexed by pixel).
    /// - Returns: false if any logit in the range is NaN or infinite (then `out` is meaningless).
    static func statistics(
        logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, plane: Int, classes: Int,
        range: Range<Int>, targets: Targets, out: PixelStatistics
    ) -> Bool {
        var finite = true
        var p = range.lowerBound
        while p + 8 <= range.upperBound {
            finite = statisticsBlock(logits, labels, plane, classes, p, 8, targets, out) && finite
            p += 8
        }
        if p < range.upperBound {
            finite = statisticsBlock(logits, labels, plane, classes, p, range.upperBound - p, targets, out) && finite
        }
        return finite
    }

    @inline(__always)
    private static func statisticsBlock(
        _ x: UnsafePointer<Float>, _ labels: UnsafePointer<Int32>, _ plane: Int, _ classes: Int,
        _ p: Int, _ count: Int, _ t: Targets, _ out: PixelStatistics
    ) -> Bool {
        // Pass 1 over the classes (from memory): max, first argmax, finiteness.
        var m = Lanes.load(x + p, count: count, padding: 0)
        var argmax = IntVector(repeating: 0)
        var nonFinite = (m - m) .!= 0
        var row = x + p
        for c in 1..<classes {
            row += plane
            let v = Lanes.load(row, count: count, padding: 0)
            nonFinite = nonFinite .| ((v - v) .!= 0)
            let greater = v .> m
            m.replace(with: v, where: greater)
            argmax.replace(with: Int32(truncatingIfNeeded: c), where: greater)
        }
        if any(nonFinite) { return false }
        // Pass 2 over the same block (from L1): Σ exp(x - m) and Σ (x - m).
        var sumExp = FloatVector(repeating: 0)
        var sumGap = FloatVector(repeating: 0)
        let floor = FloatVector(repeating: gapFloor)
        row = x + p
        for _ in 0..<classes {
            let gap = Lanes.load(row, count: count, padding: 0) - m
            sumExp += VectorMath.exp(gap)
            sumGap += gap.replacing(with: floor, where: gap .< floor)
            row += plane
        }
        let logSum = VectorMath.log(sumExp)
        // The true-class gap, gathered per lane; ignored lanes keep 0 and are masked below.
        let label = Lanes.load(labels + p, count: count, padding: t.ignoreLabel)
        let c32 = Int32(truncatingIfNeeded: classes)
        let valid = (label .!= t.ignoreLabel) .& (label .>= 0) .& (label .< c32)
        var labelLogit = m
        for lane in 0..<count where valid[lane] {
            labelLogit[lane] = x[Int(label[lane]) * plane + p + lane]
        }
        var labelGap = labelLogit - m
        labelGap.replace(with: floor, where: labelGap .< floor)
        // ce = -[off · Σ_j log p_j + (on - off) · log p_label], with log p_j = (x_j - m) - logSum.
        let sumLogP = sumGap - Float(classes) * logSum
        var loss = -(t.off * sumLogP + (t.on - t.off) * (labelGap - logSum))
        loss.replace(with: 0, where: .!valid)
        let wrong = valid .& (argmax .!= label)
        Lanes.store(m, out.maximum + p, count: count)
        Lanes.store(logSum, out.logSum + p, count: count)
        Lanes.store(loss, out.loss + p, count: count)
        for lane in 0..<count { out.wrong[p + lane] = wrong[lane] ? 1 : 0 }
        return true
    }

    /// Gradient pass over pixels `range` of one image:
    /// `g_ij = coefficient_i · (p_ij - y_ij)`, with `p_ij = exp(x_ij - m_i - logSum_i)`.
    /// `coefficient` is 0 on ignored pixels, which then get a zero gradient.
    static func gradient(
        logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, plane: Int, classes: Int,
        range: Range<Int>, targets: Targets, maximum: UnsafePointer<Float>, logSum: UnsafePointer<Float>,
        coefficient: UnsafePointer<Float>, gradient: UnsafeMutablePointer<Float>
    ) {
        var p = range.lowerBound
        while p + 8 <= range.upperBound {
            gradientBlock(logits, labels, plane, classes, p, 8, targets, maximum, logSum, coefficient, gradient)
            p += 8
        }
        if p < range.upperBound {
            gradientBlock(
                logits, labels, plane, classes, p, range.upperBound - p, targets, maximum, logSum, coefficient,
                gradient)
        }
    }

    @inline(__always)
    private static func gradientBlock(
        _ x: UnsafePointer<Float>, _ labels: UnsafePointer<Int32>, _ plane: Int, _ classes: Int,
        _ p: Int, _ count: Int, _ t: Targets, _ maximum: UnsafePointer<Float>, _ logSum: UnsafePointer<Float>,
        _ coefficient: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>
    ) {
        let shift = Lanes.load(maximum + p, count: count, padding: 0)
        let logSumV = Lanes.load(logSum + p, count: count, padding: 0)
        let coef = Lanes.load(coefficient + p, count: count, padding: 0)
        let label = Lanes.load(labels + p, count: count, padding: -1)
        let coefOff = coef * t.off
        let coefExtra = coef * (t.on - t.off)
        var offset = p
        for c in 0..<classes {
            let v = Lanes.load(x + offset, count: count, padding: 0)
            let prob = VectorMath.exp((v - shift) - logSumV)
            var out = coef * prob - coefOff
            out.replace(with: out - coefExtra, where: label .== Int32(truncatingIfNeeded: c))
            Lanes.store(out, g + offset, count: count)
            offset += plane
        }
    }

    /// Depth residuals over `count` pixels: `R = logD - log D*` where `D*` is valid, else 0,
    /// and `hasDepth` = 1 where `D*` is valid.
    static func depthResiduals(
        predicted: UnsafePointer<Float>, depth: UnsafePointer<Float>, count: Int,
        minimum: Float, maximum: Float, residual: UnsafeMutablePointer<Float>, hasDepth: UnsafeMutablePointer<UInt8>
    ) {
        var p = 0
        while p < count {
            let n = Swift.min(8, count - p)
            let d = Lanes.load(depth + p, count: n, padding: 0)
            let valid = (d .>= minimum) .& (d .<= maximum)
            let safe = d.replacing(with: 1, where: .!valid)
            var r = Lanes.load(predicted + p, count: n, padding: 0) - VectorMath.log(safe)
            r.replace(with: 0, where: .!valid)
            Lanes.store(r, residual + p, count: n)
            for lane in 0..<n { hasDepth[p + lane] = valid[lane] ? 1 : 0 }
            p += n
        }
    }

    /// The index of the first NaN or infinite element, or nil.
    static func firstNonFiniteIndex(_ values: UnsafeBufferPointer<Float>) -> Int? {
        guard let base = values.baseAddress else { return nil }
        var p = 0
        while p + 8 <= values.count {
            let v = UnsafeRawPointer(base + p).loadUnaligned(as: FloatVector.self)
            if any((v - v) .!= 0) { break }
            p += 8
        }
        while p < values.count {
            if !values[p].isFinite { return p }
            p += 1
        }
        return nil
    }
}
