/// The Depth Prediction Error weight map (the paper's Eq. 4):
/// `wR_i = |R_i| = |logD_i − log D*_i|` on eligible pixels (valid label and valid
/// depth), 0 elsewhere. `L_R = (1/n) Σ wR_i ce_i`.
///
/// PyTorch: `((pred - gt.log()).abs() * (valid_depth & (y != 255))).detach()`.
public struct DepthPredictionError: Sendable, Hashable {
    public var depthBinning: DepthBinning
    public var ignoreLabel: Int32

    public init(depthBinning: DepthBinning = .paper, ignoreLabel: Int32 = 255) {
        self.depthBinning = depthBinning
        self.ignoreLabel = ignoreLabel
    }

    /// Writes `wR` (N·H·W) into `weights`. `shape.classes` bounds the labels.
    public func weights(
        predictedLogDepth: UnsafeBufferPointer<Float>, groundTruthDepth: UnsafeBufferPointer<Float>,
        labels: UnsafeBufferPointer<Int32>, shape: BatchShape, into weights: UnsafeMutableBufferPointer<Float>,
        workspace: ObjectiveWorkspace? = nil
    ) throws {
        try shape.validate()
        try depthBinning.validate()
        try Check.count(predictedLogDepth.count, shape.pixelCount, "predictedLogDepth")
        try Check.count(groundTruthDepth.count, shape.pixelCount, "groundTruthDepth")
        try Check.count(labels.count, shape.pixelCount, "labels")
        try Check.count(weights.count, shape.pixelCount, "weights")
        try Check.labels(labels, classCount: shape.classes, ignoreLabel: ignoreLabel, "labels")
        try Check.allFinite(predictedLogDepth, "predictedLogDepth")
        try DepthPass.depthPredictionError(
            predicted: predictedLogDepth.baseAddress!, groundTruth: groundTruthDepth.baseAddress!,
            labels: labels.baseAddress!, ignoreLabel: ignoreLabel, shape: shape.pixelMap, binning: depthBinning,
            into: weights.baseAddress!, workspace: workspace ?? ObjectiveWorkspace())
    }

    /// Returns `wR` (N·H·W).
    public func weights(
        predictedLogDepth: [Float], groundTruthDepth: [Float], labels: [Int32], shape: BatchShape
    ) throws -> [Float] {
        var out = [Float](repeating: 0, count: labels.count)
        try predictedLogDepth.withUnsafeBufferPointer { d in
            try groundTruthDepth.withUnsafeBufferPointer { dStar in
                try labels.withUnsafeBufferPointer { y in
                    try out.withUnsafeMutableBufferPointer { w in
                        try weights(predictedLogDepth: d, groundTruthDepth: dStar, labels: y, shape: shape, into: w)
                    }
                }
            }
        }
        return out
    }
}

/// The Depth-aware Segmentation Error weight map (the paper's Eq. 5).
///
/// A Depth-dependent Local Region is a (grid cell, depth bin) pair. Over the
/// eligible pixels of a region, `Z = Σ Δ_i / count`, where `Δ_i = 1` when the
/// predicted class (first largest logit) differs from the label; `Z = 0` for an
/// empty region. `wZ_i = Z(region of i)` on eligible pixels, 0 elsewhere, and
/// `L_Z = (1/n) Σ wZ_i ce_i`.
public struct DepthAwareSegmentationError: Sendable, Hashable {
    public var grid: RegionGrid
    public var depthBinning: DepthBinning
    public var ignoreLabel: Int32

    public init(grid: RegionGrid = .paper, depthBinning: DepthBinning = .paper, ignoreLabel: Int32 = 255) {
        self.grid = grid
        self.depthBinning = depthBinning
        self.ignoreLabel = ignoreLabel
    }

    /// One image's table of regions, listing only the non-empty ones, so that its size is
    /// bounded by the image (a per-pixel grid with many bins has far more regions than pixels).
    public struct Table: Sendable, Hashable {
        public var rows: Int
        public var columns: Int
        public var bins: Int
        /// The regions with at least one eligible pixel, in (row, column, bin) order.
        public var regions: [Region]

        /// One (grid cell, depth bin) region: its eligible pixels and wrong ones.
        public struct Region: Sendable, Hashable {
            public var row: Int
            public var column: Int
            public var bin: Int
            public var count: Int
            public var errors: Int
            /// Z = errors / count.
            public var error: Double { Double(errors) / Double(count) }
        }

        /// The region at (row, column, bin), or nil when it is empty.
        public func region(row: Int, column: Int, bin: Int) -> Region? {
            let key = (row, column, bin)
            var lo = 0, hi = regions.count
            while lo < hi {
                let mid = (lo + hi) / 2
                let r = regions[mid]
                if (r.row, r.column, r.bin) < key { lo = mid + 1 } else { hi = mid }
            }
            guard lo < regions.count else { return nil }
            let r = regions[lo]
            return (r.row, r.column, r.bin) == key ? r : nil
        }

        /// Z of a region: errors / count, 0 for an empty region, and nil outside the table
        /// (a row, column or bin out of range).
        public func error(row: Int, column: Int, bin: Int) -> Double? {
            guard (0..<rows).contains(row) && (0..<columns).contains(column) && (0..<bins).contains(bin) else {
                return nil
            }
            return region(row: row, column: column, bin: bin)?.error ?? 0
        }
    }

    private func validate(
        predictions: UnsafeBufferPointer<Int32>, labels: UnsafeBufferPointer<Int32>,
        groundTruthDepth: UnsafeBufferPointer<Float>, shape: BatchShape
    ) throws {
        try shape.validate()
        try depthBinning.validate()
        try grid.validate(binning: depthBinning, height: shape.height, width: shape.width)
        try Check.count(predictions.count, shape.pixelCount, "predictions")
        try Check.count(labels.count, shape.pixelCount, "labels")
        try Check.count(groundTruthDepth.count, shape.pixelCount, "groundTruthDepth")
        try Check.labels(labels, classCount: shape.classes, ignoreLabel: ignoreLabel, "labels")
        try Check.predictions(predictions, classCount: shape.classes, "predictions")
    }

    /// Writes `wZ` (N·H·W) into `weights`, from predicted classes (see ``predictedClasses(logits:shape:)``).
    public func weights(
        predictions: UnsafeBufferPointer<Int32>, labels: UnsafeBufferPointer<Int32>,
        groundTruthDepth: UnsafeBufferPointer<Float>, shape: BatchShape,
        into weights: UnsafeMutableBufferPointer<Float>, workspace: ObjectiveWorkspace? = nil
    ) throws {
        try validate(predictions: predictions, labels: labels, groundTruthDepth: groundTruthDepth, shape: shape)
        try Check.count(weights.count, shape.pixelCount, "weights")
        try RegionTable.weights(
            predictions: predictions.baseAddress!, labels: labels.baseAddress!, depth: groundTruthDepth.baseAddress!,
            shape: shape.pixelMap, grid: grid.dimensions(height: shape.height, width: shape.width), binning: depthBinning,
            ignoreLabel: ignoreLabel, into: weights.baseAddress!, workspace: workspace ?? ObjectiveWorkspace())
    }

    /// Returns `wZ` (N·H·W).
    public func weights(
        predictions: [Int32], labels: [Int32], groundTruthDepth: [Float], shape: BatchShape
    ) throws -> [Float] {
        var out = [Float](repeating: 0, count: labels.count)
        try predictions.withUnsafeBufferPointer { p in
            try labels.withUnsafeBufferPointer { y in
                try groundTruthDepth.withUnsafeBufferPointer { d in
                    try out.withUnsafeMutableBufferPointer { w in
                        try weights(predictions: p, labels: y, groundTruthDepth: d, shape: shape, into: w)
                    }
                }
            }
        }
        return out
    }

    /// The region tables of every image, for inspection. Size: rows × columns × bins each.
    public func tables(
        predictions: [Int32], labels: [Int32], groundTruthDepth: [Float], shape: BatchShape
    ) throws -> [Table] {
        try predictions.withUnsafeBufferPointer { p in
            try labels.withUnsafeBufferPointer { y in
                try groundTruthDepth.withUnsafeBufferPointer { d in
                    try validate(predictions: p, labels: y, groundTruthDepth: d, shape: shape)
                }
            }
        }
        return predictions.withUnsafeBufferPointer { p in
            labels.withUnsafeBufferPointer { y in
                groundTruthDepth.withUnsafeBufferPointer { d in
                    RegionTable.tables(
                        predictions: p.baseAddress!, labels: y.baseAddress!, depth: d.baseAddress!, shape: shape.pixelMap,
                        grid: grid.dimensions(height: shape.height, width: shape.width), binning: depthBinning,
                        ignoreLabel: ignoreLabel)
                }
            }
        }
    }

    /// The predicted class of every pixel: the first index of the largest logit (N·H·W),
    /// by the same tile sweep as the statistics pass. The logits may be `Float`, `Float16` or
    /// ``BFloat16``.
    public static func predictedClasses<Scalar: LogitScalar>(
        logits: [Scalar], shape: BatchShape, threadCount: Int = 1
    ) throws -> [Int32] {
        try shape.validate()
        try HardPixelMining.validate(threadCount: threadCount)
        try Scalar.validateLayout("logits")
        try Check.count(logits.count, shape.logitCount, "logits")
        var out = [Int32](repeating: 0, count: shape.pixelCount)
        try logits.withUnsafeBufferPointer { x in
            try out.withUnsafeMutableBufferPointer { o in
                try StatisticsPass.predictedClasses(
                    logits: x, shape: shape, into: o.baseAddress!, workspace: ObjectiveWorkspace(),
                    threads: threadCount)
            }
        }
        return out
    }
}
