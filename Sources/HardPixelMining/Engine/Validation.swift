import HardPixelMiningKernels

// The validation loops over elements: the API states what it requires, the engine runs the
// sweeps (with the kernels' vector code where it pays).

extension Check {
    static func allFinite(_ values: UnsafeBufferPointer<Float>, _ argument: @autoclosure () -> String) throws {
        guard let base = values.baseAddress else { return }
        try allFinite(LogitBuffer(base), count: values.count, argument())
    }

    /// Throws for the first non-finite value of logits of any precision.
    static func allFinite<Scalar: LogitScalar>(_ values: UnsafeBufferPointer<Scalar>, _ argument: @autoclosure () -> String) throws {
        guard !values.isEmpty else { return }
        try allFinite(LogitBuffer(values), count: values.count, argument())
    }

    /// The same for `count` logits of any precision (the error carries the widened value).
    static func allFinite(_ values: LogitBuffer, count: Int, _ argument: @autoclosure () -> String) throws {
        if let index = Kernels.firstNonFiniteIndex(values, count: count) {
            throw HardPixelMiningError.nonFiniteValue(argument: argument(), index: index, value: values.float(at: index))
        }
    }

    /// Throws for the first weight that is NaN, infinite, negative or above ``maximumWeight``.
    static func weights(_ values: UnsafeBufferPointer<Float>, _ argument: @autoclosure () -> String) throws {
        try allFinite(values, argument())
        let limit = Float(maximumWeight)
        for i in values.indices where !(values[i] >= 0 && values[i] <= limit) {
            throw HardPixelMiningError.invalidParameter(
                argument: "\(argument())[\(i)]", value: Double(values[i]), requirement: "finite, >= 0 and <= 1e6")
        }
    }

    /// Throws for the first predicted class outside `0..<classCount`.
    static func predictions(_ predictions: UnsafeBufferPointer<Int32>, classCount: Int, _ argument: @autoclosure () -> String) throws {
        for i in predictions.indices where predictions[i] < 0 || Int(predictions[i]) >= classCount {
            throw HardPixelMiningError.labelOutOfRange(
                argument: argument(), index: i, value: predictions[i], classCount: classCount, ignoreLabel: -1)
        }
    }

    /// Throws for the first label that is neither a class nor `ignoreLabel`.
    static func labels(_ labels: UnsafeBufferPointer<Int32>, classCount: Int, ignoreLabel: Int32, _ argument: @autoclosure () -> String) throws {
        let c = Int32(truncatingIfNeeded: classCount)
        // First a branch-free sweep that the compiler vectorises (a `while` loop with unchecked
        // steps: a `for` over the indices with a throw per label does not), then, only if a
        // label is bad, the loop that finds the first one.
        if let base = labels.baseAddress {
            let classes = UInt32(truncatingIfNeeded: classCount)
            var bad: UInt32 = 0, i = 0
            while i < labels.count {
                let label = base[i]
                bad |= (UInt32(bitPattern: label) >= classes ? 1 : 0) & (label != ignoreLabel ? 1 : 0)
                i &+= 1
            }
            if bad == 0 { return }
        }
        for i in labels.indices {
            let label = labels[i]
            if (label < 0 || label >= c) && label != ignoreLabel {
                throw HardPixelMiningError.labelOutOfRange(
                    argument: argument(), index: i, value: label, classCount: classCount, ignoreLabel: ignoreLabel)
            }
        }
    }
}
