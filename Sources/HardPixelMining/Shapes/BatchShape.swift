/// The shape of a batch's logits: `images` × `classes` × `height` × `width` (N·C·H·W).
///
/// Logits and their gradient are laid out as ``logitLayout`` says: NCHW by default, or NHWC.
/// The batch's per-pixel maps (labels, depths, weights) are N·H·W in either case: their shape
/// is ``pixelMap``. Entry points that read logits, or that bound labels by the class count,
/// take a `BatchShape`; those that read maps only take a ``PixelMapShape``.
///
/// ```swift
/// let shape = BatchShape(images: 8, classes: 40, height: 480, width: 640)
/// // shape.logitCount == 98_304_000; shape.pixelMap == PixelMapShape(images: 8, height: 480, width: 640)
/// ```
///
/// PyTorch spells it as a logit tensor's `(N, C, H, W)` size and its memory format.
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

    /// The batch whose per-pixel maps have the shape `pixelMap`, with `classes` logit planes per image.
    public init(_ pixelMap: PixelMapShape, classes: Int, logitLayout: LogitLayout = .channelsFirst) {
        self.init(images: pixelMap.images, classes: classes, height: pixelMap.height, width: pixelMap.width,
                  logitLayout: logitLayout)
    }

    /// The shape of the batch's per-pixel maps: N·H·W.
    public var pixelMap: PixelMapShape { PixelMapShape(images: images, height: height, width: width) }

    /// H · W (`Int.max` when the product overflows; such a shape fails validation).
    public var pixelsPerImage: Int { pixelMap.pixelsPerImage }
    /// N · H · W: the element count of labels, depths and per-pixel maps (`Int.max` when the
    /// product overflows; such a shape fails validation).
    public var pixelCount: Int { pixelMap.pixelCount }
    /// N · C · H · W: the element count of the logits and their gradient (`Int.max` when the
    /// product overflows; such a shape fails validation).
    public var logitCount: Int { saturatingProduct([images, classes, height, width]) }

    public var description: String {
        "\(images)×\(classes)×\(height)×\(width)" + (logitLayout == .channelsLast ? " (channels-last)" : "")
    }

    /// Checks every dimension, and that the element counts fit in `Int`.
    func validate(argument: @autoclosure () -> String = "shape", minimumImages: Int = 1) throws {
        if images < minimumImages {
            throw HardPixelMiningError.invalidDimension(
                argument: "\(argument()).images", value: images, requirement: ">= \(minimumImages)")
        }
        if classes < 2 {
            throw HardPixelMiningError.invalidDimension(argument: "\(argument()).classes", value: classes, requirement: ">= 2")
        }
        try pixelMap.validateDimensions(argument: argument(), minimumImages: minimumImages)
        // Reject shapes whose element count would overflow or exceed 2^40 (the error names the
        // dimensions, never a wrapped product); class indices must fit in Int32.
        if classes > Int(Int32.max) {
            throw HardPixelMiningError.invalidDimension(
                argument: "\(argument()).classes", value: classes, requirement: "<= \(Int32.max)")
        }
        // At least one image's worth: a data-parallel rank may hold no image, and its shape
        // must still describe images the other ranks can hold (no product wraps).
        _ = try Check.product(Swift.max(1, images), classes, height, width, argument(), "a shape of at most 2^40 elements")
    }
}
