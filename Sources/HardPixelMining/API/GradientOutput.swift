/// How an entry point writes a gradient into the caller's buffer.
///
///     // Loss scaling, or this loss's weight in a sum of losses:
///     try loss.evaluate(logits: x, labels: y, shape: shape, gradient: g, gradientOutput: .overwrite(scale: 0.5))
///     // Gradient accumulation over micro-batches (the buffer keeps what it held):
///     try loss.evaluate(logits: x, labels: y, shape: shape, gradient: g, gradientOutput: .accumulate)
///
/// `overwrite` writes `scale · ∂L/∂x`; `accumulate` adds it to what the buffer holds (as
/// PyTorch's `.grad` does across `backward()` calls). The scale applies to every gradient
/// of the call (logits and log-depth). On any error an accumulating call leaves its buffers
/// untouched: the one-pass cross-entropy then checks the logits' finiteness before it
/// writes (one extra read of the logits), where overwriting would zero-fill instead.
public struct GradientOutput: Sendable, Hashable {
    public enum Mode: Sendable, Hashable {
        /// The buffer receives the gradient.
        case overwrite
        /// The gradient is added to the buffer's contents.
        case accumulate
    }

    public var mode: Mode
    /// The factor on the gradient: finite, >= 0 and <= 1e6.
    public var scale: Double

    public init(mode: Mode, scale: Double = 1) {
        self.mode = mode
        self.scale = scale
    }

    /// Writes the gradient (the default).
    public static let overwrite = GradientOutput(mode: .overwrite)
    /// Adds the gradient to the buffer.
    public static let accumulate = GradientOutput(mode: .accumulate)
    /// Writes `scale` times the gradient.
    public static func overwrite(scale: Double) -> GradientOutput { GradientOutput(mode: .overwrite, scale: scale) }
    /// Adds `scale` times the gradient to the buffer.
    public static func accumulate(scale: Double) -> GradientOutput { GradientOutput(mode: .accumulate, scale: scale) }

    var accumulates: Bool { mode == .accumulate }

    func validate() throws {
        try Check.weight(scale, "gradientOutput.scale")
    }
}
