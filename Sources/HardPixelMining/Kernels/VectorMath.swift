// Vector exp and log for the kernels. Scalar `exp`/`log` per lane would turn a
// vector loop scalar, so both are polynomials on whole SIMD8 vectors with
// bit-casts for the exponent (Cephes' expf/logf coefficients).
// Only plain `*` and `+` are used: `addingProduct` would call `fmaf` per lane in
// a baseline x86-64 build, which has no FMA instruction.

typealias FloatVector = SIMD8<Float>
typealias IntVector = SIMD8<Int32>
typealias DoubleVector = SIMD8<Double>
typealias Int64Vector = SIMD8<Int64>

/// `mask ? a : b` per lane. (A bitwise select on the mask's bit pattern measured 2.5×
/// slower: the bit-cast of `SIMDMask` goes through memory.)
@inline(__always)
func select(_ mask: SIMDMask<IntVector>, _ a: FloatVector, _ b: FloatVector) -> FloatVector {
    b.replacing(with: a, where: mask)
}

enum VectorMath {
    /// e^x for x <= 0 (softmax arguments); inputs below -87.33 are clamped to
    /// e^-87.33 ≈ 1.2e-38. Relative error below 2e-7 (Cephes expf).
    @inline(__always)
    static func exp(_ x: FloatVector) -> FloatVector {
        // A compare and select: `clamped` calls out-of-line pointwiseMin/Max.
        let low = FloatVector(repeating: -87.33)
        let x = select(x .< low, low, x)
        // n = round(x / ln 2) by the 1.5 · 2^23 trick: the sum's low mantissa bits hold n.
        let magic: Float = 12_582_912
        let t = x * 1.442_695_04 + magic
        let n = t - magic
        var r = x - n * 0.693_359_375
        r = r - n * -2.121_944_4e-4
        let r2 = r * r
        var p = r * 1.987_569_15e-4 + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_12e-1
        p = p * r2 + r + 1
        // 2^n: (n + 127) << 23, with n read from the bits of t.
        let nBits = unsafeBitCast(t, to: IntVector.self) &- 0x4B40_0000
        let scale = unsafeBitCast((nBits &+ 127) &<< 23, to: FloatVector.self)
        return p * scale
    }

    /// The natural logarithm of positive normal x. Relative error below 2e-7 (Cephes logf).
    @inline(__always)
    static func log(_ x: FloatVector) -> FloatVector {
        let bits = unsafeBitCast(x, to: IntVector.self)
        // x = m · 2^e with m in [0.5, 1).
        var e = FloatVector(((bits &>> 23) & 0xFF) &- 126)
        var m = unsafeBitCast((bits & 0x007F_FFFF) | 0x3F00_0000, to: FloatVector.self)
        let small = m .< 0.707_106_781
        // For m < sqrt(1/2) use 2m - 1 and e - 1; otherwise m - 1.
        e = select(small, e - 1, e)
        m = select(small, m + m, m) - 1
        let z = m * m
        var y = m * 7.037_683_629_2e-2 - 1.151_461_031_0e-1
        y = y * m + 1.167_699_874_0e-1
        y = y * m - 1.242_014_084_6e-1
        y = y * m + 1.424_932_278_7e-1
        y = y * m - 1.666_805_766_5e-1
        y = y * m + 2.000_071_476_5e-1
        y = y * m - 2.499_999_399_3e-1
        y = y * m + 3.333_333_117_4e-1
        y = y * m * z
        y = y + e * -2.121_944_4e-4
        y = y - z * 0.5
        return m + y + e * 0.693_359_375
    }
}

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

/// Loads and stores of up to 8 floats at an unaligned address. A partial block
/// (count < 8) fills the missing lanes with `padding` and stores only `count` lanes.
enum Lanes {
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>, count: Int, padding: Float) -> FloatVector {
        if count == FloatVector.scalarCount {
            return UnsafeRawPointer(p).loadUnaligned(as: FloatVector.self)
        }
        var v = FloatVector(repeating: padding)
        for i in 0..<count { v[i] = p[i] }
        return v
    }

    @inline(__always)
    static func store(_ v: FloatVector, _ p: UnsafeMutablePointer<Float>, count: Int) {
        if count == FloatVector.scalarCount {
            UnsafeMutableRawPointer(p).storeBytes(of: v, as: FloatVector.self)
            return
        }
        for i in 0..<count { p[i] = v[i] }
    }
}
