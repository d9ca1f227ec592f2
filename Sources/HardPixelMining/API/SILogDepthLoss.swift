/// SILog, the scale-invariant log error of BTS and AdaBins, pooled over the batch's valid
/// pixels (see ``SILog`` for the equation, its sources and the mapping to L_dep).
///
/// PyTorch (BTS): `d = pred_log[mask] - gt[mask].log(); 10 * ((d**2).mean() - 0.85 * d.mean()**2).sqrt()`.
public struct SILogDepthLoss: Sendable, Hashable {
    public var silog: SILog
    /// Which ground-truth depths are valid (`minimum...maximum`; bins are unused here).
    public var depthBinning: DepthBinning

    public init(_ silog: SILog = .bts, depthBinning: DepthBinning = .paper) {
        self.silog = silog
        self.depthBinning = depthBinning
    }

    /// Evaluates SILog; the result's `value` is the pooled SILog, and each of its `images` the
    /// SILog of that image alone.
    ///
    /// `shape` is the maps' N·H·W. `gradient`, when given, receives ∂SILog/∂logD (N·H·W),
    /// overwritten or accumulated as `gradientOutput` says. On any error every output stays
    /// untouched.
    public func evaluate(
        predictedLogDepth: UnsafeBufferPointer<Float>, groundTruthDepth: UnsafeBufferPointer<Float>,
        shape: PixelMapShape, gradient: UnsafeMutableBufferPointer<Float>? = nil,
        gradientOutput: GradientOutput = .overwrite, workspace: ObjectiveWorkspace? = nil,
        dataParallel: DataParallel? = nil
    ) throws -> DepthLossResult {
        let ws = workspace ?? ObjectiveWorkspace()
        let batch = try DataParallelCall.begin(
            dataParallel, fingerprint: { "SILogDepthLoss \(shape.height) \(shape.width) \(self) \(gradientOutput)" },
            images: shape.images
        ) {
            try shape.validate(minimumImages: DataParallelCall.minimumImages(dataParallel))
            try silog.validate(argument: "silog")
            try gradientOutput.validate()
            try depthBinning.validate()
            try Check.depthInputs(
                predicted: predictedLogDepth, groundTruth: groundTruthDepth, gradient: gradient, shape: shape)
            if dataParallel != nil { try ws.reserve(pixels: shape.pixelCount) }
        }
        let sums = try DepthPass.silog(
            silog, predicted: DataParallelCall.address(predictedLogDepth), groundTruth: DataParallelCall.address(groundTruthDepth),
            shape: shape, binning: depthBinning, gradient: gradient.map(DataParallelCall.address), factor: gradientOutput.scale,
            accumulates: gradientOutput.accumulates, workspace: ws, batch: batch)
        let all = try batch?.gatherSums(sums) ?? sums
        return DepthLossResult(validCombining: all.map(\.depth), pooled: true) {
            silog.value(pixels: $0.depthPixels, sum: $0.residualSum, squaredSum: $0.squaredResidualSum)
        }
    }

    /// Evaluates SILog on arrays; `gradient` must have N·H·W elements.
    public func evaluate(
        predictedLogDepth: [Float], groundTruthDepth: [Float], shape: PixelMapShape, gradient: inout [Float],
        gradientOutput: GradientOutput = .overwrite, workspace: ObjectiveWorkspace? = nil, dataParallel: DataParallel? = nil
    ) throws -> DepthLossResult {
        try predictedLogDepth.withUnsafeBufferPointer { d in
            try groundTruthDepth.withUnsafeBufferPointer { dStar in
                try gradient.withUnsafeMutableBufferPointer { g in
                    try evaluate(
                        predictedLogDepth: d, groundTruthDepth: dStar, shape: shape, gradient: g,
                        gradientOutput: gradientOutput, workspace: workspace, dataParallel: dataParallel)
                }
            }
        }
    }
}
