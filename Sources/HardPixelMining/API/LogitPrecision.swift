/// The element type of logits and of their gradient.
///
/// Every sum and every per-pixel statistic is computed in Float (sums in Double) whatever
/// the logits' type: half-precision logits are widened exactly as each tile is read, and the
/// gradient is rounded once, to nearest even, as it is written. Half precision moves half
/// the bytes, which is what a memory-bound loss costs.
///
/// Accuracy (checked against a float64 evaluation of the same half-precision inputs): the
/// loss values as for Float logits (relative 1e-5); each gradient element within
/// `u · |g| + 1e-6`, where u is the format's unit roundoff (2⁻¹¹ for Float16, 2⁻⁸ for
/// bfloat16). A gradient element beyond the format's largest finite value (65504 for
/// Float16) is written as that value with its sign — never as an infinity, unlike PyTorch,
/// whose `GradScaler` looks for infinities: choose a loss scale that keeps the gradient in
/// range.
public enum LogitPrecision: String, Sendable, Hashable, CaseIterable {
    /// IEEE binary32, Swift's `Float`.
    case float32
    /// IEEE binary16, Swift's `Float16` (PyTorch's `torch.half`).
    case float16
    /// bfloat16 (8 exponent bits, 7 fraction bits), as raw 16-bit storage: ``BFloat16``.
    case bfloat16

    /// Bytes per element.
    public var byteCount: Int { self == .float32 ? 4 : 2 }
}

/// A type whose arrays and buffers the loss entry points take as logits and write as the
/// logits' gradient: `Float`, `Float16` (where Swift provides it: not on macOS x86_64) and
/// ``BFloat16``. Other conformances are refused at run time (the memory layout must be the
/// precision's).
public protocol LogitScalar: Sendable {
    /// How the kernels read and write this type.
    static var logitPrecision: LogitPrecision { get }
}

extension Float: LogitScalar {
    public static var logitPrecision: LogitPrecision { .float32 }
}

#if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
extension Float16: LogitScalar {
    public static var logitPrecision: LogitPrecision { .float16 }
}
#endif

/// A bfloat16 value as raw 16-bit storage (the upper half of a Float's bits): the type of
/// MLX's and PyTorch's `bfloat16` tensors, laid out as they are (2 bytes, little-endian on
/// every supported platform).
///
///     let b = BFloat16(1.0 / 3.0)      // rounded to nearest even: 0x3EAB
///     Float(b)                         // 0.333984375
public struct BFloat16: LogitScalar, Hashable, CustomStringConvertible {
    public static var logitPrecision: LogitPrecision { .bfloat16 }

    /// The 16 bits: sign, 8 exponent bits, 7 fraction bits.
    public var bitPattern: UInt16

    public init(bitPattern: UInt16) { self.bitPattern = bitPattern }

    /// `value` rounded to the nearest bfloat16, ties to even, as ``Swift/Array/init(rounding:)``
    /// and the kernels round: a finite value beyond the largest finite bfloat16 (about 3.39e38)
    /// becomes that value with its sign, never infinity (PyTorch's `.to(torch.bfloat16)` gives
    /// infinity there). Infinities stay infinite; NaN stays NaN.
    public init(_ value: Float) {
        let bits = value.bitPattern
        if value.isNaN {
            bitPattern = UInt16(truncatingIfNeeded: bits >> 16) | 0x0040  // quiet, sign kept
        } else {
            let rounded = UInt16(truncatingIfNeeded: (bits &+ 0x7fff &+ ((bits >> 16) & 1)) >> 16)
            // A finite value that rounded up to infinity saturates at the largest finite value.
            bitPattern = value.isFinite && rounded & 0x7fff == 0x7f80 ? rounded &- 1 : rounded
        }
    }

    /// The value as a Float (exact).
    public var floatValue: Float { Float(bitPattern: UInt32(bitPattern) << 16) }

    public var description: String { floatValue.description }
}

extension Float {
    /// The bfloat16 `value`, exactly.
    public init(_ value: BFloat16) { self = value.floatValue }
}

extension LogitScalar {
    /// Throws if a conformance's memory layout is not its precision's.
    static func validateLayout(_ argument: String) throws {
        if MemoryLayout<Self>.size != logitPrecision.byteCount || MemoryLayout<Self>.stride != logitPrecision.byteCount {
            throw HardPixelMiningError.invalidParameter(
                argument: argument, value: Double(MemoryLayout<Self>.stride),
                requirement: "an element of \(logitPrecision.byteCount) bytes (\(logitPrecision.rawValue))")
        }
    }
}

extension Array where Element == Float {
    /// `values` widened to Float, exactly (by the kernels' vector code).
    ///
    ///     let halves: [Float16] = …            // a mixed-precision model's logits
    ///     let floats = [Float](widening: halves)
    public init<Scalar: LogitScalar>(widening values: [Scalar]) {
        self.init(unsafeUninitializedCapacity: values.count) { out, initialized in
            values.withUnsafeBufferPointer { v in
                if let base = v.baseAddress, let o = out.baseAddress {
                    ElementConversion.widen(base, count: v.count, into: o)
                }
            }
            initialized = values.count
        }
    }
}

extension Array where Element: LogitScalar {
    /// `values` rounded to the element type, to nearest even, as the kernels round a
    /// gradient: magnitudes beyond the type's largest finite value become that value (65504
    /// for Float16), never infinity.
    /// - Throws: ``HardPixelMiningError/nonFiniteValue(argument:index:value:)`` (argument
    ///   "values") for a NaN or infinite value.
    public init(rounding values: [Float]) throws {
        try Element.validateLayout("Element")
        try values.withUnsafeBufferPointer { try Check.allFinite($0, "values") }
        self = Array(unsafeUninitializedCapacity: values.count) { out, initialized in
            values.withUnsafeBufferPointer { v in
                if let base = v.baseAddress, let o = out.baseAddress {
                    ElementConversion.round(base, count: v.count, into: o)
                }
            }
            initialized = values.count
        }
    }
}
