/// The sums and counts of one image from which the cross-entropy follows.
///
/// A data-parallel trainer gathers these per image (in image order) and calls
/// ``LabelSmoothedCrossEntropy/result(combining:)``: the result is bitwise the value one
/// process computes for the whole batch.
public struct CrossEntropySums: Sendable, Hashable {
    /// n, the pixels with a valid label.
    public var labelledPixels = 0
    /// With class weights: Σ w_label over the labelled pixels, the image's divisor in place of
    /// n (nil without class weights).
    public var labelWeightSum: Double? = nil
    /// Σ w_i ce_i over the labelled pixels (over the mined pixels with ``PixelMining``; the
    /// modulated losses with focal or PolyLoss-1).
    public var crossEntropySum = 0.0
    /// With ``PixelMining``: how many pixels were mined; the image's loss divides by it.
    public var minedPixels: Int? = nil
    /// With a batch-wide reduction (``Reduction/mean``, ``Reduction/sum``, batch mining): the
    /// batch's divisor, the same in every image (1 for `sum`); the image's loss is then its
    /// share `Σ / divisor` and the batch's the sum of the shares.
    public var pooledDivisor: Double? = nil

    public init() {}

    /// The image's loss (its share of the batch's with a batch-wide divisor); 0 when nothing
    /// divides it. The one place the segmentation term is formed from its sums.
    var loss: Double {
        if let divisor = pooledDivisor { return divisor > 0 ? crossEntropySum / divisor : 0 }
        if let mined = minedPixels { return mined > 0 ? crossEntropySum / Double(mined) : 0 }
        return divisor > 0 ? crossEntropySum / divisor : 0
    }

    /// The image's own divisor: Σ w_label with class weights, else n.
    var divisor: Double { labelWeightSum ?? Double(labelledPixels) }

    /// Throws for the first count or sum that no evaluation produces.
    func validate(argument: String) throws {
        if labelledPixels < 0 {
            throw HardPixelMiningError.invalidDimension(
                argument: "\(argument).labelledPixels", value: labelledPixels, requirement: "in 0...\(Int.max)")
        }
        if let mined = minedPixels, mined < 0 || mined > labelledPixels {
            throw HardPixelMiningError.invalidDimension(
                argument: "\(argument).minedPixels", value: mined, requirement: "in 0...\(labelledPixels)")
        }
        for (value, name) in [(labelWeightSum, "labelWeightSum"), (crossEntropySum, "crossEntropySum"), (pooledDivisor, "pooledDivisor")] {
            guard let value else { continue }
            try Check.parameter(value, "\(argument).\(name)", "finite, in 0...1e100", { $0 >= 0 && $0 <= 1e100 })
        }
    }
}

/// What one evaluation of ``LabelSmoothedCrossEntropy`` returns: L_seg, and what it was formed from.
///
/// It keeps the engine's per-image sums as they came (shared with the workspace until
/// either changes), and forms ``images`` and ``sums`` from them when asked: a steady-state
/// call allocates nothing.
public struct CrossEntropyResult: Sendable, Hashable {
    /// L_seg of the batch: the mean over images of each image's loss (the paper's per-image
    /// mean), or with a batch-wide divisor (``Reduction/mean``, ``Reduction/sum``, batch
    /// mining) the batch's pooled loss.
    public private(set) var value: Double
    /// Each image's loss; with a batch-wide divisor, its share of ``value`` (the shares add up to it).
    public var images: [Double] { imageSums.map(\.crossEntropy.loss) }
    /// Each image's sums and counts, for data-parallel reduction.
    public var sums: [CrossEntropySums] { imageSums.map(\.crossEntropy) }
    /// The sums, of which only the cross-entropy's part is read.
    private let imageSums: [ImageSums]

    /// Combines sums whose batch-wide divisor, if any, is already set.
    init(validCombining sums: [ImageSums]) {
        imageSums = sums
        var total = 0.0
        for s in sums { total += s.crossEntropy.loss }
        let pooled = sums.first?.pooledDivisor != nil
        value = pooled ? total : total / Double(Swift.max(1, sums.count))
    }

    public static func == (a: Self, b: Self) -> Bool { a.value == b.value && a.sums == b.sums }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(value)
        hasher.combine(sums)
    }
}

extension LabelSmoothedCrossEntropy {
    /// Combines per-image sums, in image order, exactly as a single evaluation does: with
    /// ``Reduction/mean`` the batch's divisor is formed again from the gathered sums, so that
    /// workers may each report their own images.
    ///
    /// - Throws: ``HardPixelMiningError`` naming the first bad sum (`sums[k].field`): a count
    ///   below 0 or mined pixels above the labelled ones, a sum that is negative, not finite or
    ///   beyond 1e100.
    public func result(combining sums: [CrossEntropySums]) throws -> CrossEntropyResult {
        for (k, s) in sums.enumerated() { try s.validate(argument: "sums[\(k)]") }
        var sums = sums
        if mining == nil, let divisor = Reduction.pooledDivisor(reduction, sums.map(\.divisor)) {
            for k in sums.indices { sums[k].pooledDivisor = divisor }
        }
        return CrossEntropyResult(validCombining: sums.map(ImageSums.init(crossEntropy:)))
    }
}
