/// The scale-invariant log-depth loss (the paper's Eq. 3), L_dep.
///
/// With `R_i = logD_i − log D*_i` over the `nd` pixels with valid depth:
///
///     L_dep = (1/nd) Σ R_i² − (ρ/nd²) (Σ R_i)²
///     ∂L/∂logD_i = (1/N)(2/nd)(R_i − ρ mean(R))    (0 without valid depth)
///
/// ρ = 0 is the mean squared log error, ρ = 1 Eq. 2 (invariant to a global scale of
/// depth), ρ = 0.5 the default. An image without valid depth contributes 0.
/// PyTorch: `d = pred - gt.log(); (d**2).mean() - rho * d.mean()**2` over `valid`.
public struct ScaleInvariantDepthLoss: Sendable, Hashable {
    /// ρ.
    public var scaleInvariance: Double
    /// Which ground-truth depths are valid (`minimum...maximum`; bins are unused here).
    public var depthBinning: DepthBinning

    public init(scaleInvariance: Double = 0.5, depthBinning: DepthBinning = .paper) {
        self.scaleInvariance = scaleInvariance
        self.depthBinning = depthBinning
    }

    /// Evaluates L_dep per image (the result's `images`) and for the batch (`value`, their mean).
    ///
    /// `shape` is the maps' N·H·W. `gradient`, when given, receives ∂L/∂logD (N·H·W).
    public func evaluate(
        predictedLogDepth: UnsafeBufferPointer<Float>, groundTruthDepth: UnsafeBufferPointer<Float>,
        shape: PixelMapShape, gradient: UnsafeMutableBufferPointer<Float>? = nil,
        gradientOutput: GradientOutput = .overwrite, workspace: ObjectiveWorkspace? = nil
    ) throws -> DepthLossResult {
        try shape.validate()
        try gradientOutput.validate()
        try Check.parameter(scaleInvariance, "scaleInvariance", "in 0...1", { (0...1).contains($0) })
        try depthBinning.validate()
        try Check.depthInputs(
            predicted: predictedLogDepth, groundTruth: groundTruthDepth, gradient: gradient, shape: shape)

        let sums = try DepthPass.scaleInvariant(
            predicted: predictedLogDepth.baseAddress!, groundTruth: groundTruthDepth.baseAddress!, shape: shape,
            binning: depthBinning, scaleInvariance: scaleInvariance, gradient: gradient?.baseAddress,
            factor: gradientOutput.scale, accumulates: gradientOutput.accumulates, workspace: workspace ?? ObjectiveWorkspace())
        return DepthLossResult(validCombining: sums.map(\.depth), pooled: false) {
            Self.value($0, scaleInvariance: scaleInvariance)
        }
    }

    /// Evaluates L_dep on arrays; `gradient` must have N·H·W elements.
    public func evaluate(
        predictedLogDepth: [Float], groundTruthDepth: [Float], shape: PixelMapShape, gradient: inout [Float],
        gradientOutput: GradientOutput = .overwrite
    ) throws -> DepthLossResult {
        try predictedLogDepth.withUnsafeBufferPointer { d in
            try groundTruthDepth.withUnsafeBufferPointer { dStar in
                try gradient.withUnsafeMutableBufferPointer { g in
                    try evaluate(predictedLogDepth: d, groundTruthDepth: dStar, shape: shape, gradient: g, gradientOutput: gradientOutput)
                }
            }
        }
    }
}
