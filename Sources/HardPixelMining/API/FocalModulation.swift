/// Focal loss (Lin et al., softmax form): each labelled pixel's loss multiplied by
/// `α_label · (1 − p_t)^γ`, where `p_t` is the softmax probability of its label.
///
///     loss_i = α_label (1 − p_t)^γ · ℓ_i          ℓ_i = ce_i (+ ε (1 − p_t) with PolyLoss-1)
///
/// With no smoothing this is kornia's `focal_loss(x, y, alpha=None, gamma=γ, weight=α,
/// ignore_index=255)`, whose `weight=` is the per-class α here; with smoothing, `ce_i` is the
/// label-smoothed cross-entropy of ``LabelSmoothing`` (and class weights, pixel weights and
/// the hard-pixel terms multiply as usual). `gradient` says whether the gradient goes through
/// the factor (`.throughFactor`, as autograd does in kornia, smp and torchvision) or holds it
/// constant, as the paper holds its weights.
///
/// Bounds: γ in 0...10; α's C values finite, in 0...1e6. For γ < 1 the exact gradient has no
/// bound where `p_t` rounds to 1; there it saturates (see Docs/FocalLoss.md).
public struct FocalModulation: Sendable, Hashable {
    /// How the gradient treats the factor `(1 − p_t)^γ`.
    public enum Gradient: String, Sendable, Hashable, CaseIterable {
        /// Differentiated through the factor: the exact gradient of the focal loss.
        case throughFactor
        /// The factor held constant: a pure per-pixel weight, as the paper's weights are.
        case factorHeldConstant
    }

    /// γ, the focusing parameter (0 is no focusing; the focal paper uses 2).
    public var focusing: Double
    /// α per class (C values), or nil for 1.
    public var classAlpha: [Float]?
    public var gradient: Gradient

    public init(focusing: Double = 2, classAlpha: [Float]? = nil, gradient: Gradient = .throughFactor) {
        self.focusing = focusing
        self.classAlpha = classAlpha
        self.gradient = gradient
    }

    /// The largest γ accepted: `(1 − p_t)^γ` of a Float `p_t` then stays a normal number
    /// wherever it is not 0.
    public static let maximumFocusing = 10.0
    /// The largest PolyLoss-1 ε accepted.
    public static let maximumPolyEpsilon = 1e3

    func validate(classCount: Int, argument: @autoclosure () -> String) throws {
        try Check.parameter(focusing, "\(argument()).focusing", "finite, in 0...10", { (0...Self.maximumFocusing).contains($0) })
        try validateClassWeights(classAlpha, classCount: classCount, "\(argument()).classAlpha")
    }

    /// PolyLoss-1's ε: finite, in 0...1e3.
    static func validate(polyEpsilon: Double, argument: @autoclosure () -> String) throws {
        try Check.parameter(polyEpsilon, argument(), "finite, in 0...1000", { (0...maximumPolyEpsilon).contains($0) })
    }
}
