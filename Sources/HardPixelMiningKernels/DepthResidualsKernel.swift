extension Kernels {
    /// Depth residuals over `count` pixels: `R = logD − log D*` in Double where `D*` is valid,
    /// else 0, and `hasDepth` = 1 where `D*` is valid. The log and the difference are taken
    /// in Double (a Float log's error of about 2.6e-7 would dominate residuals of 1e-3 and
    /// below); it is per pixel, not per class, so it costs little. Subnormal Float depths are
    /// normal Doubles, so they get their exact log too.
    package static func depthResiduals(
        predicted: UnsafePointer<Float>, depth: UnsafePointer<Float>, count: Int,
        minimum: Float, maximum: Float, residual: UnsafeMutablePointer<Double>, hasDepth: UnsafeMutablePointer<UInt8>
    ) {
        typealias V = SIMD8<Float>
        var p = 0
        let one = V(repeating: 1), zero = V(repeating: 0)
        let low = V(repeating: minimum), high = V(repeating: maximum)
        while p < count {
            let n = Swift.min(8, count - p)
            let d = V.load(depth + p, count: n, padding: 0)
            // NaN compares false, so it is invalid. Where invalid: log 1 = +0 and a
            // predicted log of 0, so that R is exactly +0 with no select in Double.
            let valid = (d .>= low) .& (d .<= high)
            let logDepth = VectorMath.log(normalizing: one.with(d, where: valid))
            let predictedLog = DoubleVector(widening: zero.with(V.load(predicted + p, count: n, padding: 0), where: valid))
            let r = predictedLog - logDepth
            if n == 8 {
                // Whole vectors: one store of the residuals, one of the 8 flags.
                UnsafeMutableRawPointer(residual + p).storeBytes(of: r, as: DoubleVector.self)
                let flags = SIMD8<UInt8>(truncatingIfNeeded: SIMD8<Int32>(repeating: 0).replacing(with: 1, where: valid))
                UnsafeMutableRawPointer(hasDepth + p).storeBytes(of: flags, as: SIMD8<UInt8>.self)
            } else {
                for lane in 0..<n {
                    residual[p + lane] = r[lane]
                    hasDepth[p + lane] = valid[lane] ? 1 : 0
                }
            }
            p += n
        }
    }

    /// nd (the pixels with valid depth), the eligible pixels among them (a label other than
    /// `ignoreLabel`; 0 without `labels`), Σ R and Σ R² over `count` pixels.
    ///
    /// Eight pixels at a time: the sums are kept in eight lanes (lane `l` adds pixels
    /// `l, l + 8, …` in order, the last vector padded with R = 0 and no depth) and the lanes
    /// added pairwise at the end, in a fixed order: the same for any thread count and build.
    /// R is exactly 0 where there is no depth, and adding +0 to a lane that starts at +0 leaves
    /// it bitwise as skipping the pixel would.
    package static func depthSums(
        residual: UnsafePointer<Double>, hasDepth: UnsafePointer<UInt8>, labels: UnsafePointer<Int32>?,
        ignoreLabel: Int32, count: Int
    ) -> (pixels: Int, eligible: Int, sum: Double, squaredSum: Double) {
        typealias D = SIMD8<Double>
        typealias I = SIMD8<Int32>
        var pixels = I(), eligible = I(), sum = D(), squaredSum = D()
        let ignore = I(repeating: ignoreLabel)
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
            let valid = I(flags: flags)
            pixels &+= valid
            eligible &+= valid & I(allOnesWhere: y .!= ignore)
            sum += r
            squaredSum += r * r
            i &+= n
        }
        return (pixels.total, eligible.total, sum.total, squaredSum.total)
    }

    /// The largest depth among `count` pixels where `hasDepth` is set, or nil without one:
    /// branch-free, eight lanes at a time (a maximum does not depend on the order; invalid
    /// pixels count as 0, below any valid depth, which is > 0).
    package static func largestValidDepth(_ depth: UnsafePointer<Float>, hasDepth: UnsafePointer<UInt8>, count: Int) -> Float? {
        typealias F = SIMD8<Float>
        var lanes = F(), i = 0
        while i + 8 <= count {
            let d = UnsafeRawPointer(depth + i).loadUnaligned(as: F.self)
            let valid = SIMD8<Int32>(flags: UnsafeRawPointer(hasDepth + i).loadUnaligned(as: SIMD8<UInt8>.self))
            let candidate = F().replacing(with: d, where: valid .!= SIMD8<Int32>())
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
}
