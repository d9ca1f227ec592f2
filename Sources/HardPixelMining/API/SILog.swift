/// The scale-invariant log error of BTS and AdaBins (SILog), pooled over the batch.
///
/// With `d_i = logD_i − log D*_i` over the `n` valid-depth pixels of the whole batch,
/// `mean = Σ d / n` and `λ` the variance focus:
///
///     BTS      (`.population`):  D = (1/n) Σ d² − λ mean²          = var_n(d)   + (1 − λ) mean²
///     AdaBins  (`.sample`):      D = Σ (d − mean)² / (n − 1) + (1 − λ) mean²  (torch.var)
///     SILog = s · √max(D, 0)
///     ∂SILog/∂d_i = s / (2√D) · (2 (d_i − mean) / m + 2 (1 − λ) mean / n),  m = n or n − 1
///
/// Sources: BTS `pytorch/bts.py`, `silog_loss.forward` (λ = `variance_focus` = 0.85, s = 10);
/// AdaBins `loss.py`, `SILogLoss.forward` (`torch.var(g) + 0.15 · mean(g)²`, s = 10).
///
/// Where the references give NaN this package gives 0: no valid pixel (value and gradient
/// 0); `.sample` with one valid pixel (the variance term is 0); D = 0, the kink of the
/// square root (gradient 0). The sums are kept in Double; D is formed from Σ d and Σ d²
/// (relative error about 1e-16 · Σd² / Σ(d − mean)²).
///
/// Mapping to the paper's L_dep (per image, ρ, no root, no scale): on one image with
/// `.population`, `(SILog / s)² = L_dep` with ρ = λ. See Docs/DepthLoss.md.
public struct SILog: Sendable, Hashable {
    /// Which variance D uses.
    public enum Variance: Sendable, Hashable {
        /// Divides by n: BTS's `(d**2).mean() - λ * d.mean()**2`.
        case population
        /// Divides by n − 1: AdaBins's `torch.var` (unbiased).
        case sample
    }

    /// λ, the variance focus (BTS's `variance_focus`; 1 − λ weighs the squared mean).
    public var varianceFocus: Double
    /// s, the factor on the root (10 in BTS and AdaBins).
    public var scale: Double
    public var variance: Variance

    public init(varianceFocus: Double = 0.85, scale: Double = 10, variance: Variance = .population) {
        self.varianceFocus = varianceFocus
        self.scale = scale
        self.variance = variance
    }

    /// BTS: λ = 0.85, s = 10, population variance.
    public static let bts = SILog()
    /// AdaBins: λ = 0.85, s = 10, sample (unbiased) variance.
    public static let adaBins = SILog(variance: .sample)

    func validate(argument: @autoclosure () -> String) throws {
        try Check.parameter(varianceFocus, "\(argument()).varianceFocus", "in 0...1", { (0...1).contains($0) })
        try Check.weight(scale, "\(argument()).scale")
    }

    /// D from the pooled count and sums: 0 without a valid pixel, and for the sample variance
    /// (AdaBins) with one, where `torch.var` is NaN (so the value and gradient are 0 there).
    func dispersion(pixels n: Int, sum: Double, squaredSum: Double) -> Double {
        guard n > 0, variance == .population || n > 1 else { return 0 }
        let count = Double(n)
        let mean = sum / count
        let centred = Swift.max(0, squaredSum - sum * mean)
        let m = variance == .population ? count : count - 1
        let spread = m > 0 ? centred / m : 0
        return spread + (1 - varianceFocus) * mean * mean
    }

    /// SILog from the pooled count and sums.
    func value(pixels n: Int, sum: Double, squaredSum: Double) -> Double {
        scale * Swift.max(0, dispersion(pixels: n, sum: sum, squaredSum: squaredSum)).squareRoot()
    }

    /// `∂SILog/∂d_i = slope · (d_i − shift) + offset`, each multiplied by `factor`.
    func gradientCoefficients(
        pixels n: Int, sum: Double, squaredSum: Double, factor: Double
    ) -> (slope: Double, shift: Double, offset: Double) {
        let d = dispersion(pixels: n, sum: sum, squaredSum: squaredSum)
        guard n > 0, d > 0 else { return (0, 0, 0) }
        let count = Double(n)
        let mean = sum / count
        let c = factor * scale / (2 * d.squareRoot())
        let m = variance == .population ? count : count - 1
        return (m > 0 ? c * 2 / m : 0, mean, c * 2 * (1 - varianceFocus) * mean / count)
    }
}

/// The depth term of the objective: the paper's per-image L_dep, or SILog pooled over the batch.
public enum DepthTerm: Sendable, Hashable {
    /// Eq. 3 per image, `(1/nd) Σ R² − (ρ/nd²)(Σ R)²`, with ρ = `scaleInvariance`; the batch
    /// value is the mean over images (the paper).
    case scaleInvariant
    /// ``SILog`` over the batch's valid pixels (BTS / AdaBins). The batch's depth term is the
    /// pooled SILog (not a mean over images); an image's reported depth term is the SILog of
    /// that image alone, for logging.
    case silog(SILog)
}
