/// Everything that defines a hard-pixel-mining objective:
///
///     L = L_seg + α L_dep + β(e) L_R + γ L_Z          (Eq. 6, L_HPM)
///     L = L_seg + α L_dep + β(e) L̂_R + γ L̂_Z          (Eq. 10, L_T, with `pacing`)
///
/// A term whose weight is zero at every epoch is not computed and reports 0.
/// Every row of the paper's Table II is a configuration; see ``AblationRow``.
public struct ObjectiveConfiguration: Sendable, Hashable {
    /// The cross-entropy target convention (the paper: `on = 0.9`).
    public var smoothing: LabelSmoothing = .paperDefault
    /// The label of pixels that take no part in any term (default 255).
    public var ignoreLabel: Int32 = 255
    /// Class weights `w_j` (C finite values in 0...1e6, PyTorch's `weight=`) on the
    /// segmentation terms, or nil for none: each pixel's ce is class-weighted (see
    /// ``Reduction``) and L_seg, L_R and L_Z divide by Σ w_label instead of n.
    public var classWeights: [Float]? = nil
    /// How the segmentation terms' per-pixel losses are reduced (default: the paper's
    /// per-image mean).
    public var reduction: Reduction = .perImageMean
    /// α, the weight of the scale-invariant log-depth loss (the paper: 1).
    public var depthWeight: Double = 1
    /// ρ, the scale-invariance of the depth loss (default 0.5; 0 is MSE, 1 is Eq. 2).
    public var scaleInvariance: Double = 0.5
    /// The form of the depth term α weighs: the paper's per-image L_dep (default) or
    /// BTS/AdaBins SILog pooled over the batch.
    public var depthTerm: DepthTerm = .scaleInvariant
    /// β, the weight of the DPE-weighted loss (the paper: 0 before epoch 10, then 10).
    public var depthPredictionErrorWeight: WeightSchedule = .paperDepthPredictionError
    /// γ, the weight of the DSE-weighted loss (the paper: 1).
    public var segmentationErrorWeight: Double = 1
    /// The spatial grid of the depth-dependent local regions (the paper: 8 × 8).
    public var grid: RegionGrid = .paper
    /// Valid depth range and bin width (the paper: 1...256, width 10).
    public var depthBinning: DepthBinning = .paper
    /// Self-paced pacing of the hard-pixel terms; `nil` for L_HPM, set for L_T.
    public var pacing: SelfPacedPacing? = nil
    /// Pace the segmentation term itself by its per-pixel loss (Table II's "L_seg with SPL").
    /// Requires `pacing`.
    public var pacesSegmentation: Bool = false
    /// Also propagate `β · sign(R_i) · ce_i / n` into the depth gradient (off in the paper,
    /// which treats the weights as constants).
    public var propagatesDepthPredictionErrorToDepth: Bool = false
    /// Focal modulation of every labelled pixel's loss, `α_label (1 − p_t)^γ`, or nil.
    public var focal: FocalModulation? = nil
    /// PolyLoss-1's ε: each labelled pixel's loss gains `ε (1 − p_t)` (0: none; 0...1000).
    public var polyEpsilon: Double = 0
    /// A caller's per-pixel map as an additive term of the pixel weight, or nil. The map itself
    /// is an argument of ``HardPixelMiningObjective``'s `evaluate`.
    public var pixelWeightMap: PixelWeightMapTerm? = nil

    public init() {}

    /// L_HPM with the paper's hyper-parameters (Eq. 6).
    public static let paper = ObjectiveConfiguration()

    /// L_T, the paper's full objective with self-paced pacing over `totalEpochs` (Eq. 10).
    public static func paperPaced(totalEpochs: Double) -> ObjectiveConfiguration {
        var c = ObjectiveConfiguration()
        c.pacing = SelfPacedPacing(totalEpochs: totalEpochs)
        return c
    }

    /// Plain label-smoothed cross-entropy, L_seg.
    public static let segmentationOnly: ObjectiveConfiguration = {
        var c = ObjectiveConfiguration()
        c.depthWeight = 0
        c.depthPredictionErrorWeight = .constant(0)
        c.segmentationErrorWeight = 0
        return c
    }()

    /// The configuration of one row of the paper's Table II.
    public static func ablation(_ row: AblationRow, totalEpochs: Double) -> ObjectiveConfiguration {
        var c = ObjectiveConfiguration.segmentationOnly
        switch row {
        case .segmentation:
            break
        case .segmentationWithPacing:
            c.pacing = SelfPacedPacing(totalEpochs: totalEpochs)
            c.pacesSegmentation = true
        case .withDepth:
            c.depthWeight = 1
        case .withDepthPredictionError:
            c.depthWeight = 1
            c.depthPredictionErrorWeight = .paperDepthPredictionError
        case .withSegmentationError:
            c.segmentationErrorWeight = 1
        case .hardPixelMiningGlobal:
            c = .paper
            c.grid = .global
        case .hardPixelMiningPerPixel:
            c = .paper
            c.grid = .perPixel
        case .hardPixelMining:
            c = .paper
        case .paced:
            c = .paperPaced(totalEpochs: totalEpochs)
        }
        return c
    }

    /// Whether the depth loss is computed.
    var usesDepthLoss: Bool { depthWeight != 0 }
    /// SILog's parameters when the depth term is pooled SILog and computed.
    var pooledDepthTerm: SILog? {
        if usesDepthLoss, case .silog(let s) = depthTerm { return s }
        return nil
    }
    /// Whether the DPE-weighted term is computed.
    var usesDepthPredictionError: Bool { !depthPredictionErrorWeight.isAlwaysZero }
    /// Whether the DSE-weighted term is computed.
    var usesSegmentationError: Bool { segmentationErrorWeight != 0 }
    /// Whether predicted log-depth is read (L_dep or L_R is used).
    public var needsPredictedDepth: Bool { usesDepthLoss || usesDepthPredictionError }
    /// Whether ground-truth depth is read (L_dep, L_R or L_Z is used). Without it the
    /// depth counts of ``ImageSums`` stay 0.
    public var needsGroundTruthDepth: Bool { needsPredictedDepth || usesSegmentationError }

    /// Checks every hyper-parameter, and the DSE regions against the image size of `shape`.
    ///
    /// Ranges: ρ in 0...1; α, γ and both values of β finite, >= 0 and <= 1e6 (so that no
    /// accepted finite input yields an infinite value); the grid and binning as their own
    /// `validate` states.
    func validate(for shape: BatchShape, argument: @autoclosure () -> String = "configuration") throws {
        try validateParameters(classCount: shape.classes, argument: argument())
        if usesSegmentationError {
            try grid.validate(
                binning: depthBinning, height: shape.height, width: shape.width, argument: "\(argument()).grid")
        }
    }

    /// Every check that needs no shape (with `classCount`, the class weights' and α's counts too).
    func validateParameters(classCount: Int? = nil, argument: @autoclosure () -> String = "configuration") throws {
        try smoothing.validate(argument: "\(argument()).smoothing")
        try validateClassWeights(classWeights, classCount: classCount ?? classWeights?.count ?? 0, "\(argument()).classWeights")
        try Check.weight(depthWeight, "\(argument()).depthWeight")
        try Check.parameter(scaleInvariance, "\(argument()).scaleInvariance", "in 0...1", { (0...1).contains($0) })
        if case .silog(let silog) = depthTerm { try silog.validate(argument: "\(argument()).depthTerm") }
        try depthPredictionErrorWeight.validate(argument: "\(argument()).depthPredictionErrorWeight")
        try Check.weight(segmentationErrorWeight, "\(argument()).segmentationErrorWeight")
        try depthBinning.validate(argument: "\(argument()).depthBinning")
        try grid.validate(argument: "\(argument()).grid")
        try pacing?.validate(argument: "\(argument()).pacing")
        if pacesSegmentation && pacing == nil {
            throw HardPixelMiningError.invalidSetting(
                argument: "\(argument()).pacesSegmentation", value: "true", requirement: "used together with pacing")
        }
        try focal?.validate(classCount: classCount ?? focal?.classAlpha?.count ?? 0, argument: "\(argument()).focal")
        try FocalModulation.validate(polyEpsilon: polyEpsilon, argument: "\(argument()).polyEpsilon")
        if let term = pixelWeightMap {
            try Check.weight(term.coefficient, "\(argument()).pixelWeightMap.coefficient")
            if term.paced && pacing == nil {
                throw HardPixelMiningError.invalidSetting(
                    argument: "\(argument()).pixelWeightMap.paced", value: "true", requirement: "used together with pacing")
            }
        }
    }

    /// Whether focal or PolyLoss-1 modulates the per-pixel loss (which needs logits).
    var modulatesLoss: Bool { focal != nil || polyEpsilon != 0 }

    /// The engine's description of this configuration for `shape` at `epoch` (validated), with
    /// the caller's map when ``pixelWeightMap`` is set. The modulation's α is borrowed for the
    /// call, so the plan lives only inside `body`.
    func withPlan<R>(
        shape: BatchShape, epoch: Double, pixelWeightMap map: UnsafePointer<Float>? = nil,
        _ body: (WeightingPlan) throws -> R
    ) rethrows -> R {
        try focal.withModulation(polyEpsilon: polyEpsilon) { modulation in
            let paced = pacing != nil
            let plan = WeightingPlan(
                ignoreLabel: ignoreLabel, reduction: reduction, modulation: modulation,
                depthPredictionError: usesDepthPredictionError
                    ? AdditiveTerm(coefficient: depthPredictionErrorWeight.value(atEpoch: epoch), paced: paced) : nil,
                segmentationError: usesSegmentationError ? AdditiveTerm(coefficient: segmentationErrorWeight, paced: paced) : nil,
                pixelWeightMap: pixelWeightMap.map { AdditiveTerm(coefficient: $0.coefficient, paced: $0.paced) },
                pixelWeightMapValues: pixelWeightMap == nil ? nil : map,
                pacing: pacing, epoch: epoch, pacesSegmentation: pacesSegmentation,
                depthWeight: depthWeight, scaleInvariance: scaleInvariance, pooledDepth: pooledDepthTerm,
                propagatesDepthPredictionError: propagatesDepthPredictionErrorToDepth,
                grid: grid.dimensions(height: shape.height, width: shape.width), binning: depthBinning)
            return try body(plan)
        }
    }
}

/// The rows of the paper's Table II (ablation on NYU-Depth v2).
public enum AblationRow: String, Sendable, Hashable, CaseIterable {
    /// L_seg.
    case segmentation = "L_seg"
    /// L_seg with self-paced learning on the per-pixel loss.
    case segmentationWithPacing = "L_seg + SPL"
    /// L_seg + α L_dep.
    case withDepth = "L_seg + αL_dep"
    /// L_seg + α L_dep + β L_R.
    case withDepthPredictionError = "L_seg + αL_dep + βL_R"
    /// L_seg + γ L_Z.
    case withSegmentationError = "L_seg + γL_Z"
    /// L_HPM with one region per depth bin (m = 1).
    case hardPixelMiningGlobal = "L_HPM (m = 1)"
    /// L_HPM with one cell per pixel (m = w × h).
    case hardPixelMiningPerPixel = "L_HPM (m = w × h)"
    /// L_HPM with the paper's 8 × 8 grid.
    case hardPixelMining = "L_HPM (m = 8 × 8)"
    /// L_T: L_HPM with self-paced pacing.
    case paced = "L_T"
}
