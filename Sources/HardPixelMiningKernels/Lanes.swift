import CHardPixelMiningSupport

// The vectors the kernels compute with. Every kernel is generic over `FloatLanes` and is
// specialised once, at the dispatch on `HPM_VECTOR_LANES`: 16 floats on x86-64 (one AVX-512
// register with `-Xswiftc -target-cpu -Xswiftc native` on this machine, four SSE registers in
// a baseline build — measured faster than 8 in both, Docs/Performance.md), 8 elsewhere.
// Only the protocol's operations are used, so that the specialised code is the concrete SIMD
// type's own vector instructions.

extension Kernels {
    /// The build's lane count (`HPM_VECTOR_LANES`), which every kernel's dispatch switches on.
    /// A stored constant rather than the C macro itself, so that a debug build does not
    /// report the other cases as never executed (an optimised build folds it all the same).
    static let vectorLanes = Int(HPM_VECTOR_LANES)
    /// Whether the build fuses multiply-adds (`HPM_FUSED_MULTIPLY_ADD`), stored for the same reason.
    static let fusedMultiplyAdd = HPM_FUSED_MULTIPLY_ADD != 0
}

/// A vector of Float lanes with the operations the kernels need.
protocol FloatLanes {
    /// The same-sized vector of Int32 lanes, for bit manipulation in exp and log.
    associatedtype Bits: SIMD where Bits.Scalar == Int32
    associatedtype Mask
    static var laneCount: Int { get }
    init(repeating: Float)
    subscript(index: Int) -> Float { get set }
    static func + (a: Self, b: Self) -> Self
    static func - (a: Self, b: Self) -> Self
    static func * (a: Self, b: Self) -> Self
    static func / (a: Self, b: Self) -> Self
    static func .< (a: Self, b: Self) -> Mask
    static func .> (a: Self, b: Self) -> Mask
    static func .== (a: Self, b: Self) -> Mask
    static func .!= (a: Self, b: Self) -> Mask
    func replacing(with other: Self, where mask: Mask) -> Self
    func addingProduct(_ a: Self, _ b: Self) -> Self
    /// The alignment in bytes that ``streamNonTemporal(to:)`` needs.
    static var streamAlignment: Int { get }
    /// Stores all lanes with non-temporal stores (the line is not read first) at an address
    /// aligned to ``streamAlignment``; the caller orders them with `hpm_stream_fence` before
    /// returning.
    func streamNonTemporal(to p: UnsafeMutablePointer<Float>)
    /// Loads all lanes from an address of any alignment (one vector move).
    static func loadUnaligned(_ p: UnsafePointer<Float>) -> Self
    /// Stores all lanes to an address of any alignment (one vector move).
    func storeUnaligned(to p: UnsafeMutablePointer<Float>)
}

extension SIMD4: FloatLanes where Scalar == Float {
    typealias Bits = SIMD4<Int32>
    static var laneCount: Int { 4 }
    static var streamAlignment: Int { 16 }
    @inline(__always)
    func streamNonTemporal(to p: UnsafeMutablePointer<Float>) { hpm_stream4(p, self) }
    @inline(__always)
    static func loadUnaligned(_ p: UnsafePointer<Float>) -> Self { hpm_load4(p) }
    @inline(__always)
    func storeUnaligned(to p: UnsafeMutablePointer<Float>) { hpm_store4(p, self) }
}

extension SIMD8: FloatLanes where Scalar == Float {
    typealias Bits = SIMD8<Int32>
    static var laneCount: Int { 8 }
    static var streamAlignment: Int { 16 }
    @inline(__always)
    func streamNonTemporal(to p: UnsafeMutablePointer<Float>) { hpm_stream8(p, self) }
    @inline(__always)
    static func loadUnaligned(_ p: UnsafePointer<Float>) -> Self { hpm_load8(p) }
    @inline(__always)
    func storeUnaligned(to p: UnsafeMutablePointer<Float>) { hpm_store8(p, self) }
}

extension SIMD16: FloatLanes where Scalar == Float {
    typealias Bits = SIMD16<Int32>
    static var laneCount: Int { 16 }
    static var streamAlignment: Int { 64 }
    @inline(__always)
    func streamNonTemporal(to p: UnsafeMutablePointer<Float>) { hpm_stream16(p, self) }
    @inline(__always)
    static func loadUnaligned(_ p: UnsafePointer<Float>) -> Self { hpm_load16(p) }
    @inline(__always)
    func storeUnaligned(to p: UnsafeMutablePointer<Float>) { hpm_store16(p, self) }
}

extension FloatLanes {
    /// Loads `laneCount` floats from an address of any alignment.
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> Self {
        loadUnaligned(p)
    }

    /// Stores all lanes to an address of any alignment.
    @inline(__always)
    func store(to p: UnsafeMutablePointer<Float>) {
        storeUnaligned(to: p)
    }

    /// Loads `count` (< laneCount) floats, the other lanes `padding`.
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>, count: Int, padding: Float) -> Self {
        if count == laneCount { return load(p) }
        var v = Self(repeating: padding)
        for i in 0..<count { v[i] = p[i] }
        return v
    }

    /// Stores the first `count` lanes.
    @inline(__always)
    func store(to p: UnsafeMutablePointer<Float>, count: Int) {
        if count == Self.laneCount { return store(to: p) }
        for i in 0..<count { p[i] = self[i] }
    }

    /// `a · b + self`, fused where the target has FMA (a per-lane `fmaf` call otherwise).
    @inline(__always)
    func plusProduct(_ a: Self, _ b: Self) -> Self {
        Kernels.fusedMultiplyAdd ? addingProduct(a, b) : self + a * b
    }

    /// `mask ? a : self` per lane: a compare and blend (`pointwiseMin`/`Max` stay
    /// out-of-line calls per vector).
    @inline(__always)
    func with(_ a: Self, where mask: Mask) -> Self { replacing(with: a, where: mask) }

    @inline(__always)
    var bits: Bits { unsafeBitCast(self, to: Bits.self) }

    @inline(__always)
    init(bits: Bits) { self = unsafeBitCast(bits, to: Self.self) }
}

// Conversions between eight lanes, one vector conversion each (``hpm_widen8`` and its
// siblings in the C support header).
extension SIMD8 where Scalar == Double {
    /// Eight Floats as Doubles (exactly).
    @inline(__always)
    init(widening v: SIMD8<Float>) { self = hpm_widen8(v) }

    /// The lanes added pairwise, `((v0 + v1) + (v2 + v3)) + ((v4 + v5) + (v6 + v7))`: a fixed
    /// order (`SIMD.sum()` leaves it to the implementation), the same for any build.
    @inline(__always)
    var total: Double { ((self[0] + self[1]) + (self[2] + self[3])) + ((self[4] + self[5]) + (self[6] + self[7])) }
}

extension SIMD8 where Scalar == Float {
    /// Eight Doubles rounded to Floats (to nearest).
    @inline(__always)
    init(narrowing v: SIMD8<Double>) { self = hpm_narrow8(v) }

    /// Eight Int32s as Floats (exactly below 2^24).
    @inline(__always)
    init(converting v: SIMD8<Int32>) { self = hpm_int32_to_float8(v) }
}

extension SIMD8 where Scalar == Int32 {
    /// Eight flag bytes, each 0 or 1 (as the workspace's `hasDepth`), as Int32 lanes: lane by
    /// lane, which the compiler turns into one zero-extension.
    @inline(__always)
    init(flags v: SIMD8<UInt8>) {
        self.init(Int32(v[0]), Int32(v[1]), Int32(v[2]), Int32(v[3]), Int32(v[4]), Int32(v[5]), Int32(v[6]), Int32(v[7]))
    }

    /// A mask as lanes of all ones (−1) or zeros, to combine and apply with bitwise operations
    /// (SIMDMask's `.&` and `replacing(with:where:)` go through per-lane code).
    @inline(__always)
    init(allOnesWhere mask: SIMDMask<Self>) { self = unsafeBitCast(mask, to: Self.self) }

    /// The lanes' sum, in Int.
    @inline(__always)
    var total: Int { (0..<8).reduce(0) { $0 + Int(self[$1]) } }
}
