/// How the one-hot target of cross-entropy is smoothed.
///
/// The target of pixel `i` for class `j` is `on` for the true class and `off`
/// for every other class; `on + (C - 1) · off = 1` in every convention.
public enum LabelSmoothing: Sendable, Hashable {
    /// No smoothing: `on = 1`, `off = 0`.
    case none
    /// The paper's Eq. 1: `on = trueClassTarget`, `off = (1 - on) / (C - 1)`.
    /// The paper uses `trueClassTarget = 0.9`.
    case paper(trueClassTarget: Double)
    /// PyTorch's `label_smoothing = epsilon`: `on = 1 - ε + ε / C`, `off = ε / C`.
    case pytorch(epsilon: Double)

    /// The paper's default, `on = 0.9`.
    public static let paperDefault = LabelSmoothing.paper(trueClassTarget: 0.9)

    /// The targets `(on, off)` for `classCount` classes (a count below 2, which no entry point
    /// accepts, is taken as 2, so the result is always finite).
    public func targets(classCount: Int) -> (on: Double, off: Double) {
        let c = Double(Swift.max(classCount, 2))
        switch self {
        case .none: return (1, 0)
        case .paper(let on): return (on, (1 - on) / (c - 1))
        case .pytorch(let epsilon): return (1 - epsilon + epsilon / c, epsilon / c)
        }
    }

    func validate(argument: @autoclosure () -> String = "smoothing") throws {
        switch self {
        case .none: break
        case .paper(let on):
            try Check.parameter(on, "\(argument()).trueClassTarget", "in 0...1", { (0...1).contains($0) })
        case .pytorch(let epsilon):
            try Check.parameter(epsilon, "\(argument()).epsilon", "in 0...1", { (0...1).contains($0) })
        }
    }
}
