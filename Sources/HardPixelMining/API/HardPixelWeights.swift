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
        labels: UnsafeBufferPointer<Int32>, shape: BatchShape, into weights: UnsafeMutableBufferPointer<Float>
    ) throws {
        try shape.validate()
        try depthBinning.validate()
        try Check.count(predictedLogDepth.count, shape.pixelCount, "predictedLogDepth")
        try Check.count(groundTruthDepth.count, shape.pixelCount, "groundTruthDepth")
        try Check.count(labels.count, shape.pixelCount, "labels")
        try Check.count(weights.count, shape.pixelCount, "weights")
        try Check.labels(labels, classCount: shape.classes, ignoreLabel: ignoreLabel, "labels")
        try Check.allFinite(predictedLogDepth, "predictedLogDepth")
        let n = shape.pixelCount
        let hasDepth = UnsafeMutablePointer<UInt8>.allocate(capacity: n)
        let residual = UnsafeMutablePointer<Double>.allocate(capacity: n)
        defer { hasDepth.deallocate(); residual.deallocate() }
        Kernels.depthResiduals(
            predicted: predictedLogDepth.baseAddress!, depth: groundTruthDepth.baseAddress!,
            count: n, minimum: depthBinning.minimum, maximum: depthBinning.maximum,
            residual: residual, hasDepth: hasDepth)
        for i in 0..<n {
            weights[i] = labels[i] != ignoreLabel && hasDepth[i] != 0 ? Float(abs(residual[i])) : 0
        }
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
        for i in predictions.indices where predictions[i] < 0 || Int(predictions[i]) >= shape.classes {
            throw HardPixelMiningError.labelOutOfRange(
                argument: "predictions", index: i, value: predictions[i], classCount: shape.classes,
                ignoreLabel: -1)
        }
    }

    /// Writes `wZ` (N·H·W) into `weights`, from predicted classes (see ``predictedClasses(logits:shape:)``).
    public func weights(
        predictions: UnsafeBufferPointer<Int32>, labels: UnsafeBufferPointer<Int32>,
        groundTruthDepth: UnsafeBufferPointer<Float>, shape: BatchShape,
        into weights: UnsafeMutableBufferPointer<Float>
    ) throws {
        try validate(predictions: predictions, labels: labels, groundTruthDepth: groundTruthDepth, shape: shape)
        try Check.count(weights.count, shape.pixelCount, "weights")
        let dims = grid.dimensions(height: shape.height, width: shape.width)
        let bins = depthBinning.binCount
        let n = shape.pixelCount
        let wrong = UnsafeMutablePointer<UInt8>.allocate(capacity: n)
        let hasDepth = UnsafeMutablePointer<UInt8>.allocate(capacity: n)
        let columnCell = UnsafeMutablePointer<Int>.allocate(capacity: shape.width)
        let count = UnsafeMutablePointer<Int32>.allocate(capacity: dims.columns * bins)
        let errors = UnsafeMutablePointer<Int32>.allocate(capacity: dims.columns * bins)
        let keys = UnsafeMutablePointer<Int>.allocate(capacity: n)
        defer {
            wrong.deallocate(); hasDepth.deallocate(); columnCell.deallocate()
            count.deallocate(); errors.deallocate(); keys.deallocate()
        }
        for i in 0..<n {
            wrong[i] = labels[i] != ignoreLabel && predictions[i] != labels[i] ? 1 : 0
            hasDepth[i] = depthBinning.isValid(groundTruthDepth[i]) ? 1 : 0
        }
        for x in 0..<shape.width { columnCell[x] = x * dims.columns / shape.width }
        for k in 0..<shape.images {
            let base = k * shape.pixelsPerImage
            RegionTable.weights(
                image: k, shape: shape, grid: dims, binning: depthBinning, labels: labels.baseAddress! + base,
                depth: groundTruthDepth.baseAddress! + base, hasDepth: hasDepth + base, wrong: wrong + base,
                ignoreLabel: ignoreLabel, columnCell: columnCell, count: count, errors: errors,
                weights: weights.baseAddress! + base, keys: keys + base)
        }
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
        let dims = grid.dimensions(height: shape.height, width: shape.width)
        let bins = depthBinning.binCount
        var tables: [Table] = []
        for k in 0..<shape.images {
            // key = (cell row · columns + cell column) · bins + bin < H · W · 2^20 · 65536², fits in Int.
            var regions: [Int: (count: Int, errors: Int)] = [:]
            for y in 0..<shape.height {
                for x in 0..<shape.width {
                    let i = k * shape.pixelsPerImage + y * shape.width + x
                    guard labels[i] != ignoreLabel, let bin = depthBinning.bin(of: groundTruthDepth[i]) else { continue }
                    let cell = (y * dims.rows / shape.height) * dims.columns + x * dims.columns / shape.width
                    regions[cell * bins + bin, default: (0, 0)].count += 1
                    if predictions[i] != labels[i] { regions[cell * bins + bin]!.errors += 1 }
                }
            }
            let listed = regions.keys.sorted().map { key in
                Table.Region(
                    row: key / bins / dims.columns, column: key / bins % dims.columns, bin: key % bins,
                    count: regions[key]!.count, errors: regions[key]!.errors)
            }
            tables.append(Table(rows: dims.rows, columns: dims.columns, bins: bins, regions: listed))
        }
        return tables
    }

    /// The predicted class of every pixel: the first index of the largest logit (N·H·W).
    public static func predictedClasses(logits: [Float], shape: BatchShape) throws -> [Int32] {
        try shape.validate()
        try Check.count(logits.count, shape.logitCount, "logits")
        try logits.withUnsafeBufferPointer { try Check.allFinite($0, "logits") }
        let plane = shape.pixelsPerImage
        var out = [Int32](repeating: 0, count: shape.pixelCount)
        for k in 0..<shape.images {
            for p in 0..<plane {
                let base = k * shape.classes * plane + p
                var best = logits[base]
                var arg = 0
                for c in 1..<shape.classes where logits[base + c * plane] > best {
                    best = logits[base + c * plane]
                    arg = c
                }
                out[k * plane + p] = Int32(arg)
            }
        }
        return out
    }
}
