import HardPixelMiningKernels

/// The per-image statistics of a learning pace.
enum PaceStatistics {
    /// The lower median and the maximum of non-empty, finite `values` (a radix select on a copy).
    static func lowerMedianAndMaximum(of values: UnsafeBufferPointer<Float>) -> (median: Float, maximum: Float) {
        let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: values.count)
        defer { scratch.deallocate() }
        _ = scratch.initialize(fromContentsOf: values)
        let histogram = UnsafeMutablePointer<Int>.allocate(capacity: Selection.histogramCount)
        defer { histogram.deallocate() }
        let (median, maximum) = Selection.lowerMedianAndMaximum(scratch, histogram: histogram)
        return (median, maximum)
    }

    /// The values whose `eligible` flag is set, in order.
    static func eligibleValues(_ values: [Float], eligible: [Bool]) -> [Float] {
        var chosen: [Float] = []
        chosen.reserveCapacity(values.count)
        for i in values.indices where eligible[i] { chosen.append(values[i]) }
        return chosen
    }

    /// `eligible[i] && values[i] < pace` for every i.
    static func mask(_ values: [Float], eligible: [Bool], below pace: Double) -> [Bool] {
        values.indices.map { eligible[$0] && Double(values[$0]) < pace }
    }
}
