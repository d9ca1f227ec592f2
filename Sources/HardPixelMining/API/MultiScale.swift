/// Bringing full-resolution maps to a side output's resolution (the journal version of
/// the paper supervises several side outputs of the decoder).
///
/// An output pixel (y, x) of an `h × w` map covers the source block of rows
/// `⌊y·H/h⌋ ..< max(⌊y·H/h⌋ + 1, ⌊(y+1)·H/h⌋)` and the likewise columns.
public enum SideOutputResampling {
    /// Labels by nearest neighbour: the source pixel `(⌊y·H/h⌋, ⌊x·W/w⌋)` (PyTorch's
    /// `F.interpolate(mode="nearest")`).
    public static func labels(_ labels: [Int32], shape: PixelMapShape, height: Int, width: Int) throws -> [Int32] {
        try validate(labels.count, shape, height, width, "labels")
        return BlockResampling.nearest(labels, shape: shape, height: height, width: width)
    }

    /// Ground-truth depth as the mean of the block's valid depths only; where the block has
    /// none, the result is 0 ("no depth here").
    public static func depth(
        _ depth: [Float], shape: PixelMapShape, height: Int, width: Int, binning: DepthBinning = .paper
    ) throws -> [Float] {
        try validate(depth.count, shape, height, width, "groundTruthDepth")
        try binning.validate(argument: "binning")
        return BlockResampling.validMean(depth, shape: shape, height: height, width: width, empty: 0, isValid: binning.isValid)
    }

    /// A weight map (wR, wZ or any per-pixel map) as the mean over each block.
    public static func weights(_ weights: [Float], shape: PixelMapShape, height: Int, width: Int) throws -> [Float] {
        try validate(weights.count, shape, height, width, "weights")
        try weights.withUnsafeBufferPointer { try Check.allFinite($0, "weights") }
        return BlockResampling.mean(weights, shape: shape, height: height, width: width)
    }

    private static func validate(_ count: Int, _ shape: PixelMapShape, _ height: Int, _ width: Int, _ argument: String) throws {
        try shape.validate()
        try Check.count(count, shape.pixelCount, argument)
        try validateSideSize(height: height, width: width, of: shape, argument: "height", "width")
    }
}

/// One side output of the network: its logits (`Float`, `Float16` or ``BFloat16``) and
/// predicted log-depth at its own resolution, and its weight λ in the total.
public struct SideOutput<Scalar: LogitScalar>: Sendable {
    public var logits: [Scalar]
    public var predictedLogDepth: [Float]
    public var height: Int
    public var width: Int
    public var weight: Double

    public init(logits: [Scalar], predictedLogDepth: [Float] = [], height: Int, width: Int, weight: Double = 1) {
        self.logits = logits
        self.predictedLogDepth = predictedLogDepth
        self.height = height
        self.width = width
        self.weight = weight
    }
}

/// The objective over several side outputs in one call: `L = Σ_s λ_s L(s)`, where each
/// output's L(s) is the configured objective on its own logits and predicted depth against
/// the labels (nearest) and ground-truth depth (mean of valid pixels) brought to its
/// resolution. The hard-pixel weights of each output come from its own predictions.
/// Gradients: `λ_s ∂L(s)/∂logits_s` and `λ_s ∂L(s)/∂logD_s`.
public struct MultiScaleObjective: Sendable, Hashable {
    public var configuration: ObjectiveConfiguration
    public var threadCount: Int

    public init(_ configuration: ObjectiveConfiguration = .paper, threadCount: Int = 1) {
        self.configuration = configuration
        self.threadCount = threadCount
    }

    public struct Result: Sendable, Hashable {
        /// Σ_s λ_s L(s).
        public var value: Double
        /// Each output's own result (unweighted).
        public var outputs: [ObjectiveResult]
    }

    /// - Parameters:
    ///   - outputs: the side outputs; their logits and gradients are `Float`, `Float16` or ``BFloat16``.
    ///   - shape: the full-resolution batch (N, C, H, W) of `labels` and `groundTruthDepth`.
    ///   - logitGradients, depthGradients: one buffer per output, of its N·C·h·w and N·h·w elements.
    ///   - maps: none, or one ``ObjectiveMaps`` per output (views of its N·h·w maps).
    /// - Throws: before writing any gradient: every output's sizes and logits are checked first.
    public func evaluate<Scalar: LogitScalar>(
        outputs: [SideOutput<Scalar>], labels: [Int32], groundTruthDepth: [Float], shape: BatchShape, epoch: Double,
        logitGradients: inout [[Scalar]], depthGradients: inout [[Float]], gradientOutput: GradientOutput = .overwrite,
        maps: [ObjectiveMaps] = [], pixelWeightMap: [Float]? = nil, workspace: ObjectiveWorkspace? = nil
    ) throws -> Result {
        try Scalar.validateLayout("outputs")
        try shape.validate()
        try gradientOutput.validate()
        try configuration.validate(for: shape)
        try pixelWeightMap.map { try $0.withUnsafeBufferPointer { try configuration.validatePixelWeightMap($0, shape) } }
            ?? configuration.validatePixelWeightMap(nil, shape)
        try Check.count(labels.count, shape.pixelCount, "labels")
        try labels.withUnsafeBufferPointer {
            try Check.labels($0, classCount: shape.classes, ignoreLabel: configuration.ignoreLabel, "labels")
        }
        try validateOptionalArray(groundTruthDepth, configuration.needsGroundTruthDepth, shape, "groundTruthDepth")
        try Check.count(logitGradients.count, outputs.count, "logitGradients")
        try Check.count(depthGradients.count, outputs.count, "depthGradients")
        if outputs.isEmpty {
            throw HardPixelMiningError.invalidDimension(argument: "outputs", value: 0, requirement: "at least one output")
        }
        if !maps.isEmpty { try Check.count(maps.count, outputs.count, "maps") }
        for (s, o) in outputs.enumerated() {
            let side = BatchShape(
                images: shape.images, classes: shape.classes, height: o.height, width: o.width, logitLayout: shape.logitLayout)
            try validateSideSize(
                height: o.height, width: o.width, of: shape.pixelMap, argument: "outputs[\(s)].height", "outputs[\(s)].width")
            try side.validate(argument: "outputs[\(s)]")
            try configuration.validate(for: side, argument: "configuration")
            try Check.weight(o.weight, "outputs[\(s)].weight")
            try Check.count(o.logits.count, side.logitCount, "outputs[\(s)].logits")
            try validateOptionalArray(o.predictedLogDepth, configuration.needsPredictedDepth, side, "outputs[\(s)].predictedLogDepth")
            try Check.count(logitGradients[s].count, side.logitCount, "logitGradients[\(s)]")
            try Check.count(depthGradients[s].count, side.pixelCount, "depthGradients[\(s)]")
            if !maps.isEmpty { try maps[s].validate(side, argument: "maps[\(s)]") }
            try o.logits.withUnsafeBufferPointer { try Check.allFinite($0, "outputs[\(s)].logits") }
            if configuration.needsPredictedDepth {
                try o.predictedLogDepth.withUnsafeBufferPointer { try Check.allFinite($0, "outputs[\(s)].predictedLogDepth") }
            }
        }
        let objective = HardPixelMiningObjective(configuration, threadCount: threadCount)
        let ws = workspace ?? ObjectiveWorkspace()
        var result = Result(value: 0, outputs: [])
        for (s, o) in outputs.enumerated() {
            let side = BatchShape(
                images: shape.images, classes: shape.classes, height: o.height, width: o.width, logitLayout: shape.logitLayout)
            let sideLabels = try SideOutputResampling.labels(labels, shape: shape.pixelMap, height: o.height, width: o.width)
            let sideDepth = groundTruthDepth.isEmpty ? [] : try SideOutputResampling.depth(
                groundTruthDepth, shape: shape.pixelMap, height: o.height, width: o.width, binning: configuration.depthBinning)
            // A caller's map is resampled as the weight maps are (block means, nearest neighbours).
            let sideMap = try pixelWeightMap.map {
                try SideOutputResampling.weights($0, shape: shape.pixelMap, height: o.height, width: o.width)
            }
            // λ_s scales the per-pixel gradient coefficients, so the gradient is still written once.
            let r = try o.logits.withUnsafeBufferPointer { x in
                try sideLabels.withUnsafeBufferPointer { y in
                    try o.predictedLogDepth.withUnsafeBufferPointer { d in
                        try sideDepth.withUnsafeBufferPointer { dStar in
                            try logitGradients[s].withUnsafeMutableBufferPointer { gx in
                                try depthGradients[s].withUnsafeMutableBufferPointer { gd in
                                    try withOptionalBuffer(sideMap) { map in
                                        try objective.evaluate(
                                            logits: x, labels: y, predictedLogDepth: d, groundTruthDepth: dStar, shape: side,
                                            epoch: epoch, logitGradient: gx, depthGradient: gd, workspace: ws,
                                            gradientScale: o.weight, gradientOutput: gradientOutput,
                                            maps: maps.isEmpty ? ObjectiveMaps() : maps[s], pixelWeightMap: map)
                                    }
                                }
                            }
                        }
                    }
                }
            }
            result.value += o.weight * r.value
            result.outputs.append(r)
        }
        return result
    }
}

/// A side output's size: 1...16× the input's in each dimension (side outputs are usually
/// coarser; a modest upsampling is allowed), which also bounds its element count by 256×
/// the input's and keeps every block bound `y · H / h` within `Int`.
func validateSideSize(
    height: Int, width: Int, of shape: PixelMapShape, argument heightArgument: String, _ widthArgument: String
) throws {
    if height < 1 || height / 16 > shape.height - 1 {
        throw HardPixelMiningError.invalidDimension(
            argument: heightArgument, value: height, requirement: "in 1...16 × \(shape.height)")
    }
    if width < 1 || width / 16 > shape.width - 1 {
        throw HardPixelMiningError.invalidDimension(
            argument: widthArgument, value: width, requirement: "in 1...16 × \(shape.width)")
    }
    _ = try Check.product(height, shape.height, limit: Int.max / 2, heightArgument, "a size whose product with the input's fits in Int")
    _ = try Check.product(width, shape.width, limit: Int.max / 2, widthArgument, "a size whose product with the input's fits in Int")
}

func validateOptionalArray<T>(_ array: [T], _ required: Bool, _ shape: BatchShape, _ argument: @autoclosure () -> String) throws {
    try array.withUnsafeBufferPointer { try validateOptional($0, required: required, shape, argument()) }
}
