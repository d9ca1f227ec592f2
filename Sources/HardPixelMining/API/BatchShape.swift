/// How logits (and their gradient) are laid out in memory.
public enum LogitLayout: String, Sendable, Hashable, CaseIterable {
    /// NCHW (PyTorch's default): class planes of `height · width` contiguous pixels, one image
    /// after another. Element `(k, c, y, x)` at `((k · C + c) · H + y) · W + x`.
    case channelsFirst
    /// NHWC, channels-last (MLX's convolutions, `torch.channels_last`): each pixel's C classes
    /// contiguous. Element `(k, y, x, c)` at `((k · H + y) · W + x) · C + c`.
    case channelsLast
}

/// The shape of a batch: `images` × `classes` × `height` × `width`.
///
/// Logits are laid out as ``logitLayout`` says: NCHW by default, or NHWC; labels, depths and
/// per-pixel maps are NHW in either case. Every entry point that takes logits takes them in
/// either layout, and writes their gradient in the same layout, with the same values.
public struct BatchShape: Sendable, Hashable, CustomStringConvertible {
    /// N, the number of images.
    public var images: Int
    /// C, the number of classes (at least 2).
    public var classes: Int
    /// H, the number of pixel rows.
    public var height: Int
    /// W, the number of pixel columns.
    public var width: Int
    /// The memory layout of the logits and their gradient (default NCHW).
    public var logitLayout: LogitLayout

    public init(images: Int, classes: Int, height: Int, width: Int, logitLayout: LogitLayout = .channelsFirst) {
        self.images = images
        self.classes = classes
        self.height = height
        self.width = width
        self.logitLayout = logitLayout
    }

    /// H · W (`Int.max` when the product overflows; such a shape fails validation).
    public var pixelsPerImage: Int { Self.saturatingProduct([height, width]) }
    /// N · H · W: the element count of labels, depths and per-pixel maps (`Int.max` when the
    /// product overflows; such a shape fails validation).
    public var pixelCount: Int { Self.saturatingProduct([images, height, width]) }
    /// N · C · H · W: the element count of the logits and their gradient (`Int.max` when the
    /// product overflows; such a shape fails validation).
    public var logitCount: Int { Self.saturatingProduct([images, classes, height, width]) }

    /// The product of non-negative factors, `Int.max` on overflow, 0 if any factor is negative.
    static func saturatingProduct(_ factors: [Int]) -> Int {
        var total = 1
        for f in factors {
            if f < 0 { return 0 }
            let (p, overflow) = total.multipliedReportingOverflow(by: f)
            if overflow { return .max }
            total = p
        }
        return total
    }

    public var description: String {
        "\(images)×\(classes)×\(height)×\(width)" + (logitLayout == .channelsLast ? " (channels-last)" : "")
    }

    /// Checks every dimension, and that the element counts fit in `Int`.
    func validate(argument: @autoclosure () -> String = "shape", requiresClasses: Bool = true) throws {
        if images < 1 {
            throw HardPixelMiningError.invalidDimension(argument: "\(argument()).images", value: images, requirement: ">= 1")
        }
        if requiresClasses && classes < 2 {
            throw HardPixelMiningError.invalidDimension(argument: "\(argument()).classes", value: classes, requirement: ">= 2")
        }
        if height < 1 {
            throw HardPixelMiningError.invalidDimension(argument: "\(argument()).height", value: height, requirement: ">= 1")
        }
        if width < 1 {
            throw HardPixelMiningError.invalidDimension(argument: "\(argument()).width", value: width, requirement: ">= 1")
        }
        // Reject shapes whose element count would overflow or exceed 2^40 (the error names the
        // dimensions, never a wrapped product); class indices must fit in Int32.
        if requiresClasses && classes > Int(Int32.max) {
            throw HardPixelMiningError.invalidDimension(
                argument: "\(argument()).classes", value: classes, requirement: "<= \(Int32.max)")
        }
        let factors = requiresClasses ? [images, classes, height, width] : [images, height, width]
        _ = try Check.product(factors, argument(), "a shape of at most 2^40 elements")
    }
}
