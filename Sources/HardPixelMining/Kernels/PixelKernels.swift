// The vectorised inner loops. Logits are NCHW: a pixel's classes are one plane
// (H·W floats) apart. The kernels work on tiles of up to 256 neighbouring pixels, so each
// visit to a class plane reads 1 KB contiguously (a short walk of 8 pixels per plane
// would touch C streams for 32 bytes each and stall on memory), and keep the tile's
// per-pixel state in small stack buffers. Class indices are carried as Float so that
// every compare is vector-against-vector (compares against a scalar Int32 turn into
// lane loops). Everything here trusts its caller: the API layer validated the shapes.

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
    /// log p_label, the log-probability of the true class (0 on ignored pixels).
    var labelLogProbability: UnsafeMutablePointer<Float>

    func advanced(by offset: Int) -> PixelStatistics {
        PixelStatistics(
            maximum: maximum + offset, logSum: logSum + offset, loss: loss + offset, wrong: wrong + offset,
            labelLogProbability: labelLogProbability + offset)
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
    /// Pixels per tile (a multiple of 8).
    static let tile = 256
    static let vectorsPerTile = tile / 8
    /// The scratch vectors one worker needs (supplied by the workspace, so no call allocates).
    static let tileStateVectors = 5 * vectorsPerTile

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
        range: Range<Int>, targets: Targets, out: PixelStatistics, state: UnsafeMutablePointer<FloatVector>
    ) -> Bool {
        var finite = true
        var p = range.lowerBound
        while p < range.upperBound {
            let count = Swift.min(tile, range.upperBound - p)
            finite = statisticsTile(logits, labels, plane, classes, p, count, targets, out, state) && finite
            p += count
        }
        return finite
    }

    @inline(__always)
    private static func statisticsTile(
        _ x: UnsafePointer<Float>, _ labels: UnsafePointer<Int32>, _ plane: Int, _ classes: Int,
        _ p: Int, _ count: Int, _ t: Targets, _ out: PixelStatistics, _ state: UnsafeMutablePointer<FloatVector>
    ) -> Bool {
        let full = count / 8            // whole vectors
        let rest = count - full * 8     // pixels in a last, partial vector
        let vectors = full + (rest > 0 ? 1 : 0)
        let m = state, argmax = state + vectorsPerTile
        let sumExp = state + 2 * vectorsPerTile, sumGap = state + 3 * vectorsPerTile

        // Sweep 1 over the classes: max, first argmax, and a finiteness check
        // (x − x is 0 for finite x and NaN otherwise).
        var check = FloatVector(repeating: 0)
        for v in 0..<vectors {
            let value = Lanes.load(x + p + 8 * v, count: v < full ? 8 : rest, padding: 0)
            check += value - value
            m[v] = value
            argmax[v] = FloatVector(repeating: 0)
        }
        for c in 1..<classes {
            let row = x + c * plane + p
            let index = FloatVector(repeating: Float(c))
            for v in 0..<full {
                let value = UnsafeRawPointer(row + 8 * v).loadUnaligned(as: FloatVector.self)
                check += value - value
                let greater = value .> m[v]
                m[v] = select(greater, value, m[v])
                argmax[v] = select(greater, index, argmax[v])
            }
            if rest > 0 {
                let value = Lanes.load(row + 8 * full, count: rest, padding: 0)
                check += value - value
                let greater = value .> m[full]
                m[full] = select(greater, value, m[full])
                argmax[full] = select(greater, index, argmax[full])
            }
        }
        if check != FloatVector(repeating: 0) { return false }

        // Sweep 2 over the same tile (from cache): Σ exp(x − m) and Σ (x − m).
        let floor = FloatVector(repeating: gapFloor)
        for v in 0..<vectors {
            sumExp[v] = FloatVector(repeating: 0)
            sumGap[v] = FloatVector(repeating: 0)
        }
        for c in 0..<classes {
            let row = x + c * plane + p
            for v in 0..<full {
                var gap = UnsafeRawPointer(row + 8 * v).loadUnaligned(as: FloatVector.self) - m[v]
                sumExp[v] += VectorMath.exp(gap)
                gap = select(gap .< floor, floor, gap)
                sumGap[v] += gap
            }
            if rest > 0 {
                var gap = Lanes.load(row + 8 * full, count: rest, padding: 0) - m[full]
                sumExp[full] += VectorMath.exp(gap)
                gap = select(gap .< floor, floor, gap)
                sumGap[full] += gap
            }
        }

        // Per pixel: ce = −[off · Σ_j log p_j + (on − off) · log p_label],
        // with log p_j = (x_j − m) − logSum.
        let c32 = Int32(truncatingIfNeeded: classes)
        for v in 0..<vectors {
            let n = v < full ? 8 : rest
            let q = p + 8 * v
            let logSum = VectorMath.log(sumExp[v])
            var labelGap = FloatVector(repeating: 0)
            var valid = FloatVector(repeating: 0)
            var labelIndex = FloatVector(repeating: -1)
            for lane in 0..<n {
                let label = labels[q + lane]
                if label != t.ignoreLabel && label >= 0 && label < c32 {
                    labelGap[lane] = x[Int(label) * plane + q + lane] - m[v][lane]
                    valid[lane] = 1
                    labelIndex[lane] = Float(label)
                }
            }
            labelGap = select(labelGap .< floor, floor, labelGap)
            let sumLogP = sumGap[v] - Float(classes) * logSum
            var loss = -(t.off * sumLogP + (t.on - t.off) * (labelGap - logSum))
            loss = select(valid .== FloatVector(repeating: 0), FloatVector(repeating: 0), loss)
            Lanes.store(m[v], out.maximum + q, count: n)
            Lanes.store(logSum, out.logSum + q, count: n)
            Lanes.store(loss, out.loss + q, count: n)
            let labelLogP = select(valid .== FloatVector(repeating: 0), FloatVector(repeating: 0), labelGap - logSum)
            Lanes.store(labelLogP, out.labelLogProbability + q, count: n)
            let wrong = argmax[v] .!= labelIndex
            for lane in 0..<n { out.wrong[q + lane] = valid[lane] != 0 && wrong[lane] ? 1 : 0 }
        }
        return true
    }

    /// Gradient pass over pixels `range` of one image:
    /// `g_ij = coefficient_i · (p_ij − y_ij)`, with `p_ij = exp((x_ij − m_i) − logSum_i)`.
    /// `coefficient` is 0 on ignored pixels, which then get a zero gradient.
    static func gradient(
        logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, plane: Int, classes: Int,
        range: Range<Int>, targets: Targets, maximum: UnsafePointer<Float>, logSum: UnsafePointer<Float>,
        coefficient: UnsafePointer<Float>, gradient: UnsafeMutablePointer<Float>, state: UnsafeMutablePointer<FloatVector>
    ) {
        var p = range.lowerBound
        while p < range.upperBound {
            let count = Swift.min(tile, range.upperBound - p)
            gradientTile(logits, labels, plane, classes, p, count, targets, maximum, logSum, coefficient, gradient, state)
            p += count
        }
    }

    @inline(__always)
    private static func gradientTile(
        _ x: UnsafePointer<Float>, _ labels: UnsafePointer<Int32>, _ plane: Int, _ classes: Int,
        _ p: Int, _ count: Int, _ t: Targets, _ maximum: UnsafePointer<Float>, _ logSum: UnsafePointer<Float>,
        _ coefficient: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>, _ state: UnsafeMutablePointer<FloatVector>
    ) {
        let full = count / 8
        let rest = count - full * 8
        let vectors = full + (rest > 0 ? 1 : 0)
        let shift = state, logSumV = state + vectorsPerTile, coefOff = state + 2 * vectorsPerTile
        let coefV = state + 3 * vectorsPerTile
        for v in 0..<vectors {
            let n = v < full ? 8 : rest
            let q = p + 8 * v
            shift[v] = Lanes.load(maximum + q, count: n, padding: 0)
            logSumV[v] = Lanes.load(logSum + q, count: n, padding: 0)
            coefV[v] = Lanes.load(coefficient + q, count: n, padding: 0)
            coefOff[v] = coefV[v] * t.off
        }
        // Every class gets coef · (p − off); the true class's element is then corrected
        // by −coef · (on − off) once per pixel, instead of a compare and select per class.
        for c in 0..<classes {
            let offset = c * plane + p
            for v in 0..<full {
                let value = UnsafeRawPointer(x + offset + 8 * v).loadUnaligned(as: FloatVector.self)
                let prob = VectorMath.exp((value - shift[v]) - logSumV[v])
                UnsafeMutableRawPointer(g + offset + 8 * v).storeBytes(of: coefV[v] * prob - coefOff[v], as: FloatVector.self)
            }
            if rest > 0 {
                let value = Lanes.load(x + offset + 8 * full, count: rest, padding: 0)
                let prob = VectorMath.exp((value - shift[full]) - logSumV[full])
                Lanes.store(coefV[full] * prob - coefOff[full], g + offset + 8 * full, count: rest)
            }
        }
        let extra = t.on - t.off
        let c32 = Int32(truncatingIfNeeded: classes)
        for i in p..<(p + count) {
            let label = labels[i]
            if label >= 0 && label < c32 && label != t.ignoreLabel {
                g[Int(label) * plane + i] -= coefficient[i] * extra
            }
        }
    }

    /// Depth residuals over `count` pixels: `R = logD − log D*` in Double where `D*` is valid,
    /// else 0, and `hasDepth` = 1 where `D*` is valid. The log and the difference are taken
    /// in Double (a Float log's error of about 2.6e-7 would dominate residuals of 1e-3 and
    /// below); it is per pixel, not per class, so it costs little. Subnormal Float depths are
    /// normal Doubles, so they get their exact log too.
    static func depthResiduals(
        predicted: UnsafePointer<Float>, depth: UnsafePointer<Float>, count: Int,
        minimum: Float, maximum: Float, residual: UnsafeMutablePointer<Double>, hasDepth: UnsafeMutablePointer<UInt8>
    ) {
        var p = 0
        let one = FloatVector(repeating: 1), zero = FloatVector(repeating: 0)
        let low = FloatVector(repeating: minimum), high = FloatVector(repeating: maximum)
        while p < count {
            let n = Swift.min(8, count - p)
            let d = Lanes.load(depth + p, count: n, padding: 0)
            // NaN compares false, so it is invalid.
            let valid = (d .>= low) .& (d .<= high)
            let safe = select(valid, d, one)
            let logDepth = VectorMath.log(DoubleVector(safe))
            let predictedLog = DoubleVector(Lanes.load(predicted + p, count: n, padding: 0))
            let validDouble = DoubleVector(select(valid, one, zero))
            // R, and exactly 0 where the depth is invalid.
            let r = (predictedLog - logDepth).replacing(with: 0, where: validDouble .== 0)
            for lane in 0..<n {
                residual[p + lane] = r[lane]
                hasDepth[p + lane] = valid[lane] ? 1 : 0
            }
            p += n
        }
    }

    /// The index of the first NaN or infinite element, or nil.
    static func firstNonFiniteIndex(_ values: UnsafeBufferPointer<Float>) -> Int? {
        guard let base = values.baseAddress else { return nil }
        var p = 0
        let zero = FloatVector(repeating: 0)
        while p + 8 <= values.count {
            let v = UnsafeRawPointer(base + p).loadUnaligned(as: FloatVector.self)
            if v - v != zero { break }
            p += 8
        }
        while p < values.count {
            if !values[p].isFinite { return p }
            p += 1
        }
        return nil
    }
}
