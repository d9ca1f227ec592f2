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

extension VectorMath {
    /// The natural logarithm of positive Floats in Double, to a few ulps of the Double
    /// result: x = m · 2^e with m in [√½, √2), s = (m − 1)/(m + 1), and log m = 2 atanh s =
    /// 2s Σ_k s^(2k)/(2k + 1), summed to k = 10 (|s| ≤ 0.1716, so the first term left out
    /// is below 1e-19). m and e are taken from the Float's bits in Float lanes (a subnormal is
    /// first scaled by 2^64, exactly), then widened exactly: the Double lanes see only
    /// arithmetic, no masks, which the compiler otherwise splits into scalar code. No
    /// per-lane libm call.
    @inline(__always)
    static func log(normalizing x: SIMD8<Float>) -> DoubleVector {
        typealias V = SIMD8<Float>
        let subnormal = x .< V(repeating: Float.leastNormalMagnitude)
        let scaled = x.with(x * V(repeating: 18_446_744_073_709_551_616), where: subnormal)
        let bits = scaled.bits
        let mantissa = bits & V.Bits(repeating: 0x007F_FFFF)
        // m > √2 exactly when the mantissa's bits exceed those of Float(√2) (which is below √2).
        let large = mantissa .> V.Bits(repeating: 0x0035_04F3)
        let exponent = (bits &>> V.Bits(repeating: 23)) &- V.Bits(repeating: 127)
            &+ V.Bits(repeating: 0).replacing(with: 1, where: large)
            &- V.Bits(repeating: 0).replacing(with: 64, where: subnormal)
        let mBits = mantissa | V.Bits(repeating: 0x3F80_0000).replacing(with: 0x3F00_0000, where: large)
        let m = DoubleVector(widening: V(bits: mBits))
        let e = DoubleVector(widening: V(converting: exponent))
        let s = (m - 1) / (m + 1)
        let z = s * s
        // Σ_k z^k/(2k + 1) for k = 0…10 by Estrin's scheme (pairs, then z², z⁴, z⁸): a chain
        // of five multiplies where Horner's is twenty operations long. Every term is positive,
        // so the error stays at a few ulps of the sum either way.
        let z2 = z * z, z4 = z2 * z2, z8 = z4 * z4
        let a0 = 1 + z * (1.0 / 3), a1 = 1.0 / 5 + z * (1.0 / 7), a2 = 1.0 / 9 + z * (1.0 / 11)
        let a3 = 1.0 / 13 + z * (1.0 / 15), a4 = 1.0 / 17 + z * (1.0 / 19)
        let b0 = a0 + z2 * a1, b1 = a2 + z2 * a3, b2 = a4 + z2 * (1.0 / 21)
        let series = (b0 + z4 * b1) + z8 * b2
        return 2 * s * series + e * 0.693_147_180_559_945_309_4
    }
}
