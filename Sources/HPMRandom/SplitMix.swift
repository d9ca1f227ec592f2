#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// The package's one random generator, in a module of its own, so that the tests, the demo
// and the reference network share it without depending on each other. Deterministic for a
// seed on every platform.

/// SplitMix64, with uniform and normal draws.
public struct SplitMix: Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    public mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 24) }
    /// Uniform in [0, 1) with 53 random bits.
    public mutating func unitInterval() -> Double { Double(next() >> 11) / Double(1 << 53) }
    public mutating func uniform(_ a: Float, _ b: Float) -> Float { a + (b - a) * uniform() }
    public mutating func int(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    /// A standard normal draw (Box–Muller).
    public mutating func normal() -> Float {
        let u = Swift.max(uniform(), 1e-7), v = uniform()
        return (-2 * logf(u)).squareRoot() * cosf(2 * .pi * v)
    }
}
