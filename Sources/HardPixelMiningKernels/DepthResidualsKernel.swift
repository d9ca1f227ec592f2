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
}
