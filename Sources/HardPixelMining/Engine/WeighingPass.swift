/// The weighing of one image for the hard-pixel objective, from its label counts: its sums (nd, Σ R, Σ R²),
/// the DSE weights, the learning paces, and per pixel the gradient coefficient
/// `W_i · λ / (N n)` (with `W_i = 1 + β wR_i [counts] + γ wZ_i [counts]`) and the depth gradient.
/// Per pixel, not per class.
enum WeighingPass {
    static func weigh(
        image k: Int, sums s: inout ImageSums, configuration c: ObjectiveConfiguration, epoch: Double,
        shape: PixelMapShape, grid: (rows: Int, columns: Int), labels allLabels: UnsafePointer<Int32>,
        groundTruthDepth: UnsafePointer<Float>?, pooledDepth: DepthPass.Coefficients? = nil,
        outputs: EngineOutputs, workspace ws: ObjectiveWorkspace
    ) {
        let plane = shape.pixelsPerImage
        let base = k * plane
        let labels = allLabels + base
        let ignore = c.ignoreLabel
        if groundTruthDepth != nil {
            DepthPass.imageSums(&s, from: base, count: plane, labels: labels, ignoreLabel: ignore, ws)
        }
        let wZ = ws.segmentationError + base
        if c.usesSegmentationError {
            let bins = c.depthBinning.binCount
            RegionTable.weights(
                image: k, shape: shape, grid: grid, binning: c.depthBinning, labels: labels,
                depth: groundTruthDepth! + base, hasDepth: ws.hasDepth + base, wrong: ws.wrong + base,
                ignoreLabel: ignore, columnCell: ws.columnCell, count: ws.regionCount + k * grid.columns * bins,
                errors: ws.regionErrors + k * grid.columns * bins, weights: wZ, keys: ws.regionKey + base)
        }
        if let pacing = c.pacing {
            paces(&s, pacing: pacing, configuration: c, epoch: epoch, labels: labels, image: k, plane: plane, base: base, ws)
        }
        coefficients(&s, configuration: c, epoch: epoch, shape: shape, labels: labels, base: base,
                     usesDepth: groundTruthDepth != nil, pooledDepth: pooledDepth,
                     outputs: outputs, ws)
    }

    /// Self-paced pacing: η per weight map over the eligible pixels (labelled ones for ce),
    /// each by selection in O(n).
    private static func paces(
        _ s: inout ImageSums, pacing: SelfPacedPacing, configuration c: ObjectiveConfiguration, epoch: Double,
        labels: UnsafePointer<Int32>, image k: Int, plane: Int, base: Int, _ ws: ObjectiveWorkspace
    ) {
        let scratch = ws.selection + base
        let residual = ws.residual + base, hasDepth = ws.hasDepth + base
        let wZ = ws.segmentationError + base, loss = ws.loss + base
        let ignore = c.ignoreLabel
        // `counts(i)` is 1 for an eligible pixel, 0 otherwise. A branch-free compaction (the
        // pixels that count are spread at random): every pixel's weight goes to the next free
        // slot, which only a pixel that counts keeps. The slot never passes the pixel, so the
        // writes stay within the image's scratch.
        func pace(_ counts: (Int) -> Int, _ weight: (Int) -> Float) -> Double? {
            var m = 0
            for i in 0..<plane {
                scratch[m] = weight(i)
                m += counts(i)
            }
            guard m > 0 else { return nil }
            let (u1, u2) = Selection.lowerMedianAndMaximum(
                UnsafeMutableBufferPointer(start: scratch, count: m), histogram: ws.histogram(image: k))
            return pacing.pace(median: Double(u1), maximum: Double(u2), epoch: epoch)
        }
        let isEligible = { (i: Int) in (labels[i] != ignore ? 1 : 0) & Int(hasDepth[i] != 0 ? 1 : 0) }
        if c.usesDepthPredictionError {
            s.depthPredictionErrorPace = pace(isEligible) { Float(abs(residual[$0])) }
        }
        if c.usesSegmentationError {
            s.segmentationErrorPace = pace(isEligible) { wZ[$0] }
        }
        if c.pacesSegmentation {
            s.segmentationPace = pace({ labels[$0] != ignore ? 1 : 0 }) { loss[$0] }
        }
    }

    /// Per pixel: the sums of the weighted terms, the logit gradient's coefficient and the
    /// depth gradient.
    private static func coefficients(
        _ s: inout ImageSums, configuration c: ObjectiveConfiguration, epoch: Double, shape: PixelMapShape,
        labels: UnsafePointer<Int32>, base: Int, usesDepth: Bool, pooledDepth: DepthPass.Coefficients?,
        outputs: EngineOutputs, _ ws: ObjectiveWorkspace
    ) {
        let plane = shape.pixelsPerImage
        let residual = ws.residual + base, hasDepth = ws.hasDepth + base
        let wZ = ws.segmentationError + base, loss = ws.loss + base
        // Which hard pixels count: all eligible ones, or those under their pace (`x < limit`;
        // an unpaced map counts every finite weight, a map without a pace none).
        let paced = c.pacing != nil
        @inline(__always) func limit(_ eta: Double?) -> Double { paced ? eta ?? -.infinity : .infinity }
        let segmentationLimit = c.pacesSegmentation ? limit(s.segmentationPace) : .infinity
        let depthPredictionErrorLimit = limit(s.depthPredictionErrorPace)
        let segmentationErrorLimit = limit(s.segmentationErrorPace)
        let beta = c.depthPredictionErrorWeight.value(atEpoch: epoch)
        let gamma = c.segmentationErrorWeight
        let images = Double(shape.images)
        let λ = outputs.gradientScale
        let logitScale = ObjectiveEngine.logitScale(s, images: shape.images, gradientScale: λ)
        // ∂(α L_dep)/∂logD_i = depthScale · (R_i − shift) + offset: per image (Eq. 3), or pooled (SILog).
        var depthScale = s.depthPixels > 0 && c.usesDepthLoss ? λ * c.depthWeight / images * 2 / Double(s.depthPixels) : 0
        var shift = c.scaleInvariance * (s.depthPixels > 0 ? s.residualSum / Double(s.depthPixels) : 0)
        var offset = 0.0
        if let pooledDepth { (depthScale, shift, offset) = (pooledDepth.slope, pooledDepth.shift, pooledDepth.offset) }
        let depthGradient = outputs.depthGradient.map { $0 + base }
        let accumulates = outputs.accumulates
        @inline(__always) func writeDepthGradient(_ i: Int, _ dg: Double) {
            guard let depthGradient else { return }
            // Accumulating adds the Float gradient, as the logit gradient's tiles are added.
            if accumulates { depthGradient[i] += saturatingFloat(dg) } else { depthGradient[i] = saturatingFloat(dg) }
        }
        let coefficient = ws.coefficient + base
        let lossWeights = outputs.lossWeights.map { $0 + base }
        let wRMap = outputs.depthPredictionErrorMap.map { $0 + base }
        let wZMap = outputs.segmentationErrorMap.map { $0 + base }

        let usesDPE = c.usesDepthPredictionError, usesDSE = c.usesSegmentationError
        let propagates = c.propagatesDepthPredictionErrorToDepth
        var crossEntropySum = s.crossEntropySum
        var depthPredictionErrorSum = s.depthPredictionErrorSum, segmentationErrorSum = s.segmentationErrorSum
        var countedDPE = s.countedDepthPredictionErrorPixels, countedDSE = s.countedSegmentationErrorPixels
        // Branch-free: whether a pixel counts is data (the paces split pixels at random), so each
        // term is added as itself or as +0, which leaves every sum and weight bitwise as a branch
        // would (they are sums of terms >= 0, and w + 0 = w).
        for i in 0..<plane {
            // hasDepth and the residuals are only written when depth is given, so read them only then.
            let hasDepthHere = usesDepth && hasDepth[i] != 0
            let labelled = labels[i] != c.ignoreLabel
            let eligible = hasDepthHere && labelled
            let r = usesDepth ? residual[i] : 0
            // wR as Float, the same value the pace was selected from.
            let wr = Float(abs(r))
            let wz = usesDSE ? wZ[i] : 0
            wRMap?[i] = eligible && usesDPE ? wr : 0
            wZMap?[i] = eligible && usesDSE ? wz : 0
            var dg = hasDepthHere ? depthScale * (r - shift) + offset : 0
            // An ignored pixel's loss is 0 and it counts nowhere: its w is 0.
            let ce = Double(loss[i])
            let countsSegmentation = labelled && Double(loss[i]) < segmentationLimit
            let countsDPE = eligible && usesDPE && Double(wr) < depthPredictionErrorLimit
            let countsDSE = eligible && usesDSE && Double(wz) < segmentationErrorLimit
            var w: Double = countsSegmentation ? 1 : 0
            crossEntropySum += kept(ce, countsSegmentation)
            countedDPE += countsDPE ? 1 : 0
            depthPredictionErrorSum += kept(Double(wr) * ce, countsDPE)
            w += kept(beta * Double(wr), countsDPE)
            dg += kept(beta * (r > 0 ? 1 : -1) * ce * logitScale, countsDPE && propagates && r != 0)
            countedDSE += countsDSE ? 1 : 0
            segmentationErrorSum += kept(Double(wz) * ce, countsDSE)
            w += kept(gamma * Double(wz), countsDSE)
            // A quarter of Float's range keeps coef · (p − y) finite in the gradient kernel.
            coefficient[i] = saturatingFloat(w * logitScale, limit: .greatestFiniteMagnitude / 4)
            lossWeights?[i] = saturatingFloat(w)
            writeDepthGradient(i, dg)
        }
        s.crossEntropySum = crossEntropySum
        s.depthPredictionErrorSum = depthPredictionErrorSum
        s.segmentationErrorSum = segmentationErrorSum
        s.countedDepthPredictionErrorPixels = countedDPE
        s.countedSegmentationErrorPixels = countedDSE
    }

    /// `x` where `keep`, else +0, without a branch.
    @inline(__always)
    private static func kept(_ x: Double, _ keep: Bool) -> Double {
        Double(bitPattern: x.bitPattern & (keep ? ~0 : 0))
    }
}
