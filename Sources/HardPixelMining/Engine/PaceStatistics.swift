import HardPixelMiningKernels

/// The per-image statistics of a learning pace.
enum PaceStatistics {
    /// The lower median and the maximum of the finite `values` where `mask` is true (every one
    /// without a mask), or nil if none is (a radix select, compacting into a scratch copy, as
    /// the engine's paces).
    static func lowerMedianAndMaximum(
        of values: UnsafeBufferPointer<Float>, mask: UnsafePointer<Bool>? = nil
    ) -> (median: Float, maximum: Float)? {
        guard let base = values.baseAddress else { return nil }
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: values.count)
        defer { scratch.deallocate() }
        let histogram = UnsafeMutablePointer<Int>.allocate(capacity: Selection.histogramCount)
        defer { histogram.deallocate() }
        return Selection.lowerMedianAndMaximum(
            count: values.count, values: base, mask: mask, scratch: scratch, histogram: histogram)
    }

    /// `eligible[i] && values[i] < pace` for every i.
    static func mask(_ values: [Float], eligible: [Bool], below pace: Double) -> [Bool] {
        values.indices.map { eligible[$0] && Double(values[$0]) < pace }
    }
}
