/// Loss-rank hard pixel mining (online hard example mining) for cross-entropy: which
/// labelled pixels of an image the loss keeps.
///
///     L_seg = (1/|S|) Σ_{i ∈ S} ce_i        ∂L/∂x_ij = (p_ij − y_ij) / (N |S|) on S, 0 elsewhere
///
/// The selection `S` is a constant for differentiation, like the hard-pixel weights.
public enum PixelMining: Sendable, Hashable {
    /// The `k = ⌈fraction · n⌉` labelled pixels with the largest loss (ties: the lower pixel
    /// index first). The threshold is found by selection in O(n). Default fraction: 0.2.
    case topFraction(Double)
    /// The labelled pixels whose true-class probability `p_i,label` is below
    /// `max(threshold, p_(m))`, where `p_(m)` is the probability of rank
    /// `m = min(minimumKept, n − 1)` in ascending order — so at least `minimumKept` pixels count
    /// when there are that many (mmsegmentation's OHEM sampler, per image). Default 0.7.
    case probabilityBelow(threshold: Double, minimumKept: Int)

    /// The top 20% of pixels by loss.
    public static let topFifth = PixelMining.topFraction(0.2)

    func validate(argument: @autoclosure () -> String = "mining") throws {
        switch self {
        case .topFraction(let f):
            try Check.parameter(f, "\(argument()).fraction", "in (0, 1]", { $0 > 0 && $0 <= 1 })
        case .probabilityBelow(let threshold, let minimumKept):
            try Check.parameter(threshold, "\(argument()).threshold", "in 0...1", { (0...1).contains($0) })
            if minimumKept < 0 {
                throw HardPixelMiningError.invalidDimension(
                    argument: "\(argument()).minimumKept", value: minimumKept, requirement: ">= 0")
            }
        }
    }
}
