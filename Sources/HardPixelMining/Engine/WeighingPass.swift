import HardPixelMiningKernels
/// The weighing of one image for the hard-pixel objective, from its label counts and a
/// ``WeightingPlan``: its sums (nd, Σ R, Σ R²), the DSE weights, the learning paces, the
/// modulated losses, and per pixel the gradient coefficients `W_i · λ / (N n)` (with
/// `W_i = m_i ([ce counts] + Σ_t c_t w_t(i) [t counts])`) and the depth gradient.
/// Per pixel, not per class.
enum WeighingPass {
    /// ``weigh(image:sums:plan:shape:labels:groundTruthDepth:pooledDepth:outputs:workspace:batchImages:)``
    /// as the work of a region over images.
    struct EachImage: ImageWork {
        let plan: WeightingPlan
        let shape: PixelMapShape
        let labels: UnsafePointer<Int32>
        let groundTruthDepth: UnsafePointer<Float>?
        let pooledDepth: DepthPass.Coefficients?
        let outputs: EngineOutputs
        let workspace: ObjectiveWorkspace
        let batchImages: Int?

        func run(image k: Int, sums: inout ImageSums) {
            WeighingPass.weigh(
                image: k, sums: &sums, plan: plan, shape: shape, labels: labels, groundTruthDepth: groundTruthDepth,
                pooledDepth: pooledDepth, outputs: outputs, workspace: workspace, batchImages: batchImages)
        }
    }

    static func weigh(
        image k: Int, sums s: inout ImageSums, plan: WeightingPlan, shape: PixelMapShape,
        labels allLabels: UnsafePointer<Int32>, groundTruthDepth: UnsafePointer<Float>?,
        pooledDepth: DepthPass.Coefficients? = nil, outputs: EngineOutputs, workspace ws: ObjectiveWorkspace,
        batchImages: Int? = nil
    ) {
        let plane = shape.pixelsPerImage
        let base = k * plane
        let labels = allLabels + base
        let ignore = plan.ignoreLabel
        let largestDepth = groundTruthDepth != nil ? DepthPass.addKeptSums(&s, image: k, plane: plane, ws) : 0
        let wZ = ws.segmentationError + base
        var regionPairs: Int? = nil
        if plan.segmentationError != nil {
            s.largestValidDepth = largestDepth > 0 ? largestDepth : nil
            let bins = plan.binning.binCount, grid = plan.grid
            regionPairs = RegionTable.weights(
                image: k, shape: shape, grid: grid, binning: plan.binning, labels: labels,
                depth: groundTruthDepth! + base, hasDepth: ws.hasDepth + base, wrong: ws.wrong + base,
                ignoreLabel: ignore, columnCell: ws.columnCell,
                count: ws.regionCount + k * RegionTable.counters(columns: grid.columns, bins: bins),
                errors: ws.regionErrors + k * RegionTable.counters(columns: grid.columns, bins: bins), weights: wZ,
                keys: ws.regionKey + base)
        }
        if let pacing = plan.pacing {
            paces(&s, pacing: pacing, plan: plan, labels: labels, image: k, plane: plane, base: base, regionPairs: regionPairs, ws)
        }
        if let modulation = plan.modulation {
            Kernels.modulatePixels(
                count: plane, labels: labels, ignoreLabel: ignore, loss: ws.loss + base,
                labelLogProbability: ws.labelLogProbability + base, modulation: modulation,
                modulatedLoss: ws.modulatedLoss + base, factor: ws.modulator + base, labelFactor: ws.labelFactor + base)
        }
        coefficients(&s, plan: plan, shape: shape, labels: labels, base: base, usesDepth: groundTruthDepth != nil,
                     pooledDepth: pooledDepth, outputs: outputs, batchImages: batchImages ?? shape.images, ws)
    }

    /// Self-paced pacing: η per paced map over the pixels it lives on (eligible ones for the
    /// depth maps, labelled ones for ce and a caller's map), each by selection in O(n); wZ's
    /// over the region table's `regionPairs` where it left them (the same multiset).
    private static func paces(
        _ s: inout ImageSums, pacing: SelfPacedPacing, plan: WeightingPlan,
        labels: UnsafePointer<Int32>, image k: Int, plane: Int, base: Int, regionPairs: Int?, _ ws: ObjectiveWorkspace
    ) {
        let scratch = ws.selection + base
        let residual = ws.residual + base, hasDepth = ws.hasDepth + base
        let wZ = ws.segmentationError + base, loss = ws.loss + base
        let ignore = plan.ignoreLabel
        // The values a map lives on are compacted into the image's scratch as they are selected
        // from (the slot never passes the pixel, so the writes stay within the image's scratch).
        let histogram = ws.histogram(image: k)
        @inline(__always) func pace(_ statistics: (median: Float, maximum: Float)?) -> Double? {
            statistics.map { pacing.pace(median: Double($0.median), maximum: Double($0.maximum), epoch: plan.epoch) }
        }
        if plan.depthPredictionError?.paced == true {
            s.depthPredictionErrorPace = pace(Selection.lowerMedianAndMaximum(
                count: plane, residualMagnitudes: residual, labels: labels, hasDepth: hasDepth, ignoreLabel: ignore,
                scratch: scratch, histogram: histogram))
        }
        if plan.segmentationError?.paced == true {
            if let regionPairs {
                s.segmentationErrorPace = pace((ws.regionKey + base).withMemoryRebound(to: UInt64.self, capacity: regionPairs) {
                    Selection.lowerMedianAndMaximum(pairs: $0, count: regionPairs, histogram: histogram)
                })
            } else {
                s.segmentationErrorPace = pace(Selection.lowerMedianAndMaximum(
                    count: plane, eligibleValues: wZ, labels: labels, hasDepth: hasDepth, ignoreLabel: ignore,
                    scratch: scratch, histogram: histogram))
            }
        }
        if plan.pixelWeightMap?.paced == true, let map = plan.pixelWeightMapValues.map({ $0 + base }) {
            s.pixelWeightMapPace = pace(Selection.lowerMedianAndMaximum(
                count: plane, labelledValues: map, labels: labels, ignoreLabel: ignore, scratch: scratch, histogram: histogram))
        }
        if plan.pacesSegmentation {
            s.segmentationPace = pace(Selection.lowerMedianAndMaximum(
                count: plane, labelledValues: loss, labels: labels, ignoreLabel: ignore, scratch: scratch, histogram: histogram))
        }
    }

    /// The image's constants of the weighing, then per pixel (``Kernels/weighPixels(count:constants:inputs:outputs:)``)
    /// the logit gradient's coefficients, the depth gradient and the sums of the weighted terms.
    private static func coefficients(
        _ s: inout ImageSums, plan: WeightingPlan, shape: PixelMapShape, labels: UnsafePointer<Int32>, base: Int,
        usesDepth: Bool, pooledDepth: DepthPass.Coefficients?, outputs: EngineOutputs, batchImages: Int,
        _ ws: ObjectiveWorkspace
    ) {
        let coefficientLimit = Double(plan.coefficientLimit)
        let plane = shape.pixelsPerImage
        // Which pixels a term counts on: all it lives on, or those under its pace (`x < limit`;
        // an unpaced term counts every finite weight, a paced map without a pace none).
        @inline(__always) func limit(_ term: AdditiveTerm?, _ eta: Double?) -> Double {
            term?.paced == true ? eta ?? -.infinity : .infinity
        }
        let segmentationLimit = plan.pacesSegmentation ? s.segmentationPace ?? -.infinity : .infinity
        let images = Double(batchImages)
        let λ = outputs.gradientScale
        let logitScale = ObjectiveEngine.logitScale(s, images: batchImages, gradientScale: λ)
        // ∂(α L_dep)/∂logD_i = depthScale · (R_i − shift) + offset: per image (Eq. 3), or pooled (SILog).
        var depthScale = s.depthPixels > 0 && plan.usesDepthLoss ? λ * plan.depthWeight / images * 2 / Double(s.depthPixels) : 0
        var shift = plan.scaleInvariance * (s.depthPixels > 0 ? s.residualSum / Double(s.depthPixels) : 0)
        var offset = 0.0
        if let pooledDepth { (depthScale, shift, offset) = (pooledDepth.slope, pooledDepth.shift, pooledDepth.offset) }
        let constants = WeighingConstants(
            ignoreLabel: plan.ignoreLabel, usesDepth: usesDepth,
            usesDepthPredictionError: plan.depthPredictionError != nil, usesSegmentationError: plan.segmentationError != nil,
            usesPixelWeightMap: plan.pixelWeightMap != nil, modulated: plan.modulation != nil,
            propagatesDepthPredictionError: plan.propagatesDepthPredictionError,
            segmentationLimit: segmentationLimit,
            depthPredictionErrorLimit: limit(plan.depthPredictionError, s.depthPredictionErrorPace),
            segmentationErrorLimit: limit(plan.segmentationError, s.segmentationErrorPace),
            pixelWeightMapLimit: limit(plan.pixelWeightMap, s.pixelWeightMapPace),
            beta: plan.depthPredictionError?.coefficient ?? 0, gamma: plan.segmentationError?.coefficient ?? 0,
            mapCoefficient: plan.pixelWeightMap?.coefficient ?? 0, logitScale: logitScale,
            coefficientLimit: coefficientLimit,
            depthScale: depthScale, shift: shift, offset: offset)
        let sums = Kernels.weighPixels(
            count: plane, constants: constants,
            inputs: WeighingInputs(
                labels: labels, hasDepth: ws.hasDepth + base, residual: ws.residual + base,
                segmentationError: ws.segmentationError + base, loss: ws.loss + base,
                pixelWeightMap: plan.pixelWeightMapValues.map { $0 + base },
                modulatedLoss: ws.modulatedLoss + base, factor: ws.modulator + base, labelFactor: ws.labelFactor + base),
            outputs: WeighingOutputs(
                coefficient: ws.coefficient + base, labelCoefficient: ws.labelCoefficient + base,
                depthGradient: outputs.depthGradient.map { $0 + base },
                accumulates: outputs.accumulates, lossWeights: outputs.lossWeights.map { $0 + base },
                depthPredictionErrorMap: outputs.depthPredictionErrorMap.map { $0 + base },
                segmentationErrorMap: outputs.segmentationErrorMap.map { $0 + base }))
        s.crossEntropySum += sums.crossEntropy
        s.depthPredictionErrorSum += sums.depthPredictionError
        s.segmentationErrorSum += sums.segmentationError
        s.pixelWeightMapSum += sums.pixelWeightMap
        s.countedDepthPredictionErrorPixels += sums.countedDepthPredictionErrorPixels
        s.countedSegmentationErrorPixels += sums.countedSegmentationErrorPixels
        s.countedPixelWeightMapPixels += sums.countedPixelWeightMapPixels
    }
}
