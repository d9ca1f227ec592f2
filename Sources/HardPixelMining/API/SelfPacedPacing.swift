/// Self-paced learning (the paper's Eqs. 7–10): which hard pixels count at an epoch.
///
/// For epoch `e` of `E`, over the eligible pixels of one image and one weight map
/// `w`: `u1` is the median (the lower middle element for an even count, as
/// `torch.median`), `u2` the maximum, and the learning pace is
/// `η = u1 + e · (u2 - u1) / E`. A pixel counts iff `w_i < η` (strict), so the
/// set grows from the easier half at `e = 0` to all but the hardest at `e = E`.
/// The median is found by selection in O(n), not by sorting.
///
/// Past `E` (fine-tuning on, or training longer than planned) the pace holds at its last value,
/// `η = u2`: an epoch `e > E` is read as `E`. Only a negative or non-finite epoch throws.
public struct SelfPacedPacing: Sendable, Hashable {
    /// `E`, the epoch at which the pace reaches the largest weight. Must be positive.
    public var totalEpochs: Double

    public init(totalEpochs: Double) {
        self.totalEpochs = totalEpochs
    }

    func validate(argument: @autoclosure () -> String = "pacing") throws {
        try Check.parameter(totalEpochs, "\(argument()).totalEpochs", "finite and > 0", { $0 > 0 })
    }

    func validate(epoch: Double) throws {
        try Check.parameter(epoch, "epoch", "finite and >= 0", { $0 >= 0 })
    }

    /// `η` for the given median and maximum, as `u1 + (e/E)(u2 − u1)`: the same value as
    /// `u1 + e(u2 − u1)/E` (exactly so at e = 0 and e = E), but finite for any finite input
    /// because `e/E` is in 0...1.
    @inline(__always)
    func pace(median: Double, maximum: Double, epoch: Double) -> Double {
        median + (Swift.min(epoch, totalEpochs) / totalEpochs) * (maximum - median)
    }

    /// The learning pace `η` of `weights` at `epoch`, or `nil` when `weights` is empty
    /// (then no pixel counts).
    ///
    /// - Complexity: O(n) (a radix select on a copy of `weights`).
    public func learningPace(of weights: UnsafeBufferPointer<Float>, epoch: Double) throws -> Double? {
        try validate()
        try validate(epoch: epoch)
        try Check.allFinite(weights, "weights")
        guard let (median, maximum) = PaceStatistics.lowerMedianAndMaximum(of: weights) else { return nil }
        return pace(median: Double(median), maximum: Double(maximum), epoch: epoch)
    }

    /// The learning pace `η` of `weights` at `epoch`, or `nil` when `weights` is empty.
    public func learningPace(of weights: [Float], epoch: Double) throws -> Double? {
        try weights.withUnsafeBufferPointer { try learningPace(of: $0, epoch: epoch) }
    }

    /// The pacing mask of one image: `mask[i]` is true iff `eligible[i]` and
    /// `weights[i] < η`, with `η` taken over the eligible weights only.
    public func mask(weights: [Float], eligible: [Bool], epoch: Double) throws -> [Bool] {
        try Check.count(eligible.count, weights.count, "eligible")
        try validate()
        try validate(epoch: epoch)
        // Only the eligible weights are taken (an ineligible one may be anything).
        if let i = weights.indices.first(where: { eligible[$0] && !weights[$0].isFinite }) {
            throw HardPixelMiningError.nonFiniteValue(argument: "weights", index: i, value: weights[i])
        }
        // The eligible weights' statistics without a copy of them, as the engine's paces.
        let statistics = weights.withUnsafeBufferPointer { w in
            eligible.withUnsafeBufferPointer { e in PaceStatistics.lowerMedianAndMaximum(of: w, mask: e.baseAddress) }
        }
        guard let (median, maximum) = statistics else { return Array(repeating: false, count: weights.count) }
        return PaceStatistics.mask(weights, eligible: eligible, below: pace(median: Double(median), maximum: Double(maximum), epoch: epoch))
    }
}

/// A weight that may change at one epoch, such as the paper's β: 0 for the first
/// 10 epochs, then 10.
public struct WeightSchedule: Sendable, Hashable {
    /// The weight before `switchEpoch`.
    public var initial: Double
    /// The weight from `switchEpoch` on.
    public var later: Double
    /// The epoch at which `later` takes over.
    public var switchEpoch: Double

    public init(initial: Double, later: Double, switchEpoch: Double) {
        self.initial = initial
        self.later = later
        self.switchEpoch = switchEpoch
    }

    /// The same weight at every epoch.
    public static func constant(_ weight: Double) -> WeightSchedule {
        WeightSchedule(initial: weight, later: weight, switchEpoch: 0)
    }

    /// The paper's β: 0 for epochs before 10, then 10.
    public static let paperDepthPredictionError = WeightSchedule(initial: 0, later: 10, switchEpoch: 10)

    /// The weight at `epoch`.
    public func value(atEpoch epoch: Double) -> Double { epoch < switchEpoch ? initial : later }

    /// Whether the weight is zero at every epoch (then the term is not computed at all).
    public var isAlwaysZero: Bool { initial == 0 && later == 0 }

    func validate(argument: @autoclosure () -> String) throws {
        try Check.weight(initial, "\(argument()).initial")
        try Check.weight(later, "\(argument()).later")
        try Check.finite(switchEpoch, "\(argument()).switchEpoch")
    }
}
