import HardPixelMiningKernels
/// One additive term of a pixel's weight: `coefficient · w_i` wherever the term counts — every
/// pixel it lives on, or, `paced`, those whose `w_i` is below the image's learning pace.
struct AdditiveTerm {
    var coefficient: Double
    var paced: Bool
}

/// How each labelled pixel's loss is weighted: the engine's only description of the
/// hard-pixel objective, built once per call from the public configuration
/// (`ObjectiveConfiguration.plan(shape:epoch:)`), with every schedule already read at the epoch.
///
///     loss_i = m_i · (ce_i + ε q_i)                       (modulation: focal, PolyLoss-1)
///     W_i    = [ce counts] + Σ_t c_t w_t(i) [t counts]    (additive terms)
///     L      = Σ_i W_i loss_i / n  +  α L_dep
///
/// The additive terms are DPE (`wR = |R|` on eligible pixels), DSE (`wZ` from the region
/// table, on eligible pixels) and a caller's map (on labelled pixels). Each one's per-pixel
/// value, its sum and its gradient are formed in ``Kernels/weighPixels(count:constants:inputs:outputs:)``;
/// the modulation's in ``Kernels/modulate(loss:labelLogProbability:alpha:_:)``.
struct WeightingPlan {
    var ignoreLabel: Int32
    var reduction: Reduction
    /// The largest gradient coefficient (``Targets/coefficientLimit``).
    var coefficientLimit: Float = .greatestFiniteMagnitude / 4
    /// Focal and PolyLoss-1 on every labelled pixel's loss, or nil.
    var modulation: Modulation?
    var depthPredictionError: AdditiveTerm?
    var segmentationError: AdditiveTerm?
    var pixelWeightMap: AdditiveTerm?
    /// The caller's N·H·W map, when ``pixelWeightMap`` is set.
    var pixelWeightMapValues: UnsafePointer<Float>?
    /// The learning pace, when any term is paced, and the epoch it is read at.
    var pacing: SelfPacedPacing?
    var epoch: Double
    /// Whether the segmentation term itself is paced by its per-pixel loss.
    var pacesSegmentation: Bool
    /// α (0: no depth loss), ρ, and SILog's parameters when the depth term is pooled SILog.
    var depthWeight: Double
    var scaleInvariance: Double
    var pooledDepth: SILog?
    /// Whether `β · sign(R_i) · loss_i` also flows to the predicted depth.
    var propagatesDepthPredictionError: Bool
    /// The DSE regions: grid cells and depth bins.
    var grid: (rows: Int, columns: Int)
    var binning: DepthBinning

    var usesDepthLoss: Bool { depthWeight != 0 }
    var needsPredictedDepth: Bool { usesDepthLoss || depthPredictionError != nil }
    var needsGroundTruthDepth: Bool { needsPredictedDepth || segmentationError != nil }
    /// Whether any map or pace needs the per-image weighing; otherwise the cross-entropy's one
    /// pass computes the whole loss.
    var needsWeighing: Bool { needsGroundTruthDepth || pacesSegmentation || pixelWeightMap != nil }
    /// The DSE region table's counters for `images` images (0 without DSE): each image's band
    /// table in ``RegionTable/copies`` copies.
    func regionTableCount(images: Int) -> Int {
        segmentationError == nil ? 0 : images * RegionTable.counters(columns: grid.columns, bins: binning.binCount)
    }
}
