/// Loss-rank hard pixel mining (online hard example mining) for cross-entropy: which
/// labelled pixels the loss keeps, per image (this package's reading) or over the batch
/// (DeepLab's and mmsegmentation's conventions).
///
///     per image:  L_seg = (1/N) Σ_k (1/|S_k|) Σ_{i ∈ S_k} w_i ce_i    ∂L/∂x_ij = w_i (p_ij − y_ij) / (N |S_k|) on S_k
///     batch:      L_seg = (1/K) Σ_{i ∈ S} w_i ce_i                     ∂L/∂x_ij = w_i (p_ij − y_ij) / K on S
///
/// The selection `S` is a constant for differentiation, like the hard-pixel weights. Ties
/// between equal losses go to the lower pixel index (NCHW order: image, row, column).
public enum PixelMining: Sendable, Hashable {
    /// The `k = ⌈fraction · n⌉` labelled pixels with the largest loss (ties: the lower pixel
    /// index first). The threshold is found by selection in O(n). Default fraction: 0.2.
    case topFraction(Double)
    /// The labelled pixels whose true-class probability `p_i,label` is below
    /// `max(threshold, p_(m))`, where `p_(m)` is the probability of rank
    /// `m = min(minimumKept, n − 1)` in ascending order — so at least `minimumKept` pixels count
    /// when there are that many (mmsegmentation's OHEM sampler, per image). Default 0.7.
    case probabilityBelow(threshold: Double, minimumKept: Int)

    /// DeepLab's top-k over the batch (detectron2 `DeepLabCE`, `top_k_percent_pixels`): the
    /// per-pixel losses `w_i ce_i` of all N·H·W pixels, ignored ones taking part as zeros;
    /// `K = k = Int(fraction · N·H·W)` (rounded down) largest are kept and averaged. When k is
    /// 0 the loss and gradient are 0 (PyTorch: NaN). Selection is on the weighted loss, as
    /// `DeepLabCE(weights=)` does.
    case batchTopFraction(Double)
    /// mmsegmentation's OHEM over the batch (`OHEMPixelSampler`, then `CrossEntropyLoss`), with
    /// `batch_kept = minimumKept · N`. With a threshold: the labelled pixels whose true-class
    /// probability is below `max(threshold, p_(m))`, `p_(m)` the probability of rank
    /// `m = min(batch_kept, n − 1)` in ascending order over the batch's n labelled pixels.
    /// Without (nil): the `batch_kept` largest losses. The kept `w_i ce_i` are summed and divided
    /// by `K` = N·H·W (mmseg's default), or by the batch's labelled pixels with
    /// `averageNonIgnored` (`avg_non_ignore=True`); 0 when that is 0.
    case ohem(threshold: Double?, minimumKept: Int, averageNonIgnored: Bool)

    /// The top 20% of pixels by loss.
    public static let topFifth = PixelMining.topFraction(0.2)
    /// mmsegmentation's usual sampler: `OHEMPixelSampler(thresh=0.7, min_kept=100000)`.
    public static let mmsegmentationDefault = PixelMining.ohem(threshold: 0.7, minimumKept: 100_000, averageNonIgnored: false)

    /// Whether the selection and the divisor are over the whole batch.
    var isBatchWide: Bool {
        switch self {
        case .topFraction, .probabilityBelow: return false
        case .batchTopFraction, .ohem: return true
        }
    }

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
        case .batchTopFraction(let f):
            try Check.parameter(f, "\(argument()).fraction", "in (0, 1]", { $0 > 0 && $0 <= 1 })
        case .ohem(let threshold, let minimumKept, _):
            if let threshold {
                try Check.parameter(threshold, "\(argument()).threshold", "in 0...1", { (0...1).contains($0) })
            }
            if minimumKept < 0 {
                throw HardPixelMiningError.invalidDimension(
                    argument: "\(argument()).minimumKept", value: minimumKept, requirement: ">= 0")
            }
        }
    }
}
