/// A caller's per-pixel map as an additive term of the objective's pixel weight, beside DPE
/// and DSE: boundary weights, depth-discrepancy weights (as in CorDA), uncertainty weights.
///
///     W_i = [ce counts] + β wR_i [..] + γ wZ_i [..] + coefficient · map_i [map counts]
///     L_M = Σ map_i loss_i [map counts] / n          (reported as `pixelWeightMap`)
///
/// The map lives on labelled pixels (depth is not needed). Unpaced it counts on every labelled
/// pixel; `paced` (which needs ``ObjectiveConfiguration/pacing``) counts it where `map_i` is
/// below the image's learning pace η over its labelled pixels, as the DPE and DSE maps are
/// paced over their eligible ones. The map is a constant for differentiation.
///
/// Pass the map itself to ``HardPixelMiningObjective`` as `pixelWeightMap:` (N·H·W finite
/// values in 0...1e6).
public struct PixelWeightMapTerm: Sendable, Hashable {
    /// The term's coefficient `c` (finite, in 0...1e6).
    public var coefficient: Double
    /// Whether the term is paced.
    public var paced: Bool

    public init(coefficient: Double = 1, paced: Bool = false) {
        self.coefficient = coefficient
        self.paced = paced
    }
}
