/// The sums and counts of one image from which every term follows.
///
/// A data-parallel trainer gathers these per image (in image order) from its
/// workers and calls ``ObjectiveResult/init(combining:configuration:epoch:)``:
/// the result is bitwise the value one machine computes for the whole batch.
public struct ImageSums: Sendable, Hashable {
    /// n, the pixels with a valid label.
    public var labelledPixels = 0
    /// nd, the pixels with a valid ground-truth depth.
    public var depthPixels = 0
    /// With class weights: Σ w_label over the labelled pixels, the divisor of the image's
    /// segmentation terms in place of n (nil without class weights).
    public var labelWeightSum: Double? = nil
    /// The pixels with both (where the hard-pixel weights live).
    public var eligiblePixels = 0
    /// Σ ce over labelled pixels (weighted by per-pixel weights or the pacing mask when configured;
    /// over the mined pixels with ``PixelMining``).
    public var crossEntropySum = 0.0
    /// With ``PixelMining``: how many pixels were mined; L_seg divides by it instead of n.
    public var minedPixels: Int? = nil
    /// With a batch-wide reduction (``Reduction/mean``, ``Reduction/sum``,
    /// ``PixelMining/batchTopFraction(_:)``, ``PixelMining/ohem(threshold:minimumKept:averageNonIgnored:)``):
    /// the batch's divisor, the same in every image (1 for `sum`). The image's L_seg, L_R and
    /// L_Z are then its shares `Σ / divisor`, and the batch's terms the sums of the shares.
    public var pooledDivisor: Double? = nil
    /// Σ R over valid-depth pixels.
    public var residualSum = 0.0
    /// Σ R² over valid-depth pixels.
    public var squaredResidualSum = 0.0
    /// Σ wR · ce over the eligible pixels that count (paced or not).
    public var depthPredictionErrorSum = 0.0
    /// Σ wZ · ce over the eligible pixels that count (paced or not).
    public var segmentationErrorSum = 0.0
    /// The learning pace η of the DPE weights, when paced and the image has eligible pixels.
    public var depthPredictionErrorPace: Double? = nil
    /// The learning pace η of the DSE weights, when paced and the image has eligible pixels.
    public var segmentationErrorPace: Double? = nil
    /// The learning pace η of the per-pixel loss, when the segmentation term is paced.
    public var segmentationPace: Double? = nil
    /// The eligible pixels whose DPE weight counted (all of them unpaced; those under η paced).
    public var countedDepthPredictionErrorPixels = 0
    /// The eligible pixels whose DSE weight counted (all of them unpaced; those under η paced).
    public var countedSegmentationErrorPixels = 0
    /// Σ map · loss over the labelled pixels where a caller's map term counts (paced or not).
    public var pixelWeightMapSum = 0.0
    /// The largest valid ground-truth depth of the image, when the DSE term reads depth (nil
    /// otherwise, or without a valid pixel); see ``ObjectiveResult/notices``.
    public var largestValidDepth: Float? = nil
    /// The learning pace η of a caller's map, when that term is paced and the image has labelled pixels.
    public var pixelWeightMapPace: Double? = nil
    /// The labelled pixels whose caller's map counted.
    public var countedPixelWeightMapPixels = 0

    public init() {}

    /// Throws for the first count or sum that no evaluation produces (see
    /// ``ObjectiveResult/init(combining:configuration:epoch:)``).
    func validate(argument: String) throws {
        func count(_ value: Int, _ name: String, atMost bound: Int = .max) throws {
            if value < 0 || value > bound {
                throw HardPixelMiningError.invalidDimension(
                    argument: "\(argument).\(name)", value: value, requirement: "in 0...\(bound)")
            }
        }
        try count(labelledPixels, "labelledPixels")
        try count(depthPixels, "depthPixels")
        try count(eligiblePixels, "eligiblePixels", atMost: Swift.min(labelledPixels, depthPixels))
        try count(countedDepthPredictionErrorPixels, "countedDepthPredictionErrorPixels", atMost: eligiblePixels)
        try count(countedSegmentationErrorPixels, "countedSegmentationErrorPixels", atMost: eligiblePixels)
        try count(countedPixelWeightMapPixels, "countedPixelWeightMapPixels", atMost: labelledPixels)
        if let mined = minedPixels { try count(mined, "minedPixels", atMost: labelledPixels) }
        let bound = 1e100
        func sum(_ value: Double?, _ name: String, nonNegative: Bool = true) throws {
            guard let value else { return }
            try Check.parameter(
                value, "\(argument).\(name)", nonNegative ? "finite, in 0...1e100" : "finite, in -1e100...1e100",
                { abs($0) <= bound && (!nonNegative || $0 >= 0) })
        }
        try sum(labelWeightSum, "labelWeightSum")
        try sum(crossEntropySum, "crossEntropySum")
        try sum(pooledDivisor, "pooledDivisor")
        try sum(residualSum, "residualSum", nonNegative: false)
        try sum(squaredResidualSum, "squaredResidualSum")
        try sum(depthPredictionErrorSum, "depthPredictionErrorSum")
        try sum(segmentationErrorSum, "segmentationErrorSum")
        try sum(pixelWeightMapSum, "pixelWeightMapSum")
        try sum(depthPredictionErrorPace, "depthPredictionErrorPace", nonNegative: false)
        try sum(segmentationErrorPace, "segmentationErrorPace", nonNegative: false)
        try sum(segmentationPace, "segmentationPace", nonNegative: false)
        try sum(pixelWeightMapPace, "pixelWeightMapPace", nonNegative: false)
    }

    /// The divisor of the image's own segmentation terms: Σ w_label with class weights, else n.
    var segmentationCount: Double { crossEntropy.divisor }

    /// The cross-entropy's part of the sums.
    var crossEntropy: CrossEntropySums {
        var s = CrossEntropySums()
        s.labelledPixels = labelledPixels
        s.labelWeightSum = labelWeightSum
        s.crossEntropySum = crossEntropySum
        s.minedPixels = minedPixels
        s.pooledDivisor = pooledDivisor
        return s
    }

    /// Sums with `s` as their cross-entropy's part and nothing else.
    init(crossEntropy s: CrossEntropySums) {
        labelledPixels = s.labelledPixels
        labelWeightSum = s.labelWeightSum
        crossEntropySum = s.crossEntropySum
        minedPixels = s.minedPixels
        pooledDivisor = s.pooledDivisor
    }

    /// The depth loss's part of the sums.
    var depth: DepthSums {
        var s = DepthSums()
        s.depthPixels = depthPixels
        s.residualSum = residualSum
        s.squaredResidualSum = squaredResidualSum
        return s
    }
}

/// The terms of the objective for one image, or their means over the batch.
public struct ObjectiveTerms: Sendable, Hashable {
    /// L_seg = Σ ce / n (0 when no pixel is labelled), or Σ ce / (mined pixels) when mining.
    public var segmentation = 0.0
    /// L_dep = Σ R² / nd − ρ (Σ R)² / nd² (0 without valid depth or when α = 0).
    public var depth = 0.0
    /// L_R (or L̂_R when paced) = Σ wR ce / n.
    public var depthPredictionError = 0.0
    /// L_Z (or L̂_Z when paced) = Σ wZ ce / n.
    public var segmentationError = 0.0
    /// L_M = Σ map · ce / n, a caller's map term (``PixelWeightMapTerm``); 0 without one.
    public var pixelWeightMap = 0.0
    /// L_seg + α L_dep + β(e) L_R + γ L_Z (+ c L_M).
    public var objective = 0.0

    public init() {}

    /// The terms of one image from its sums (the engine's; public callers combine sums with
    /// ``ObjectiveResult/init(combining:configuration:epoch:)``, which validates them).
    package init(_ s: ImageSums, configuration c: ObjectiveConfiguration, epoch: Double) {
        segmentation = s.crossEntropy.loss
        let n = s.pooledDivisor ?? s.segmentationCount
        if n > 0 {
            depthPredictionError = s.depthPredictionErrorSum / n
            segmentationError = s.segmentationErrorSum / n
            pixelWeightMap = s.pixelWeightMapSum / n
        }
        if let silog = c.pooledDepthTerm {
            depth = silog.value(pixels: s.depthPixels, sum: s.residualSum, squaredSum: s.squaredResidualSum)
        } else if c.usesDepthLoss {
            depth = ScaleInvariantDepthLoss.value(s.depth, scaleInvariance: c.scaleInvariance)
        }
        objective = c.combine(self, epoch: epoch)
    }
}

/// What one evaluation of the objective returns.
public struct ObjectiveResult: Sendable, Hashable {
    /// The batch objective: the mean over images of each image's objective — or, with a
    /// batch-wide term (``Reduction/mean`` or `sum`, pooled SILog, batch mining),
    /// `L_seg + α L_dep + β L_R + γ L_Z` from the batch's terms.
    public var value: Double { batch.objective }
    /// Each term's mean over the images; a batch-wide term (pooled SILog, batch mining) is
    /// the batch's own value.
    public private(set) var batch: ObjectiveTerms
    /// Each image's sums and counts, for data-parallel reduction.
    public private(set) var sums: [ImageSums]
    /// The configuration the terms were combined with.
    public private(set) var configuration: ObjectiveConfiguration
    /// The epoch the terms were combined at.
    public private(set) var epoch: Double

    /// What the call could not see as an error but a trainer would want to know: a β switch
    /// that never comes within the pacing's epochs, or depth whose every valid pixel lies in the
    /// binning's first bin (depth in metres under the paper's 1...256 binning). Empty when
    /// nothing is odd.
    public var notices: [ObjectiveNotice] {
        var out: [ObjectiveNotice] = []
        let beta = configuration.depthPredictionErrorWeight
        if let pacing = configuration.pacing, beta.initial == 0, beta.later != 0, beta.switchEpoch > pacing.totalEpochs {
            out.append(.depthPredictionErrorNeverSwitchesOn(switchEpoch: beta.switchEpoch, totalEpochs: pacing.totalEpochs))
        }
        let binning = configuration.depthBinning
        let largest = sums.compactMap(\.largestValidDepth).max()
        if let largest, binning.binCount > 1, Double(largest) < Double(binning.minimum) + Double(binning.binWidth) {
            out.append(.depthInFirstBin(largestValidDepth: largest, firstBinEnd: binning.minimum + binning.binWidth))
        }
        return out
    }

    /// The images without any valid ground-truth depth (0 when the configuration reads no
    /// depth): their depth terms are 0, so a batch where this is N gets no depth signal — often
    /// a sign of depth in other units than the binning's (see ``DepthBinning``).
    public var imagesWithoutDepth: Int {
        configuration.needsGroundTruthDepth ? sums.count { $0.depthPixels == 0 } : 0
    }

    /// β(e), the DPE weight at the result's epoch.
    public var depthPredictionErrorWeight: Double { configuration.depthPredictionErrorWeight.value(atEpoch: epoch) }

    /// Each image's terms.
    public var images: [ObjectiveTerms] {
        sums.map { ObjectiveTerms($0, configuration: configuration, epoch: epoch) }
    }

    /// Combines per-image sums, in image order, exactly as a single evaluation does. With
    /// ``Reduction/mean`` the batch's divisor is formed again from the gathered sums, so
    /// that workers may each report their own images.
    ///
    /// - Throws: ``HardPixelMiningError`` naming the first bad sum (`sums[k].field`): a count
    ///   below 0 or inconsistent with the others (eligible or counted pixels above the labelled
    ///   or valid-depth ones), a non-finite sum, or one beyond ±1e100 (the package's own sums
    ///   stay below 1e96), so that every combined term is finite; or a configuration or epoch
    ///   outside their ranges.
    public init(combining sums: [ImageSums], configuration: ObjectiveConfiguration, epoch: Double) throws {
        try configuration.validateParameters()
        try Check.parameter(epoch, "epoch", "finite and >= 0", { $0 >= 0 })
        for (k, s) in sums.enumerated() { try s.validate(argument: "sums[\(k)]") }
        self.init(validCombining: sums, configuration: configuration, epoch: epoch)
    }

    /// ``init(combining:configuration:epoch:)`` for sums the engine produced.
    init(validCombining sums: [ImageSums], configuration: ObjectiveConfiguration, epoch: Double) {
        var sums = sums
        if let divisor = Reduction.pooledDivisor(configuration.reduction, sums.lazy.map(\.segmentationCount)) {
            for k in sums.indices { sums[k].pooledDivisor = divisor }
        }
        self.sums = sums
        self.configuration = configuration
        self.epoch = epoch
        batch = ObjectiveTerms()
        for s in sums {
            let t = ObjectiveTerms(s, configuration: configuration, epoch: epoch)
            batch.segmentation += t.segmentation
            batch.depth += t.depth
            batch.depthPredictionError += t.depthPredictionError
            batch.segmentationError += t.segmentationError
            batch.pixelWeightMap += t.pixelWeightMap
            batch.objective += t.objective
        }
        let n = Double(Swift.max(1, sums.count))
        let pooledSegmentation = sums.first?.pooledDivisor != nil
        if !pooledSegmentation {
            batch.segmentation /= n
            batch.depthPredictionError /= n
            batch.segmentationError /= n
            batch.pixelWeightMap /= n
        }
        batch.depth /= n
        batch.objective /= n
        let silog = configuration.pooledDepthTerm
        if let silog {
            let pooled = DepthSums.pooled(sums.lazy.map(\.depth))
            batch.depth = silog.value(pixels: pooled.depthPixels, sum: pooled.residualSum, squaredSum: pooled.squaredResidualSum)
        }
        if pooledSegmentation || silog != nil {
            batch.objective = configuration.combine(batch, epoch: epoch)
        }
    }
}

extension ObjectiveConfiguration {
    /// The objective from its terms: `L_seg + α L_dep + β(e) L_R + γ L_Z + c L_M` (the one place
    /// the terms are added, for an image and for the batch).
    func combine(_ t: ObjectiveTerms, epoch: Double) -> Double {
        var value = t.segmentation + depthWeight * t.depth
            + depthPredictionErrorWeight.value(atEpoch: epoch) * t.depthPredictionError
            + segmentationErrorWeight * t.segmentationError
        if let map = pixelWeightMap { value += map.coefficient * t.pixelWeightMap }
        return value
    }
}

/// Something odd about a call that is not an error (``ObjectiveResult/notices``).
public enum ObjectiveNotice: Sendable, Hashable, CustomStringConvertible {
    /// β is 0 before `switchEpoch`, which lies beyond the pacing's `totalEpochs`: L_R never
    /// counts during the planned training.
    case depthPredictionErrorNeverSwitchesOn(switchEpoch: Double, totalEpochs: Double)
    /// Every valid ground-truth depth of the batch is below `firstBinEnd` (the binning's
    /// minimum plus one bin width), so the DSE regions are grid cells alone: depth in metres
    /// under the paper's binning for NYU-v2's raw scale (1...256) looks like this.
    case depthInFirstBin(largestValidDepth: Float, firstBinEnd: Float)

    public var description: String {
        switch self {
        case .depthPredictionErrorNeverSwitchesOn(let switchEpoch, let totalEpochs):
            return "β switches on at epoch \(switchEpoch), after the pacing's \(totalEpochs) epochs: L_R never counts"
        case .depthInFirstBin(let largest, let end):
            return "every valid depth is below \(end) (largest \(largest)): all in the first depth bin; "
                + "is the depth in other units than the binning's (see DepthBinning.metric)?"
        }
    }
}
