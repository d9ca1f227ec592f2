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
    /// The factor on the gradient, a Double: finite, >= 0 and <= 1e6. Every initialiser takes
    /// any `BinaryFloatingPoint` (a Float `1 / m` from a trainer's loop as well as a Double) and
    /// widens it exactly.
    public var scale: Double

    public init<Scale: BinaryFloatingPoint>(mode: Mode, scale: Scale) {
        self.mode = mode
        self.scale = Double(scale)
    }

    public init(mode: Mode) { self.init(mode: mode, scale: 1.0) }

    /// Writes the gradient (the default).
    public static let overwrite = GradientOutput(mode: .overwrite)
    /// Adds the gradient to the buffer.
    public static let accumulate = GradientOutput(mode: .accumulate)
    /// Writes `scale` times the gradient (`scale`: Double, Float, or any `BinaryFloatingPoint`).
    public static func overwrite<Scale: BinaryFloatingPoint>(scale: Scale) -> GradientOutput {
        GradientOutput(mode: .overwrite, scale: scale)
    }
    /// Adds `scale` times the gradient to the buffer (`scale`: Double, Float, or any `BinaryFloatingPoint`).
    public static func accumulate<Scale: BinaryFloatingPoint>(scale: Scale) -> GradientOutput {
        GradientOutput(mode: .accumulate, scale: scale)
    }

    var accumulates: Bool { mode == .accumulate }

    func validate() throws {
        try Check.weight(scale, "gradientOutput.scale")
    }
}
