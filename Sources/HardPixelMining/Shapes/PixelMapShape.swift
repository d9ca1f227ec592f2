/// The shape of per-pixel maps: `images` × `height` × `width` (N·H·W), one value per pixel,
/// image after image, row after row.
///
/// Labels, depths, depth gradients, weight maps and pixel losses have this shape. Entry points
/// that read only such maps (the depth losses, side-output resampling, the mixing
/// augmentations) take a `PixelMapShape`; those that read logits, or bound labels by the class
/// count, take a ``BatchShape``, whose ``BatchShape/pixelMap`` is its maps' shape.
///
/// ```swift
/// let maps = PixelMapShape(images: 8, height: 480, width: 640)
/// // maps.pixelCount == 2_457_600, maps.pixelsPerImage == 307_200
/// ```
///
/// PyTorch spells it as a label tensor's `(N, H, W)` size.
public struct PixelMapShape: Sendable, Hashable, CustomStringConvertible {
    /// N, the number of images.
    public var images: Int
    /// H, the number of pixel rows.
    public var height: Int
    /// W, the number of pixel columns.
    public var width: Int

    public init(images: Int, height: Int, width: Int) {
        self.images = images
        self.height = height
        self.width = width
    }

    /// H · W (`Int.max` when the product overflows; such a shape fails validation).
    public var pixelsPerImage: Int { saturatingProduct([height, width]) }
    /// N · H · W: the element count of a map (`Int.max` when the product overflows; such a
    /// shape fails validation).
    public var pixelCount: Int { saturatingProduct([images, height, width]) }

    public var description: String { "\(images)×\(height)×\(width)" }

    /// Checks every dimension, and that the element count fits (at most 2^40).
    func validate(argument: @autoclosure () -> String = "shape", minimumImages: Int = 1) throws {
        try validateDimensions(argument: argument(), minimumImages: minimumImages)
        // At least one image's worth: a data-parallel rank may hold no image, and its shape
        // must still describe images the other ranks can hold (no product wraps).
        _ = try Check.product(Swift.max(1, images), height, width, argument(), "a shape of at most 2^40 elements")
    }

    /// N, H and W at least 1, each named in the error.
    /// (A rank of a data-parallel call may hold no image: `minimumImages` 0.)
    func validateDimensions(argument: @autoclosure () -> String, minimumImages: Int = 1) throws {
        if images < minimumImages {
            throw HardPixelMiningError.invalidDimension(
                argument: "\(argument()).images", value: images, requirement: ">= \(minimumImages)")
        }
        if height < 1 {
            throw HardPixelMiningError.invalidDimension(argument: "\(argument()).height", value: height, requirement: ">= 1")
        }
        if width < 1 {
            throw HardPixelMiningError.invalidDimension(argument: "\(argument()).width", value: width, requirement: ">= 1")
        }
    }
}

/// The product of non-negative factors, `Int.max` on overflow, 0 if any factor is negative.
func saturatingProduct(_ factors: [Int]) -> Int {
    var total = 1
    for f in factors {
        if f < 0 { return 0 }
        let (p, overflow) = total.multipliedReportingOverflow(by: f)
        if overflow { return .max }
        total = p
    }
    return total
}
