/// The error every public entry point throws for bad input.
///
/// Each case names the offending argument (as spelled at the call site) and
/// carries the offending value or the first offending index, so that a trainer
/// can report exactly what it passed wrong. Validation happens before any output
/// buffer is written: when an error is thrown, gradients and maps are untouched.
public enum HardPixelMiningError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A buffer's element count does not match the shape.
    case wrongCount(argument: String, expected: Int, actual: Int)
    /// A shape dimension or a count is out of its legal range.
    case invalidDimension(argument: String, value: Int, requirement: String)
    /// A label is neither in `0..<classCount` nor the ignore label.
    case labelOutOfRange(argument: String, index: Int, value: Int32, classCount: Int, ignoreLabel: Int32)
    /// A value that must be finite is NaN or infinite; `index` is the first such element.
    case nonFiniteValue(argument: String, index: Int, value: Float)
    /// A hyper-parameter is non-finite or outside its legal range.
    case invalidParameter(argument: String, value: Double, requirement: String)
    /// An option, a flag or a combination of them that the call cannot use; `value` spells the
    /// setting as Swift does (`.mean`, `true`, `FocalModulation(focusing: 2.0, …)`).
    case invalidSetting(argument: String, value: String, requirement: String)
    /// A size built from several dimensions (a product that would overflow `Int`, a table
    /// larger than the image, an allocation that cannot succeed); `dimensions` are the
    /// factors as given, never a wrapped product.
    case tooLarge(argument: String, dimensions: [Int], requirement: String)
    /// A ``BatchCollective`` operation threw (`operation` is `allGather` or `allReduceSum`,
    /// `message` the description of what it threw); the argument is `dataParallel`.
    case collectiveFailed(operation: String, message: String)

    /// The name of the argument that was rejected.
    public var argument: String {
        switch self {
        case .wrongCount(let argument, _, _), .invalidDimension(let argument, _, _),
            .labelOutOfRange(let argument, _, _, _, _), .nonFiniteValue(let argument, _, _),
            .invalidParameter(let argument, _, _), .invalidSetting(let argument, _, _), .tooLarge(let argument, _, _):
            return argument
        case .collectiveFailed:
            return "dataParallel"
        }
    }

    public var description: String {
        switch self {
        case .wrongCount(let argument, let expected, let actual):
            return "`\(argument)` has \(actual) elements; the shape requires \(expected)"
        case .invalidDimension(let argument, let value, let requirement):
            return "`\(argument)` is \(value); it must be \(requirement)"
        case .labelOutOfRange(let argument, let index, let value, let classCount, let ignoreLabel):
            return "`\(argument)`[\(index)] is \(value); labels must be in 0..<\(classCount) or the ignore label \(ignoreLabel)"
        case .nonFiniteValue(let argument, let index, let value):
            return "`\(argument)`[\(index)] is \(value); it must be finite"
        case .invalidParameter(let argument, let value, let requirement):
            return "`\(argument)` is \(value); it must be \(requirement)"
        case .invalidSetting(let argument, let value, let requirement):
            return "`\(argument)` is \(value); it must be \(requirement)"
        case .tooLarge(let argument, let dimensions, let requirement):
            let product = dimensions.map(String.init).joined(separator: " × ")
            return "`\(argument)` is \(product); it must be \(requirement)"
        case .collectiveFailed(let operation, let message):
            return "`dataParallel.collective.\(operation)` threw: \(message)"
        }
    }
}

/// Validation helpers shared by every entry point. Each throws the typed error
/// naming `argument`; none touches an output buffer.
enum Check {
    static func count(_ actual: Int, _ expected: Int, _ argument: @autoclosure () -> String) throws {
        if actual != expected {
            throw HardPixelMiningError.wrongCount(argument: argument(), expected: expected, actual: actual)
        }
    }

    static func finite(_ value: Double, _ argument: @autoclosure () -> String) throws {
        if !value.isFinite {
            throw HardPixelMiningError.invalidParameter(argument: argument(), value: value, requirement: "finite")
        }
    }

    static func finite(_ value: Float, _ argument: @autoclosure () -> String) throws {
        try finite(Double(value), argument())
    }

    /// The product of the factors, or a `tooLarge` error naming them when it overflows `Int`
    /// or exceeds `limit`. Two to four factors, held inline: an array literal passed here would
    /// escape into the error and be allocated on the heap on every call, even when nothing throws.
    static func product(
        _ a: Int, _ b: Int, limit: Int = maximumElementCount, _ argument: @autoclosure () -> String,
        _ requirement: @autoclosure () -> String = "a size whose element count is at most 2^40"
    ) throws -> Int {
        try product(Factors(a, b, count: 2), limit: limit, argument(), requirement())
    }

    static func product(
        _ a: Int, _ b: Int, _ c: Int, limit: Int = maximumElementCount, _ argument: @autoclosure () -> String,
        _ requirement: @autoclosure () -> String = "a size whose element count is at most 2^40"
    ) throws -> Int {
        try product(Factors(a, b, c, count: 3), limit: limit, argument(), requirement())
    }

    static func product(
        _ a: Int, _ b: Int, _ c: Int, _ d: Int, limit: Int = maximumElementCount, _ argument: @autoclosure () -> String,
        _ requirement: @autoclosure () -> String = "a size whose element count is at most 2^40"
    ) throws -> Int {
        try product(Factors(a, b, c, d, count: 4), limit: limit, argument(), requirement())
    }

    /// Up to four factors without an array.
    private struct Factors {
        let values: (Int, Int, Int, Int)
        let count: Int
        init(_ a: Int, _ b: Int, _ c: Int = 1, _ d: Int = 1, count: Int) {
            values = (a, b, c, d)
            self.count = count
        }
        subscript(i: Int) -> Int { i == 0 ? values.0 : i == 1 ? values.1 : i == 2 ? values.2 : values.3 }
        var array: [Int] { (0..<count).map { self[$0] } }
    }

    private static func product(
        _ factors: Factors, limit: Int, _ argument: @autoclosure () -> String, _ requirement: @autoclosure () -> String
    ) throws -> Int {
        var total = 1
        for i in 0..<factors.count {
            let (p, overflow) = total.multipliedReportingOverflow(by: Swift.max(factors[i], 0))
            if overflow || p > limit {
                throw HardPixelMiningError.tooLarge(argument: argument(), dimensions: factors.array, requirement: requirement())
            }
            total = p
        }
        return total
    }

    /// The largest element count of any buffer the package accepts or allocates: 2^40
    /// (4 TiB of Float), so that every further product with a small factor fits in `Int`.
    static let maximumElementCount = 1 << 40

    /// A finite, non-negative weight no larger than ``maximumWeight``.
    static func weight(_ value: Double, _ argument: @autoclosure () -> String) throws {
        try parameter(value, argument(), "finite, >= 0 and <= 1e6", { $0 >= 0 && $0 <= maximumWeight })
    }

    /// The largest weight or hyper-parameter accepted on a term (α, β, γ, λ, pixel and class
    /// weights): with logits, log-depths and losses bounded by Float's range, every sum the
    /// package forms in Double then stays below 1e6 · (3.4e38)^2 · 2^40, far from Double's range.
    static let maximumWeight = 1e6

    static func parameter(
        _ value: Double, _ argument: @autoclosure () -> String, _ requirement: @autoclosure () -> String, _ isValid: (Double) -> Bool
    ) throws {
        if !value.isFinite || !isValid(value) {
            throw HardPixelMiningError.invalidParameter(argument: argument(), value: value, requirement: requirement())
        }
    }

    /// Throws for the first non-finite element of `values`.
    /// `channels` ≥ 1 and `count` = N × channels × H × W (overflow-checked): an NCHW image batch.
    static func images(_ count: Int, channels: Int, shape: PixelMapShape, _ argument: @autoclosure () -> String) throws {
        if channels < 1 {
            throw HardPixelMiningError.invalidDimension(argument: "channels", value: channels, requirement: ">= 1")
        }
        let expected = try Check.product(
            shape.images, channels, shape.height, shape.width, "channels",
            "a channel count whose N × channels × H × W is at most 2^40")
        try Check.count(count, expected, argument())
    }

    /// Predicted log-depth, ground-truth depth and an optional gradient, each N·H·W; the
    /// prediction finite.
    static func depthInputs(
        predicted: UnsafeBufferPointer<Float>, groundTruth: UnsafeBufferPointer<Float>,
        gradient: UnsafeMutableBufferPointer<Float>?, shape: PixelMapShape
    ) throws {
        try Check.count(predicted.count, shape.pixelCount, "predictedLogDepth")
        try Check.count(groundTruth.count, shape.pixelCount, "groundTruthDepth")
        if let g = gradient { try Check.count(g.count, shape.pixelCount, "gradient") }
        try Check.allFinite(predicted, "predictedLogDepth")
    }

    /// `values` is a permutation of `0..<count` (and has `count` elements).
    static func permutation(_ values: [Int], count: Int, _ argument: @autoclosure () -> String) throws {
        try Check.count(values.count, count, argument())
        var seen = [Bool](repeating: false, count: count)
        for (k, j) in values.enumerated() {
            guard j >= 0 && j < count && !seen[j] else {
                throw HardPixelMiningError.invalidDimension(
                    argument: "\(argument())[\(k)]", value: j, requirement: "a permutation of 0..<\(count)")
            }
            seen[j] = true
        }
    }

}
