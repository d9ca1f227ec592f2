// Vector exp and log for the kernels, generic over the lane count. Scalar `exp`/`log` per
// lane would turn a vector loop scalar, so both are polynomials on whole vectors with
// bit-casts for the exponent (Cephes' expf/logf coefficients), and multiply-adds fused
// where the target has FMA.

enum VectorMath {
    /// e^x for x <= 0 (softmax arguments); inputs below -87.33 are clamped to
    /// e^-87.33 ≈ 1.2e-38. Relative error below 2e-7 (Cephes expf).
    @inline(__always)
    static func exp<V: FloatLanes>(_ x: V) -> V {
        let low = V(repeating: -87.33)
        let x = x.with(low, where: x .< low)
        // n = round(x / ln 2) by the 1.5 · 2^23 trick: the sum's low mantissa bits hold n.
        let magic = V(repeating: 12_582_912)
        let t = magic.plusProduct(x, V(repeating: 1.442_695_04))
        let n = t - magic
        var r = x.plusProduct(n, V(repeating: -0.693_359_375))
        r = r.plusProduct(n, V(repeating: 2.121_944_4e-4))
        let r2 = r * r
        var p = V(repeating: 1.398_199_95e-3).plusProduct(r, V(repeating: 1.987_569_15e-4))
        p = V(repeating: 8.333_451_9e-3).plusProduct(p, r)
        p = V(repeating: 4.166_579_59e-2).plusProduct(p, r)
        p = V(repeating: 1.666_666_55e-1).plusProduct(p, r)
        p = V(repeating: 5.000_000_12e-1).plusProduct(p, r)
        p = (r + V(repeating: 1)).plusProduct(p, r2)
        // 2^n: (n + 127) << 23, with n read from the bits of t.
        let nBits = t.bits &- V.Bits(repeating: 0x4B40_0000)
        let scale = V(bits: (nBits &+ V.Bits(repeating: 127)) &<< V.Bits(repeating: 23))
        return p * scale
    }

    /// The natural logarithm of positive normal x. Relative error below 2e-7 (Cephes logf).
    @inline(__always)
    static func log<V: FloatLanes>(_ x: V) -> V {
        let bits = x.bits
        // x = m · 2^e with m in [0.5, 1); e as a Float through the 2^23 trick.
        let exponentBits = (bits &>> V.Bits(repeating: 23)) & V.Bits(repeating: 0xFF)
        var e = V(bits: exponentBits | V.Bits(repeating: 0x4B00_0000)) - V(repeating: 8_388_608 + 126)
        var m = V(bits: (bits & V.Bits(repeating: 0x007F_FFFF)) | V.Bits(repeating: 0x3F00_0000))
        let small = m .< V(repeating: 0.707_106_781)
        // For m < sqrt(1/2) use 2m - 1 and e - 1; otherwise m - 1.
        e = e.with(e - V(repeating: 1), where: small)
        m = m.with(m + m, where: small) - V(repeating: 1)
        let z = m * m
        var y = V(repeating: -1.151_461_031_0e-1).plusProduct(m, V(repeating: 7.037_683_629_2e-2))
        y = V(repeating: 1.167_699_874_0e-1).plusProduct(y, m)
        y = V(repeating: -1.242_014_084_6e-1).plusProduct(y, m)
        y = V(repeating: 1.424_932_278_7e-1).plusProduct(y, m)
        y = V(repeating: -1.666_805_766_5e-1).plusProduct(y, m)
        y = V(repeating: 2.000_071_476_5e-1).plusProduct(y, m)
        y = V(repeating: -2.499_999_399_3e-1).plusProduct(y, m)
        y = V(repeating: 3.333_333_117_4e-1).plusProduct(y, m)
        y = y * m * z
        y = y.plusProduct(e, V(repeating: -2.121_944_4e-4))
        y = y.plusProduct(z, V(repeating: -0.5))
        return (m + y).plusProduct(e, V(repeating: 0.693_359_375))
    }
}

typealias DoubleVector = SIMD8<Double>
typealias Int64Vector = SIMD8<Int64>

extension VectorMath {
    /// The natural logarithm of positive normal Doubles, to about 1 ulp: x = m · 2^e with
    /// m in [√½, √2), s = (m − 1)/(m + 1), and log m = 2 atanh s = 2s Σ_k s^(2k)/(2k + 1), summed
    /// to k = 10 (|s| ≤ 0.1716, so the first term left out is below 1e-19). Only vector
    /// integer and floating-point operations: no per-lane libm call, no Int64→Double convert.
    @inline(__always)
    static func log(_ x: DoubleVector) -> DoubleVector {
        let bits = unsafeBitCast(x, to: Int64Vector.self)
        // The biased exponent as a Double, through the 2^52 trick.
        let exponentBits = (bits &>> 52) & 0x7FF
        let twoTo52 = DoubleVector(repeating: 4_503_599_627_370_496)
        var e = unsafeBitCast(exponentBits | 0x4330_0000_0000_0000, to: DoubleVector.self) - twoTo52 - 1023
        var m = unsafeBitCast((bits & 0x000F_FFFF_FFFF_FFFF) | 0x3FF0_0000_0000_0000, to: DoubleVector.self)
        let large = m .> 1.414_213_562_373_095_1
        m = m.replacing(with: m * 0.5, where: large)
        e = e.replacing(with: e + 1, where: large)
        let s = (m - 1) / (m + 1)
        let z = s * s
        var series = DoubleVector(repeating: 1.0 / 21)
        for k in stride(from: 9, through: 0, by: -1) {
            series = series * z + 1.0 / Double(2 * k + 1)
        }
        return 2 * s * series + e * 0.693_147_180_559_945_309_4
    }
}
