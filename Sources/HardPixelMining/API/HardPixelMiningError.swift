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

    /// The name of the argument that was rejected.
    public var argument: String {
        switch self {
        case .wrongCount(let argument, _, _), .invalidDimension(let argument, _, _),
            .labelOutOfRange(let argument, _, _, _, _), .nonFiniteValue(let argument, _, _),
            .invalidParameter(let argument, _, _):
            return argument
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

    static func parameter(
        _ value: Double, _ argument: @autoclosure () -> String, _ requirement: @autoclosure () -> String, _ isValid: (Double) -> Bool
    ) throws {
        if !value.isFinite || !isValid(value) {
            throw HardPixelMiningError.invalidParameter(argument: argument(), value: value, requirement: requirement())
        }
    }

    /// Throws for the first non-finite element of `values`.
    static func allFinite(_ values: UnsafeBufferPointer<Float>, _ argument: @autoclosure () -> String) throws {
        if let index = Kernels.firstNonFiniteIndex(values) {
            throw HardPixelMiningError.nonFiniteValue(argument: argument(), index: index, value: values[index])
        }
    }

    /// Throws for the first label that is neither a class nor `ignoreLabel`.
    static func labels(_ labels: UnsafeBufferPointer<Int32>, classCount: Int, ignoreLabel: Int32, _ argument: @autoclosure () -> String) throws {
        let c = Int32(truncatingIfNeeded: classCount)
        for i in labels.indices {
            let label = labels[i]
            if (label < 0 || label >= c) && label != ignoreLabel {
                throw HardPixelMiningError.labelOutOfRange(
                    argument: argument(), index: i, value: label, classCount: classCount, ignoreLabel: ignoreLabel)
            }
        }
    }
}
