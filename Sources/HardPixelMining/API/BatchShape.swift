/// The shape of a batch: `images` × `classes` × `height` × `width`.
///
/// Logits are laid out NCHW (class planes of `height · width` contiguous pixels,
/// one image after another); labels, depths and per-pixel maps are NHW.
public struct BatchShape: Sendable, Hashable, CustomStringConvertible {
    /// N, the number of images.
    public var images: Int
    /// C, the number of classes (at least 2).
    public var classes: Int
    /// H, the number of pixel rows.
    public var height: Int
    /// W, the number of pixel columns.
    public var width: Int

    public init(images: Int, classes: Int, height: Int, width: Int) {
        self.images = images
        self.classes = classes
        self.height = height
        self.width = width
    }

    /// H · W.
    public var pixelsPerImage: Int { height * width }
    /// N · H · W: the element count of labels, depths and per-pixel maps.
    public var pixelCount: Int { images * height * width }
    /// N · C · H · W: the element count of the logits and their gradient.
    public var logitCount: Int { images * classes * height * width }

    public var description: String { "\(images)×\(classes)×\(height)×\(width)" }

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
        // Reject shapes whose element count would overflow, or whose class index would not fit in Int32.
        let (hw, o1) = height.multipliedReportingOverflow(by: width)
        let (nhw, o2) = hw.multipliedReportingOverflow(by: images)
        let (all, o3) = nhw.multipliedReportingOverflow(by: Swift.max(1, classes))
        if o1 || o2 || o3 || all > Int(Int32.max) * 64 || classes > Int(Int32.max) {
            throw HardPixelMiningError.invalidDimension(
                argument: argument(), value: all, requirement: "a shape whose element count fits in memory")
        }
    }
}
