import HardPixelMiningKernels
import CHardPixelMiningSupport

// The validation loops over elements: the API states what it requires, the engine runs the
// sweeps (with the kernels' vector code where it pays).

extension Check {
    static func allFinite(
        _ values: UnsafeBufferPointer<Float>, _ argument: @autoclosure () -> String, threads: Int = 1
    ) throws {
        guard let base = values.baseAddress else { return }
        // First whether every chunk is finite (on up to `threads` threads), then, only if one
        // is not, the first bad index.
        if passes(FiniteChunks(base: base), count: values.count, threads: threads) { return }
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
    static func labels(
        _ labels: UnsafeBufferPointer<Int32>, classCount: Int, ignoreLabel: Int32, _ argument: @autoclosure () -> String,
        threads: Int = 1
    ) throws {
        let c = Int32(truncatingIfNeeded: classCount)
        // First a branch-free sweep (on up to `threads` threads, in chunks), then, only if a
        // label is bad, the loop that finds the first one.
        if let base = labels.baseAddress,
           passes(LabelChunks(base: base, classCount: classCount, ignoreLabel: ignoreLabel), count: labels.count, threads: threads) {
            return
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

/// A check of a range of elements, swept in chunks by ``Check/passes(_:count:threads:)``.
protocol ChunkCheck {
    func passes(_ range: Range<Int>) -> Bool
}

extension Check {
    /// Elements per chunk of a parallel check (128 KB of 32-bit elements).
    static let chunkElements = 1 << 15

    /// Whether `check` passes on all of `0..<count`: in chunks on up to `threads` threads,
    /// each worker marking a shared flag when one of its chunks fails (no allocation: the
    /// flag is on the stack).
    static func passes<C: ChunkCheck>(_ check: C, count: Int, threads: Int) -> Bool {
        let chunks = (count + chunkElements - 1) / chunkElements
        if threads <= 1 || chunks <= 1 { return check.passes(0..<count) }
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: 1) { failed in
            failed.initialize(repeating: 0)
            Parallel.forEach(chunks, threads: threads, Chunks(check: check, count: count, failed: failed.baseAddress!))
            return failed[0] == 0
        }
    }

    /// The region of ``passes(_:count:threads:)``: chunk `i` of the elements.
    private struct Chunks<C: ChunkCheck>: ParallelWork {
        let check: C
        let count: Int
        let failed: UnsafeMutablePointer<Int>

        func run(_ i: Int, worker _: Int) {
            let start = i * Check.chunkElements
            if !check.passes(start..<Swift.min(count, start + Check.chunkElements)) { _ = hpm_fetch_add(failed, 1) }
        }
    }
}

/// Every label is a class in `0..<classCount` or `ignoreLabel`.
private struct LabelChunks: ChunkCheck {
    let base: UnsafePointer<Int32>
    let classCount: Int
    let ignoreLabel: Int32

    func passes(_ range: Range<Int>) -> Bool {
        // A branch-free sweep that the compiler vectorises (a `while` loop with unchecked
        // steps: a `for` over the indices with a throw per label does not).
        let classes = UInt32(truncatingIfNeeded: classCount)
        var bad: UInt32 = 0, i = range.lowerBound
        while i < range.upperBound {
            let label = base[i]
            bad |= (UInt32(bitPattern: label) >= classes ? 1 : 0) & (label != ignoreLabel ? 1 : 0)
            i &+= 1
        }
        return bad == 0
    }
}

/// Every value is finite.
private struct FiniteChunks: ChunkCheck {
    let base: UnsafePointer<Float>

    func passes(_ range: Range<Int>) -> Bool {
        Kernels.firstNonFiniteIndex(LogitBuffer(base + range.lowerBound), count: range.count) == nil
    }
}
