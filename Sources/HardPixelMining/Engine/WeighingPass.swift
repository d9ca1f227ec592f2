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
        let isEligible = { (i: Int) in eligibility(label: labels[i], hasDepth: hasDepth[i], ignoreLabel: ignore) }
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

    /// The image's constants of the weighing, then per pixel (``Kernels/weighPixels(count:constants:inputs:outputs:)``)
    /// the logit gradient's coefficient, the depth gradient and the sums of the weighted terms.
    private static func coefficients(
        _ s: inout ImageSums, configuration c: ObjectiveConfiguration, epoch: Double, shape: PixelMapShape,
        labels: UnsafePointer<Int32>, base: Int, usesDepth: Bool, pooledDepth: DepthPass.Coefficients?,
        outputs: EngineOutputs, _ ws: ObjectiveWorkspace
    ) {
        let plane = shape.pixelsPerImage
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
        let constants = WeighingConstants(
            ignoreLabel: c.ignoreLabel, usesDepth: usesDepth, usesDepthPredictionError: c.usesDepthPredictionError,
            usesSegmentationError: c.usesSegmentationError,
            propagatesDepthPredictionError: c.propagatesDepthPredictionErrorToDepth,
            segmentationLimit: segmentationLimit, depthPredictionErrorLimit: depthPredictionErrorLimit,
            segmentationErrorLimit: segmentationErrorLimit, beta: beta, gamma: gamma, logitScale: logitScale,
            depthScale: depthScale, shift: shift, offset: offset)
        let sums = Kernels.weighPixels(
            count: plane, constants: constants,
            inputs: WeighingInputs(
                labels: labels, hasDepth: ws.hasDepth + base, residual: ws.residual + base,
                segmentationError: ws.segmentationError + base, loss: ws.loss + base),
            outputs: WeighingOutputs(
                coefficient: ws.coefficient + base, depthGradient: outputs.depthGradient.map { $0 + base },
                accumulates: outputs.accumulates, lossWeights: outputs.lossWeights.map { $0 + base },
                depthPredictionErrorMap: outputs.depthPredictionErrorMap.map { $0 + base },
                segmentationErrorMap: outputs.segmentationErrorMap.map { $0 + base }))
        s.crossEntropySum += sums.crossEntropy
        s.depthPredictionErrorSum += sums.depthPredictionError
        s.segmentationErrorSum += sums.segmentationError
        s.countedDepthPredictionErrorPixels += sums.countedDepthPredictionErrorPixels
        s.countedSegmentationErrorPixels += sums.countedSegmentationErrorPixels
    }
}
