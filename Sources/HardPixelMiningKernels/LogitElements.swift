import CHardPixelMiningSupport

// The logits' element type is a parameter of two functions only: `Kernels.loadTile`
// widens a tile of logits into the Float tile, and `Kernels.streamTile` rounds the tile's
// gradient out. Both switch once per tile to a loop specialised for one `LogitCodec`; every
// other sweep works on Float tiles and knows nothing of the element type.

/// The element type of logits and of their gradient, as the kernels see it (the API's
/// `LogitPrecision` maps onto it one to one).
package enum ElementFormat: Sendable {
    case float32, float16, bfloat16

    /// Bytes per element.
    var byteCount: Int { self == .float32 ? 4 : 2 }
}

/// A read-only view of logits of any ``ElementFormat``.
package struct LogitBuffer {
    package let base: UnsafeRawPointer
    package let precision: ElementFormat

    package init(_ base: UnsafeRawPointer, _ precision: ElementFormat) {
        self.base = base
        self.precision = precision
    }

    package init(_ floats: UnsafePointer<Float>) { self.init(UnsafeRawPointer(floats), .float32) }

    /// The view `elements` elements further on.
    package static func + (buffer: LogitBuffer, elements: Int) -> LogitBuffer {
        LogitBuffer(buffer.base + elements * buffer.precision.byteCount, buffer.precision)
    }

    /// Element `i`, widened to Float (exactly).
    package func float(at i: Int) -> Float {
        switch precision {
        case .float32: Float32Codec.scalar(base + 4 * i)
        case .float16: Float16Codec.scalar(base + 2 * i)
        case .bfloat16: BFloat16Codec.scalar(base + 2 * i)
        }
    }
}

/// A writable view of a logit gradient of any ``ElementFormat``.
package struct MutableLogitBuffer {
    package let base: UnsafeMutableRawPointer
    package let precision: ElementFormat

    package init(_ base: UnsafeMutableRawPointer, _ precision: ElementFormat) {
        self.base = base
        self.precision = precision
    }

    package init(_ floats: UnsafeMutablePointer<Float>) { self.init(UnsafeMutableRawPointer(floats), .float32) }

    package static func + (buffer: MutableLogitBuffer, elements: Int) -> MutableLogitBuffer {
        MutableLogitBuffer(buffer.base + elements * buffer.precision.byteCount, buffer.precision)
    }

    /// Sets `count` elements to +0 (all bits zero in every precision).
    package func zero(count: Int) {
        base.initializeMemory(as: UInt8.self, repeating: 0, count: count * precision.byteCount)
    }
}

/// How one element type is read into Float lanes and written from them.
protocol LogitCodec {
    static var byteCount: Int { get }
    /// `V.laneCount` elements from `p`, widened exactly.
    static func load<V: FloatLanes>(_: V.Type, _ p: UnsafeRawPointer) -> V
    /// `V.laneCount` elements to `p`, rounded to nearest even and saturated at the format's
    /// largest finite value.
    static func store<V: FloatLanes>(_ v: V, _ p: UnsafeMutableRawPointer)
}

extension LogitCodec {
    /// One element, widened.
    @inline(__always)
    static func scalar(_ p: UnsafeRawPointer) -> Float {
        if byteCount == 4 { return p.loadUnaligned(as: Float.self) }
        var lanes = SIMD4<UInt16>(repeating: 0)
        lanes[0] = p.loadUnaligned(as: UInt16.self)
        return withUnsafeBytes(of: lanes) { load(SIMD4<Float>.self, $0.baseAddress!)[0] }
    }

    /// One element, rounded and saturated.
    @inline(__always)
    static func storeScalar(_ x: Float, _ p: UnsafeMutableRawPointer) {
        if byteCount == 4 { return p.storeBytes(of: x, as: Float.self) }
        var lanes = SIMD4<UInt16>(repeating: 0)
        withUnsafeMutableBytes(of: &lanes) { store(SIMD4<Float>(repeating: x), $0.baseAddress!) }
        p.storeBytes(of: lanes[0], as: UInt16.self)
    }

    /// `count` (≤ laneCount) elements, the other lanes 0.
    @inline(__always)
    static func load<V: FloatLanes>(_: V.Type, _ p: UnsafeRawPointer, count: Int) -> V {
        if count == V.laneCount { return load(V.self, p) }
        var v = V(repeating: 0)
        for i in 0..<count { v[i] = scalar(p + i * byteCount) }
        return v
    }

    /// The first `count` (≤ laneCount) lanes.
    @inline(__always)
    static func store<V: FloatLanes>(_ v: V, _ p: UnsafeMutableRawPointer, count: Int) {
        if count == V.laneCount { return store(v, p) }
        for i in 0..<count { storeScalar(v[i], p + i * byteCount) }
    }
}

enum Float32Codec: LogitCodec {
    static var byteCount: Int { 4 }
    @inline(__always)
    static func load<V: FloatLanes>(_: V.Type, _ p: UnsafeRawPointer) -> V { p.loadUnaligned(as: V.self) }
    @inline(__always)
    static func store<V: FloatLanes>(_ v: V, _ p: UnsafeMutableRawPointer) { p.storeBytes(of: v, as: V.self) }
}

enum Float16Codec: LogitCodec {
    static var byteCount: Int { 2 }
    @inline(__always)
    static func load<V: FloatLanes>(_: V.Type, _ p: UnsafeRawPointer) -> V { V(float16Bits: V.loadHalves(p)) }
    @inline(__always)
    static func store<V: FloatLanes>(_ v: V, _ p: UnsafeMutableRawPointer) { V.storeHalves(v.float16BitsSaturating, p) }
}

enum BFloat16Codec: LogitCodec {
    static var byteCount: Int { 2 }
    @inline(__always)
    static func load<V: FloatLanes>(_: V.Type, _ p: UnsafeRawPointer) -> V { V(bits: V.loadHalves(p) &<< 16) }
    @inline(__always)
    static func store<V: FloatLanes>(_ v: V, _ p: UnsafeMutableRawPointer) { V.storeHalves(v.bfloat16BitsSaturating, p) }
}

// The conversions are written so that they compile to vector instructions in every build:
// 16-bit elements move in and out of Int32 lanes by element-wise loads and stores (which
// LLVM turns into a vector load and zero-extension, or a truncation and a vector store —
// SIMD's `init(truncatingIfNeeded:)` stays an out-of-line call), and every select is a
// Float compare and blend (a select on Int32 lanes is done lane by lane through memory).
extension FloatLanes {
    /// `laneCount` UInt16 values from `p`, zero-extended into Int32 lanes.
    @inline(__always)
    static func loadHalves(_ p: UnsafeRawPointer) -> Bits {
        var bits = Bits(repeating: 0)
        for i in 0..<laneCount { bits[i] = Int32(p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        return bits
    }

    /// The low 16 bits of each Int32 lane to `p`.
    @inline(__always)
    static func storeHalves(_ bits: Bits, _ p: UnsafeMutableRawPointer) {
        for i in 0..<laneCount { p.storeBytes(of: UInt16(truncatingIfNeeded: bits[i]), toByteOffset: 2 * i, as: UInt16.self) }
    }

    /// IEEE binary16 bit patterns (in the low 16 bits of each lane) widened to Float,
    /// exactly: subnormals, infinities and NaN included. The 15 magnitude bits, moved to a
    /// Float's fraction and exponent fields, are the value times 2⁻¹¹² (a subnormal Float for
    /// a subnormal half), so one multiply by 2¹¹² rebiases both; infinities and NaN (above
    /// 65504 after the multiply) get the all-ones exponent.
    @inline(__always)
    init(float16Bits h: Bits) {
        let shifted = (h & Bits(repeating: 0x7fff)) &<< 13
        let value = Self(bits: shifted) * Self(repeating: 0x1p112)
        let special = Self(bits: shifted | Bits(repeating: 0x7f80_0000))
        let magnitude = value.with(special, where: value .> Self(repeating: 65504))
        self.init(bits: magnitude.bits | ((h & Bits(repeating: 0x8000)) &<< 16))
    }

    /// The lanes rounded to binary16 (in the low 16 bits of each lane), to nearest even,
    /// magnitudes above 65504 saturated to 65504 (the lanes must not be NaN). Below 2⁻¹⁴
    /// (half subnormals) adding 0.5 lets the FPU round to the 2⁻²⁴ grid; above, the
    /// exponent is rebiased and the 13 dropped bits rounded in integer arithmetic.
    @inline(__always)
    var float16BitsSaturating: Bits {
        let bits = self.bits
        let sign = bits & Bits(repeating: Int32(bitPattern: 0x8000_0000))
        let limit = Self(repeating: 65504)
        var magnitude = Self(bits: bits & Bits(repeating: 0x7fff_ffff))
        magnitude = magnitude.with(limit, where: magnitude .> limit)
        let m = magnitude.bits
        let subnormal = Self(bits: (magnitude + Self(repeating: 0.5)).bits &- Bits(repeating: 0x3f00_0000))
        let odd = (m &>> 13) & Bits(repeating: 1)
        let normal = Self(bits: (m &+ Bits(repeating: (15 - 127) << 23 + 0xfff) &+ odd) &>> 13)
        let rounded = normal.with(subnormal, where: magnitude .< Self(repeating: 0x1p-14))
        return rounded.bits | (sign &>> 16)
    }

    /// The lanes rounded to bfloat16 (in the low 16 bits of each lane), to nearest even,
    /// magnitudes above the largest finite bfloat16 (0x7F7F, about 3.39e38) saturated to it
    /// (the lanes must not be NaN).
    @inline(__always)
    var bfloat16BitsSaturating: Bits {
        let limit = Self(repeating: Float(bitPattern: 0x7f7f_0000))
        let negativeLimit = Self(repeating: 0) - limit
        var x = self.with(limit, where: self .> limit)
        x = x.with(negativeLimit, where: x .< negativeLimit)
        let bits = x.bits
        return (bits &+ Bits(repeating: 0x7fff) &+ ((bits &>> 16) & Bits(repeating: 1))) &>> 16
    }
}

extension Kernels {
    /// Widens `count` elements into Floats.
    package static func widen(_ source: LogitBuffer, count: Int, into destination: UnsafeMutablePointer<Float>) {
        switch Kernels.vectorLanes {
        case 16: widen(SIMD16<Float>.self, source, count, destination)
        case 4: widen(SIMD4<Float>.self, source, count, destination)
        default: widen(SIMD8<Float>.self, source, count, destination)
        }
    }

    private static func widen<V: FloatLanes>(_: V.Type, _ source: LogitBuffer, _ count: Int, _ destination: UnsafeMutablePointer<Float>) {
        switch source.precision {
        case .float32: _ = widen(V.self, Float32Codec.self, source.base, count: count, into: destination)
        case .float16: _ = widen(V.self, Float16Codec.self, source.base, count: count, into: destination)
        case .bfloat16: _ = widen(V.self, BFloat16Codec.self, source.base, count: count, into: destination)
        }
    }

    /// Rounds `count` finite Floats into the destination's element type (saturating).
    package static func round(_ source: UnsafePointer<Float>, count: Int, into destination: MutableLogitBuffer) {
        switch Kernels.vectorLanes {
        case 16: round(SIMD16<Float>.self, source, count, destination)
        case 4: round(SIMD4<Float>.self, source, count, destination)
        default: round(SIMD8<Float>.self, source, count, destination)
        }
    }

    private static func round<V: FloatLanes>(_: V.Type, _ source: UnsafePointer<Float>, _ count: Int, _ destination: MutableLogitBuffer) {
        switch destination.precision {
        case .float32: round(V.self, Float32Codec.self, source, count, destination.base)
        case .float16: round(V.self, Float16Codec.self, source, count, destination.base)
        case .bfloat16: round(V.self, BFloat16Codec.self, source, count, destination.base)
        }
    }

    /// `count` Floats rounded into elements at `destination`, vector by vector (in place when
    /// `destination` is `source`: element i is written after float i was read, below it).
    @inline(__always)
    static func round<V: FloatLanes, E: LogitCodec>(
        _: V.Type, _: E.Type, _ source: UnsafePointer<Float>, _ count: Int, _ destination: UnsafeMutableRawPointer
    ) {
        let lanes = V.laneCount
        var i = 0
        while i + lanes <= count {
            E.store(V.load(source + i), destination + i * E.byteCount)
            i += lanes
        }
        if i < count {
            E.store(V.load(source + i, count: count - i, padding: 0), destination + i * E.byteCount, count: count - i)
        }
    }
}
