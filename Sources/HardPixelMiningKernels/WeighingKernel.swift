import CHardPixelMiningSupport

/// The per-image constants of the hard-pixel objective's per-pixel weighing (see
/// ``Kernels/weighPixels(count:constants:inputs:outputs:)``).
package struct WeighingConstants {
    package var ignoreLabel: Int32
    /// Whether depth is given (else hasDepth and the residuals are not read).
    package var usesDepth: Bool
    package var usesDepthPredictionError: Bool
    package var usesSegmentationError: Bool
    /// Whether a caller's map is an additive term (read from ``WeighingInputs/pixelWeightMap``).
    package var usesPixelWeightMap: Bool
    /// Whether the losses are modulated (focal, PolyLoss-1): the modulated loss, its factor and
    /// label factor are read, and the label coefficient written.
    package var modulated: Bool
    /// Whether the DPE term's gradient flows to the predicted depth.
    package var propagatesDepthPredictionError: Bool
    /// A pixel's term counts where its value is below its limit (±∞ for all or none).
    package var segmentationLimit: Double
    package var depthPredictionErrorLimit: Double
    package var segmentationErrorLimit: Double
    package var pixelWeightMapLimit: Double
    /// β, γ and c, the DPE, DSE and map coefficients.
    package var beta: Double
    package var gamma: Double
    package var mapCoefficient: Double
    /// The logit gradient's coefficient is `W_i · logitScale`, saturated at `coefficientLimit`.
    package var logitScale: Double
    package var coefficientLimit: Double
    /// ∂(α L_dep)/∂logD_i = depthScale · (R_i − shift) + offset where depth is valid.
    package var depthScale: Double
    package var shift: Double
    package var offset: Double

    package init(ignoreLabel: Int32, usesDepth: Bool, usesDepthPredictionError: Bool, usesSegmentationError: Bool, usesPixelWeightMap: Bool, modulated: Bool, propagatesDepthPredictionError: Bool, segmentationLimit: Double, depthPredictionErrorLimit: Double, segmentationErrorLimit: Double, pixelWeightMapLimit: Double, beta: Double, gamma: Double, mapCoefficient: Double, logitScale: Double, coefficientLimit: Double, depthScale: Double, shift: Double, offset: Double) {
        self.ignoreLabel = ignoreLabel
        self.usesDepth = usesDepth
        self.usesDepthPredictionError = usesDepthPredictionError
        self.usesSegmentationError = usesSegmentationError
        self.usesPixelWeightMap = usesPixelWeightMap
        self.modulated = modulated
        self.propagatesDepthPredictionError = propagatesDepthPredictionError
        self.segmentationLimit = segmentationLimit
        self.depthPredictionErrorLimit = depthPredictionErrorLimit
        self.segmentationErrorLimit = segmentationErrorLimit
        self.pixelWeightMapLimit = pixelWeightMapLimit
        self.beta = beta
        self.gamma = gamma
        self.mapCoefficient = mapCoefficient
        self.logitScale = logitScale
        self.coefficientLimit = coefficientLimit
        self.depthScale = depthScale
        self.shift = shift
        self.offset = offset
    }
}

/// The per-pixel inputs of one image's weighing (each of the image's length): its labels,
/// valid-depth flags and residuals R (read only with depth), wZ (read only when the term uses
/// it), ce (0 on ignored pixels), the caller's map, and when modulated the modulated loss, its
/// factor and its label factor (``Kernels/modulate(loss:labelLogProbability:alpha:_:)``).
package struct WeighingInputs {
    package var labels: UnsafePointer<Int32>, hasDepth: UnsafePointer<UInt8>, residual: UnsafePointer<Double>
    package var segmentationError: UnsafePointer<Float>, loss: UnsafePointer<Float>
    package var pixelWeightMap: UnsafePointer<Float>?
    package var modulatedLoss: UnsafePointer<Float>, factor: UnsafePointer<Float>, labelFactor: UnsafePointer<Float>

    package init(labels: UnsafePointer<Int32>, hasDepth: UnsafePointer<UInt8>, residual: UnsafePointer<Double>, segmentationError: UnsafePointer<Float>, loss: UnsafePointer<Float>, pixelWeightMap: UnsafePointer<Float>?, modulatedLoss: UnsafePointer<Float>, factor: UnsafePointer<Float>, labelFactor: UnsafePointer<Float>) {
        self.labels = labels
        self.hasDepth = hasDepth
        self.residual = residual
        self.segmentationError = segmentationError
        self.loss = loss
        self.pixelWeightMap = pixelWeightMap
        self.modulatedLoss = modulatedLoss
        self.factor = factor
        self.labelFactor = labelFactor
    }
}

/// Where one image's weighing writes (each of the image's length).
package struct WeighingOutputs {
    package var coefficient: UnsafeMutablePointer<Float>
    /// Written when modulated: the coefficient of `(p_j − [j = label])`.
    package var labelCoefficient: UnsafeMutablePointer<Float>
    package var depthGradient: UnsafeMutablePointer<Float>?
    /// Whether the depth gradient is added to (else overwritten).
    package var accumulates: Bool
    package var lossWeights: UnsafeMutablePointer<Float>?
    package var depthPredictionErrorMap: UnsafeMutablePointer<Float>?
    package var segmentationErrorMap: UnsafeMutablePointer<Float>?

    package init(coefficient: UnsafeMutablePointer<Float>, labelCoefficient: UnsafeMutablePointer<Float>, depthGradient: UnsafeMutablePointer<Float>?, accumulates: Bool, lossWeights: UnsafeMutablePointer<Float>?, depthPredictionErrorMap: UnsafeMutablePointer<Float>?, segmentationErrorMap: UnsafeMutablePointer<Float>?) {
        self.coefficient = coefficient
        self.labelCoefficient = labelCoefficient
        self.depthGradient = depthGradient
        self.accumulates = accumulates
        self.lossWeights = lossWeights
        self.depthPredictionErrorMap = depthPredictionErrorMap
        self.segmentationErrorMap = segmentationErrorMap
    }
}

/// One image's sums from its weighing.
package struct WeighingSums {
    /// Σ ce over the pixels whose segmentation term counts.
    package var crossEntropy = 0.0
    /// Σ wR · ce and Σ wZ · ce over the pixels whose DPE and DSE terms count.
    package var depthPredictionError = 0.0
    package var segmentationError = 0.0
    /// Σ map · loss over the pixels whose map term counts.
    package var pixelWeightMap = 0.0
    package var countedDepthPredictionErrorPixels = 0
    package var countedSegmentationErrorPixels = 0
    package var countedPixelWeightMapPixels = 0
}

extension Kernels {
    /// Per pixel `i` of one image, with `eligible_i` = labelled and with valid depth:
    /// - `wR_i = Float(|R_i|)`, counted where eligible and `wR_i < depthPredictionErrorLimit`;
    ///   `wZ_i` likewise against its limit; ce where labelled and below its limit;
    /// - the caller's `map_i`, counted where labelled and below its limit;
    /// - `A_i = [ce counts] + β wR_i [wR counts] + γ wZ_i [wZ counts] + c map_i [map counts]`;
    /// - with modulation, `ℓ_i` the modulated loss and `m_i` its factor (else `ℓ_i = ce_i`, `m_i = 1`):
    ///   `W_i = m_i A_i`, and the label coefficient `A_i · labelFactor_i · logitScale`;
    /// - the coefficient `W_i · logitScale`, saturated at `coefficientLimit` (so that
    ///   `coef · (p − y)` stays finite in the gradient kernel), and the loss weight `W_i`;
    /// - the depth gradient `depthScale · (R_i − shift) + offset` (0 without valid depth), plus
    ///   `β · sign(R_i) · ℓ_i · logitScale` where wR counts and propagates and `R_i ≠ 0`;
    /// - the maps `wR_i` and `wZ_i` where eligible (0 elsewhere);
    /// and the sums Σ ℓ, Σ wR · ℓ, Σ wZ · ℓ, Σ map · ℓ over the pixels whose terms count. (The
    /// segmentation pace compares the unmodulated ce.) A term that is not used adds +0 and a
    /// factor of 1 multiplies, so the values without them are bitwise those of the terms alone.
    ///
    /// Eight pixels at a time, without a branch per pixel (whether a pixel counts is data:
    /// the paces split pixels at random). Every test is taken in Float and Int32 lanes: wR, wZ,
    /// ce and the map are Floats, so `x < L` in Double is `x < L⁺` with `L⁺` the smallest
    /// Float ≥ L; `R ≠ 0` is `wR ≠ 0` (R is a Float minus a Double log, so a non-zero R is at
    /// least 2⁻¹⁴⁹); a term that does not count is a Float 0 before it is widened. The
    /// arithmetic is in Double lanes without masks, and the Double results are saturated
    /// after they are narrowed (rounding is monotone, so that is the same Float). So every
    /// per-pixel value is what the scalar formula gives in Double; an uncounted term adds ±0,
    /// which changes no sum. The sums are kept in eight lanes (lane `l` adds pixels
    /// `l, l + 8, …` in order) and the lanes added pairwise at the end, in a fixed order: the
    /// same for any thread count and any build.
    package static func weighPixels(
        count: Int, constants k: WeighingConstants, inputs x: WeighingInputs, outputs y: WeighingOutputs
    ) -> WeighingSums {
        typealias D = SIMD8<Double>
        typealias F = SIMD8<Float>
        typealias I = SIMD8<Int32>
        // Masks as Int32 lanes of all ones or zeros (``SIMD8/init(allOnesWhere:)``).
        let noLanes = I(), allLanes = I(repeating: -1)
        @inline(__always) func kept(_ v: F, _ mask: I) -> F { F(bits: v.bits & mask) }
        let usesDPE = k.usesDepthPredictionError ? allLanes : noLanes
        let usesDSE = k.usesSegmentationError ? allLanes : noLanes
        let usesMap = k.usesPixelWeightMap ? allLanes : noLanes
        let propagates = k.propagatesDepthPredictionError ? allLanes : noLanes
        let segmentationLimit = F(repeating: floatBound(k.segmentationLimit))
        let depthPredictionErrorLimit = F(repeating: floatBound(k.depthPredictionErrorLimit))
        let segmentationErrorLimit = F(repeating: floatBound(k.segmentationErrorLimit))
        let mapLimit = F(repeating: floatBound(k.pixelWeightMapLimit))
        let coefficientLimit = Float(k.coefficientLimit), floatRange = Float.greatestFiniteMagnitude
        let zero = F(), one = F(repeating: 1)
        @inline(__always) func saturated(_ v: D, _ limit: Float) -> F {
            hpm_clamp8(narrowed(v), -limit, limit)
        }
        var crossEntropySum = D(), depthPredictionErrorSum = D(), segmentationErrorSum = D(), mapSum = D()
        var countedDPE = I(), countedDSE = I(), countedMap = I()
        var p = 0
        while p < count {
            let n = Swift.min(8, count - p)
            // Lanes past `count` get an ignored label and no depth, so they count nowhere.
            let labelled = I(allOnesWhere: lanes(x.labels + p, n, padding: k.ignoreLabel) .!= I(repeating: k.ignoreLabel))
            var hasDepth = noLanes, r = D()
            if k.usesDepth {
                hasDepth = I(allOnesWhere: I(flags: lanes(x.hasDepth + p, n, padding: 0)) .!= noLanes)
                r = lanes(x.residual + p, n, padding: 0)
            }
            let eligible = hasDepth & labelled
            // wR as Float, the same value the pace was selected from (|R| by clearing the sign bit).
            let wr = narrowed(D(bitPattern: r.bitPattern & 0x7FFF_FFFF_FFFF_FFFF))
            let wz = k.usesSegmentationError ? lanes(x.segmentationError + p, n, padding: 0) : zero
            let rawLoss = lanes(x.loss + p, n, padding: 0)
            let wm = k.usesPixelWeightMap ? lanes(x.pixelWeightMap! + p, n, padding: 0) : zero
            let countsSegmentation = labelled & I(allOnesWhere: rawLoss .< segmentationLimit)
            let countsDPE = eligible & usesDPE & I(allOnesWhere: wr .< depthPredictionErrorLimit)
            let countsDSE = eligible & usesDSE & I(allOnesWhere: wz .< segmentationErrorLimit)
            let countsMap = labelled & usesMap & I(allOnesWhere: wm .< mapLimit)
            let wrCounted = widened(kept(wr, countsDPE))
            let wzCounted = widened(kept(wz, countsDSE))
            let wmCounted = widened(kept(wm, countsMap))
            let additive = widened(kept(one, countsSegmentation)) + k.beta * wrCounted
                + k.gamma * wzCounted + k.mapCoefficient * wmCounted
            var ce = rawLoss, w = additive
            if k.modulated {
                ce = lanes(x.modulatedLoss + p, n, padding: 0)
                w = additive * widened(lanes(x.factor + p, n, padding: 0))
                let labelFactor = widened(lanes(x.labelFactor + p, n, padding: 0))
                store(saturated(additive * labelFactor * k.logitScale, coefficientLimit), y.labelCoefficient + p, n)
            }
            let ceWide = widened(ce)
            crossEntropySum += widened(kept(ce, countsSegmentation))
            depthPredictionErrorSum += wrCounted * ceWide
            segmentationErrorSum += wzCounted * ceWide
            mapSum += wmCounted * ceWide
            // A counted lane is −1.
            countedDPE &-= countsDPE
            countedDSE &-= countsDSE
            countedMap &-= countsMap
            store(saturated(w * k.logitScale, coefficientLimit), y.coefficient + p, n)
            if let lossWeights = y.lossWeights { store(saturated(w, floatRange), lossWeights + p, n) }
            if let map = y.depthPredictionErrorMap {
                store(kept(wr, eligible & usesDPE), map + p, n)
            }
            if let map = y.segmentationErrorMap {
                store(kept(wz, eligible & usesDSE), map + p, n)
            }
            if let depthGradient = y.depthGradient {
                // sign(R) from R's sign bit: ±1 wherever R ≠ 0, the only pixels where it counts.
                let sign = D(bitPattern: (r.bitPattern & 0x8000_0000_0000_0000) | D(repeating: 1).bitPattern)
                let propagated = widened(kept(ce, countsDPE & propagates & I(allOnesWhere: wr .!= zero)))
                let dg = (k.depthScale * (r - k.shift) + k.offset) + k.beta * sign * propagated * k.logitScale
                var g = kept(saturated(dg, floatRange), hasDepth)
                if y.accumulates { g += lanes(UnsafePointer(depthGradient + p), n, padding: 0) }
                store(g, depthGradient + p, n)
            }
            p &+= n
        }
        return WeighingSums(
            crossEntropy: crossEntropySum.total, depthPredictionError: depthPredictionErrorSum.total,
            segmentationError: segmentationErrorSum.total, pixelWeightMap: mapSum.total,
            countedDepthPredictionErrorPixels: countedDPE.total,
            countedSegmentationErrorPixels: countedDSE.total,
            countedPixelWeightMapPixels: countedMap.total)
    }

    /// The smallest Float ≥ `limit` (±∞ stay), so that for every Float x, `x < limit` in
    /// Double is `x < floatBound(limit)` in Float.
    @inline(__always)
    private static func floatBound(_ limit: Double) -> Float {
        let f = Float(limit)
        return Double(f) < limit ? f.nextUp : f
    }

    @inline(__always)
    private static func widened(_ v: SIMD8<Float>) -> SIMD8<Double> { SIMD8(widening: v) }

    @inline(__always)
    private static func narrowed(_ v: SIMD8<Double>) -> SIMD8<Float> { SIMD8(narrowing: v) }

    /// Eight lanes from `p`, of which the first `n` are read and the rest are `padding`.
    @inline(__always)
    private static func lanes<T: SIMDScalar>(_ p: UnsafePointer<T>, _ n: Int, padding: T) -> SIMD8<T> {
        if n == 8 { return UnsafeRawPointer(p).loadUnaligned(as: SIMD8<T>.self) }
        var v = SIMD8<T>(repeating: padding)
        for i in 0..<n { v[i] = p[i] }
        return v
    }

    /// Stores the first `n` of eight lanes.
    @inline(__always)
    private static func store<T: SIMDScalar>(_ v: SIMD8<T>, _ p: UnsafeMutablePointer<T>, _ n: Int) {
        if n == 8 { return UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<T>.self) }
        for i in 0..<n { p[i] = v[i] }
    }
}

extension SIMD8 where Scalar == Double {
    @inline(__always)
    fileprivate init(bitPattern bits: SIMD8<UInt64>) { self = unsafeBitCast(bits, to: Self.self) }

    @inline(__always)
    fileprivate var bitPattern: SIMD8<UInt64> { unsafeBitCast(self, to: SIMD8<UInt64>.self) }
}
