import Foundation
import HPMRandom
import HardPixelMining

/// SPEC §4 tolerances.
public enum Tolerance {
    /// Losses: relative 1e-5 (absolute 1e-9 near zero).
    public static func lossMatches(_ actual: Double, _ expected: Double) -> Bool {
        abs(actual - expected) <= 1e-5 * abs(expected) + 1e-9
    }

    /// Gradients: each element within 1e-6 absolute or 1e-5 relative.
    public static func gradientMatches(_ actual: Double, _ expected: Double) -> Bool {
        let error = abs(actual - expected)
        return error <= 1e-6 || error <= 1e-5 * abs(expected)
    }

    /// The first index whose gradient element is out of tolerance, or nil.
    public static func firstGradientMismatch<A: BinaryFloatingPoint, E: BinaryFloatingPoint>(
        _ actual: [A], _ expected: [E]
    ) -> (index: Int, actual: Double, expected: Double)? {
        precondition(actual.count == expected.count, "\(actual.count) vs \(expected.count)")
        for i in actual.indices where !gradientMatches(Double(actual[i]), Double(expected[i])) {
            return (i, Double(actual[i]), Double(expected[i]))
        }
        return nil
    }
}

extension Tolerance {
    /// The unit roundoff of a logit precision: 2⁻²⁴, 2⁻¹¹ (Float16), 2⁻⁸ (bfloat16).
    public static func unitRoundoff(_ precision: LogitPrecision) -> Double {
        switch precision {
        case .float32: 0x1p-24
        case .float16: 0x1p-11
        case .bfloat16: 0x1p-8
        }
    }

    /// A half-precision gradient element (LogitPrecision's contract): within `u · |g| + 1e-6`
    /// of the float64 gradient of the same (half-precision) inputs.
    public static func halfPrecisionGradientMatches(_ actual: Double, _ expected: Double, _ precision: LogitPrecision) -> Bool {
        abs(actual - expected) <= unitRoundoff(precision) * abs(expected) + 1e-6
    }

    /// The first index out of ``halfPrecisionGradientMatches(_:_:_:)``, or nil.
    public static func firstHalfPrecisionGradientMismatch(
        _ actual: [Float], _ expected: [Double], _ precision: LogitPrecision
    ) -> (index: Int, actual: Double, expected: Double)? {
        precondition(actual.count == expected.count, "\(actual.count) vs \(expected.count)")
        for i in actual.indices where !halfPrecisionGradientMatches(Double(actual[i]), expected[i], precision) {
            return (i, Double(actual[i]), expected[i])
        }
        return nil
    }
}

/// Central finite differences in Float64.
public enum FiniteDifference {
    /// `(f(x + h e_i) − f(x − h e_i)) / 2h` for each index in `indices`.
    public static func gradient(
        of f: ([Double]) -> Double, at x: [Double], indices: [Int], step h: Double = 1e-5
    ) -> [Double] {
        indices.map { i in
            var plus = x, minus = x
            plus[i] += h
            minus[i] -= h
            return (f(plus) - f(minus)) / (2 * h)
        }
    }
}

/// A small deterministic generator of test inputs, on the package's SplitMix64.
public struct TestRandom {
    private var source: SplitMix
    public init(seed: UInt64) { source = SplitMix(seed: seed) }
    public mutating func next() -> UInt64 { source.next() }
    /// Uniform in [0, 1).
    public mutating func uniform() -> Double { source.unitInterval() }
    public mutating func uniform(_ range: ClosedRange<Double>) -> Double {
        range.lowerBound + (range.upperBound - range.lowerBound) * uniform()
    }
    public mutating func int(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    /// A random batch: logits ~ ±3, 10% ignored labels, depths in 1...256 with holes.
    public mutating func batch(_ shape: BatchShape) -> (logits: [Float], labels: [Int32], predicted: [Float], depth: [Float]) {
        let logits = (0..<shape.logitCount).map { _ in Float(uniform(-3...3)) }
        let labels = (0..<shape.pixelCount).map { _ in uniform() < 0.1 ? Int32(255) : Int32(int(shape.classes)) }
        let depth = (0..<shape.pixelCount).map { _ -> Float in
            let u = uniform()
            return u < 0.05 ? 0 : u < 0.08 ? Float.nan : Float(uniform(1...256))
        }
        let predicted = depth.map { d -> Float in
            let base = d.isFinite && d >= 1 ? Float(log(Double(d))) : 2
            return base + Float(uniform(-0.5...0.5))
        }
        return (logits, labels, predicted, depth)
    }
}
