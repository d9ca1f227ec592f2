/// DepthMix (Hoyer et al., "Three Ways to Improve Semantic Segmentation with
/// Self-Supervised Depth Estimation"): mixes two training images so that the pixels of
/// image `i` that stand in front of image `j` are pasted over `j`, respecting occlusion.
///
///     M = [D_i < D_j + ε]                          (per pixel, in Float)
///     x_mix = M·x_i + (1 − M)·x_j,  y_mix = M ? y_i : y_j,  D_mix = M ? D_i : D_j
///
/// Depth without a valid value (outside `minimum...maximum`, NaN) counts as infinitely
/// far: `M = valid(D_i) && (!valid(D_j) || D_i < D_j + ε)`. A data augmentation, not a
/// loss: nothing here is differentiated.
///
/// This is the package's own reading, from metric depth (smaller is closer) with ties to the
/// partner, and it also mixes depth. ``HoyerDepthMix`` follows the published code instead:
/// normalised disparity, a margin of 0.03, ties to the own image, soft targets.
public struct DepthMix: Sendable, Hashable {
    /// ε, the depth margin by which image `i` may stand behind `j` and still win.
    public var margin: Float
    /// Which depths are valid (bins are unused).
    public var depthBinning: DepthBinning

    public init(margin: Float = 0, depthBinning: DepthBinning = .paper) {
        self.margin = margin
        self.depthBinning = depthBinning
    }

    /// The mixed batch: image `k` is mixed over its partner `partners[k]`.
    public struct Mixed: Sendable, Hashable {
        /// N·channels·H·W pixel values, NCHW.
        public var images: [Float]
        /// N·H·W labels.
        public var labels: [Int32]
        /// N·H·W depths.
        public var depth: [Float]
        /// N·H·W masks M: true where image `k`'s own pixel was kept.
        public var masks: [Bool]
    }

    @inline(__always)
    func keepsOwnPixel(_ own: Float, _ partner: Float) -> Bool {
        depthBinning.isValid(own) && (!depthBinning.isValid(partner) || own < partner + margin)
    }

    /// M for one pair of depth maps of equal size.
    public func mask(depth: [Float], partnerDepth: [Float]) throws -> [Bool] {
        try validateParameters()
        try Check.count(partnerDepth.count, depth.count, "partnerDepth")
        return zip(depth, partnerDepth).map { keepsOwnPixel($0, $1) }
    }

    /// Mixes every image `k` of the batch with image `partners[k]` (a permutation of `0..<N`).
    ///
    /// - Parameters:
    ///   - images: N·channels·H·W values, NCHW (for example RGB, channels = 3).
    ///   - shape: N, H and W of the maps.
    public func mix(
        images: [Float], channels: Int, labels: [Int32], depth: [Float], shape: PixelMapShape, partners: [Int]
    ) throws -> Mixed {
        try shape.validate()
        try validateParameters()
        try Check.images(images.count, channels: channels, shape: shape, "images")
        try Check.count(labels.count, shape.pixelCount, "labels")
        try Check.count(depth.count, shape.pixelCount, "depth")
        try Check.permutation(partners, count: shape.images, "partners")
        return DepthMixPass.depthMix(
            self, images: images, channels: channels, labels: labels, depth: depth, shape: shape, partners: partners)
    }

    private func validateParameters() throws {
        try Check.finite(margin, "margin")
        try depthBinning.validate()
    }
}
