/// DepthMix as Hoyer et al.'s code computes it ("Three Ways to Improve Semantic Segmentation
/// with Self-Supervised Depth Estimation", CVPR 2021; lhoyer/improving_segmentation_with_selfsupervised_depth:
/// `Trainer.generate_mix_mask`, mode "depthcomp", in train.py; `mix` in loader/transformsgpu.py;
/// margin and threshold in experiments.py).
///
/// From *disparity* (larger is closer), min–max normalised per image to [0, 1]
/// (`d̂ = (d − min) / (max − min)`):
///
///     M_k = [d̂_k ≥ d̂_p − margin] · [d̂_k ≥ foregroundThreshold]      p = partners[k]
///     x_mix,k = M_k x_k + (1 − M_k) x_p       (images, hard labels, soft targets alike)
///
/// Ties go to the image's own pixel. The paper's pairing is the batch rolled by one
/// (`partners[k] = (k + 1) mod N`, ``rolledPartners(count:)``), its margin 0.03 and threshold 0.
/// Soft targets are C×H×W class probabilities per image (the teacher's softmax, or one-hot
/// ground truth); their mixed argmax (the first largest; the ignore label where the largest
/// is 0) is the pseudo-label. Depth itself is not mixed here (``DepthMix`` is this package's
/// own extension that also mixes depth, from metric depth with ties to the partner).
///
/// An image whose disparity is one value normalises to 0 everywhere (the reference divides
/// by zero and gets NaN). Normalisation and comparisons run in Double.
public struct HoyerDepthMix: Sendable, Hashable {
    /// How far (in normalised disparity) an own pixel may lie behind its partner's and still be kept.
    public var margin: Double
    /// Own pixels with normalised disparity below this are never kept (`depthcomp_foreground_threshold`).
    public var foregroundThreshold: Double
    /// The label written where the mixed soft targets are all 0.
    public var ignoreLabel: Int32

    public init(margin: Double = 0.03, foregroundThreshold: Double = 0, ignoreLabel: Int32 = 255) {
        self.margin = margin
        self.foregroundThreshold = foregroundThreshold
        self.ignoreLabel = ignoreLabel
    }

    /// The paper's setting: margin 0.03, threshold 0.
    public static let paper = HoyerDepthMix()

    /// The paper's pairing: image k is mixed over image (k + 1) mod N.
    public static func rolledPartners(count: Int) -> [Int] {
        count > 0 ? (0..<count).map { ($0 + 1) % count } : []
    }

    /// What ``mix(disparity:shape:partners:images:channels:labels:softTargets:)`` returns; each
    /// field is nil when its input was not given.
    public struct Mixed: Sendable, Hashable {
        /// N·H·W masks M: true where image k's own pixel was kept.
        public var masks: [Bool]
        /// N·channels·H·W mixed images, NCHW.
        public var images: [Float]?
        /// N·H·W mixed hard labels.
        public var labels: [Int32]?
        /// N·C·H·W mixed soft targets (C = `shape.classes`).
        public var softTargets: [Float]?
        /// N·H·W argmax of the mixed soft targets (the ignore label where they are all 0).
        public var softTargetLabels: [Int32]?
    }

    /// Mixes every image k over `partners[k]` (default: the batch rolled by one).
    ///
    /// - Parameters:
    ///   - disparity: N·H·W finite disparities (any scale: each image is normalised).
    ///   - shape: N, H and W of the maps.
    ///   - images: N·channels·H·W values, NCHW.
    ///   - labels: N·H·W hard labels.
    ///   - softTargets: N·C·H·W finite class probabilities.
    ///   - classes: C of `softTargets`, at least 2; required with them, unused without.
    public func mix(
        disparity: [Float], shape: PixelMapShape, partners: [Int]? = nil, images: [Float]? = nil, channels: Int = 3,
        labels: [Int32]? = nil, softTargets: [Float]? = nil, classes: Int? = nil
    ) throws -> Mixed {
        try shape.validate()
        try Check.finite(margin, "margin")
        try Check.finite(foregroundThreshold, "foregroundThreshold")
        try Check.count(disparity.count, shape.pixelCount, "disparity")
        try disparity.withUnsafeBufferPointer { try Check.allFinite($0, "disparity") }
        let partners = partners ?? Self.rolledPartners(count: shape.images)
        try Check.permutation(partners, count: shape.images, "partners")
        if let images { try Check.images(images.count, channels: channels, shape: shape, "images") }
        if let labels { try Check.count(labels.count, shape.pixelCount, "labels") }
        if let softTargets {
            guard let classes, classes >= 2 else {
                throw HardPixelMiningError.invalidDimension(
                    argument: "classes", value: classes ?? 0, requirement: ">= 2 with softTargets")
            }
            let expected = try Check.product(
                shape.images, classes, shape.height, shape.width, "classes",
                "a class count whose N × C × H × W is at most 2^40")
            try Check.count(softTargets.count, expected, "softTargets")
            try softTargets.withUnsafeBufferPointer { try Check.allFinite($0, "softTargets") }
        }
        var out = Mixed(masks: DepthMixPass.hoyerMasks(
            disparity: disparity, shape: shape, partners: partners, margin: margin,
            foregroundThreshold: foregroundThreshold))
        if let images {
            out.images = DepthMixPass.select(images, channels: channels, shape: shape, partners: partners, masks: out.masks)
        }
        if let labels {
            out.labels = DepthMixPass.select(labels, channels: 1, shape: shape, partners: partners, masks: out.masks)
        }
        if let softTargets, let classes {
            let mixed = DepthMixPass.select(
                softTargets, channels: classes, shape: shape, partners: partners, masks: out.masks)
            out.softTargets = mixed
            out.softTargetLabels = DepthMixPass.argmax(mixed, shape: shape, classes: classes, ignoreLabel: ignoreLabel)
        }
        return out
    }
}
