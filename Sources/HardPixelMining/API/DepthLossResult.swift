/// The sums and counts of one image from which a log-depth loss follows (`R_i = logD_i − log D*_i`).
///
/// A data-parallel trainer gathers these per image (in image order) and calls the loss's
/// `result(combining:)` (``ScaleInvariantDepthLoss/result(combining:)``,
/// ``SILogDepthLoss/result(combining:)``): bitwise the value of one process.
public struct DepthSums: Sendable, Hashable {
    /// nd, the pixels with a valid ground-truth depth.
    public var depthPixels = 0
    /// Σ R over the valid pixels.
    public var residualSum = 0.0
    /// Σ R² over the valid pixels.
    public var squaredResidualSum = 0.0

    public init() {}

    /// Throws for the first count or sum that no evaluation produces.
    func validate(argument: String) throws {
        if depthPixels < 0 {
            throw HardPixelMiningError.invalidDimension(
                argument: "\(argument).depthPixels", value: depthPixels, requirement: "in 0...\(Int.max)")
        }
        try Check.parameter(residualSum, "\(argument).residualSum", "finite, in -1e100...1e100", { abs($0) <= 1e100 })
        try Check.parameter(
            squaredResidualSum, "\(argument).squaredResidualSum", "finite, in 0...1e100", { $0 >= 0 && $0 <= 1e100 })
    }

    /// The batch's nd, Σ R and Σ R², added over `sums` in order (for a pooled loss).
    static func pooled<S: Sequence<DepthSums>>(_ sums: S) -> DepthSums {
        var total = DepthSums()
        for s in sums {
            total.depthPixels += s.depthPixels
            total.residualSum += s.residualSum
            total.squaredResidualSum += s.squaredResidualSum
        }
        return total
    }
}

/// What one evaluation of ``ScaleInvariantDepthLoss`` or ``SILogDepthLoss`` returns.
public struct DepthLossResult: Sendable, Hashable {
    /// The batch's loss: the mean over images of each image's L_dep (``ScaleInvariantDepthLoss``),
    /// or SILog over the batch's pooled pixels (``SILogDepthLoss``).
    public private(set) var value: Double
    /// Each image's loss on its own pixels (0 without valid depth).
    public private(set) var images: [Double]
    /// Each image's sums and counts, for data-parallel reduction.
    public private(set) var sums: [DepthSums]

    /// The result of `sums`, with `loss` the loss of one set of sums and the batch's value the
    /// pooled loss or the mean over images.
    init(validCombining sums: [DepthSums], pooled: Bool, loss: (DepthSums) -> Double) {
        self.sums = sums
        images = sums.map(loss)
        if pooled {
            value = loss(DepthSums.pooled(sums))
        } else {
            var total = 0.0
            for l in images { total += l }
            value = total / Double(Swift.max(1, sums.count))
        }
    }
}

extension ScaleInvariantDepthLoss {
    /// L_dep of one set of sums: `Σ R² / nd − ρ (Σ R / nd)²`, 0 without valid depth (the one
    /// place the term is formed, for this loss and the objective's depth term).
    static func value(_ s: DepthSums, scaleInvariance: Double) -> Double {
        guard s.depthPixels > 0 else { return 0 }
        let nd = Double(s.depthPixels)
        let mean = s.residualSum / nd
        return s.squaredResidualSum / nd - scaleInvariance * mean * mean
    }

    /// Combines per-image sums, in image order, exactly as a single evaluation does.
    /// - Throws: ``HardPixelMiningError`` naming the first bad sum (`sums[k].field`) or setting.
    public func result(combining sums: [DepthSums]) throws -> DepthLossResult {
        try Check.parameter(scaleInvariance, "scaleInvariance", "in 0...1", { (0...1).contains($0) })
        for (k, s) in sums.enumerated() { try s.validate(argument: "sums[\(k)]") }
        return DepthLossResult(validCombining: sums, pooled: false) {
            Self.value($0, scaleInvariance: scaleInvariance)
        }
    }
}

extension SILogDepthLoss {
    /// Combines per-image sums, in image order, exactly as a single evaluation does (the
    /// batch's SILog over the pooled sums).
    /// - Throws: ``HardPixelMiningError`` naming the first bad sum (`sums[k].field`) or setting.
    public func result(combining sums: [DepthSums]) throws -> DepthLossResult {
        try silog.validate(argument: "silog")
        for (k, s) in sums.enumerated() { try s.validate(argument: "sums[\(k)]") }
        return DepthLossResult(validCombining: sums, pooled: true) {
            silog.value(pixels: $0.depthPixels, sum: $0.residualSum, squaredSum: $0.squaredResidualSum)
        }
    }
}
