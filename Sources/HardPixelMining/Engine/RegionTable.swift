import HardPixelMiningKernels
/// The Depth-aware Segmentation Error of the paper's Eq. 5.
///
/// Regions are (grid cell, depth bin) pairs. The table is built one band of grid
/// rows at a time (the pixels of a band are contiguous image rows), so it needs only
/// `columns × bins` counters per image even for a per-pixel grid.
enum RegionTable {
    /// The copies of a band's table that pixels count into in turn (`i mod copies`), summed
    /// after the band: neighbouring pixels mostly share a region, and one table would make
    /// each increment wait for the previous one's store.
    static let copies = 4

    /// The counters (of each of `count` and `errors`) one image's table needs.
    static func counters(columns: Int, bins: Int) -> Int { copies * columns * bins }

    /// wZ of one image's pixels. `count` and `errors` hold ``counters(columns:bins:)`` each:
    /// `count` a region's pixels and errors packed (`n | errors << 32`, so that a pixel adds
    /// to its region in one step), `errors` the regions' quotients.
    ///
    /// - Returns: the multiset of wZ over the pixels that count, as pairs at the start of
    ///   `keys` (a region's quotient bits `<< 32 | its pixels`, for
    ///   ``Selection/lowerMedianAndMaximum(pairs:count:histogram:)``): their number, or nil if a
    ///   band had more regions than pixels (then the pairs would cost more than the pixels).
    @discardableResult
    static func weights(
        image k: Int, shape: PixelMapShape, grid: (rows: Int, columns: Int), binning: DepthBinning,
        labels: UnsafePointer<Int32>, depth: UnsafePointer<Float>, hasDepth: UnsafePointer<UInt8>,
        wrong: UnsafePointer<UInt8>, ignoreLabel: Int32, columnCell: UnsafePointer<Int>,
        count: UnsafeMutablePointer<UInt64>, errors: UnsafeMutablePointer<Int32>, weights: UnsafeMutablePointer<Float>,
        keys: UnsafeMutablePointer<Int>
    ) -> Int? {
        let (h, w) = (shape.height, shape.width)
        // The regions' pairs so far, at the start of `keys`; each band's keys at its end, in
        // the same `band.count` slots before `h · w` for every band, so that they stay in cache
        // from band to band. The pairs never reach a band's keys: the pairs before a band are at
        // most the pixels before it (a band's regions that count are at most its pixels), and
        // those and the band's pixels are at most h · w.
        var pairs: Int? = 0
        let bins = binning.binCount, lastBin = bins - 1
        let lowest = Double(binning.minimum), width = Double(binning.binWidth)
        let tableSize = grid.columns * bins
        var y = 0
        while y < h {
            // The band of rows sharing grid row `cellRow`.
            let cellRow = y * grid.rows / h
            var end = y + 1
            while end < h && end * grid.rows / h == cellRow { end += 1 }
            let band = (y * w)..<(end * w)
            // Pixel i's key (i in `band`) at `keys[h · w − band.upperBound + i]`.
            let bandKeys = keys + (h * w - band.upperBound)
            // The copies only where the band has more pixels than they have counters (a fine
            // grid's band would spend more on clearing them than on its pixels).
            let copies = Self.copies * tableSize <= band.count ? Self.copies : 1
            count.update(repeating: 0, count: copies * tableSize)
            // Branch-free, with unchecked steps and every load unconditional, so that the loops
            // vectorise and never mispredict (ignored labels and missing depth are scattered):
            // a pixel that does not count has key 0 and adds 0 to region 0, and its depth (0,
            // NaN, anything) is never binned.
            @inline(__always) func counts(_ i: Int) -> Bool {
                eligibility(label: labels[i], hasDepth: hasDepth[i], ignoreLabel: ignoreLabel) != 0
            }
            for row in y..<end {
                let start = row &* w
                var x = 0
                while x < w {
                    let i = start &+ x
                    let offset = Double(depth[i]) - lowest
                    let bin = Swift.min(DepthBinning.validBin(offset: counts(i) ? offset : 0, width: width), lastBin)
                    let key = columnCell[x] &* bins &+ bin
                    bandKeys[i] = counts(i) ? key : 0
                    x &+= 1
                }
            }
            var i = band.lowerBound
            // n and the errors of a band's region stay below 2^32 for any band below 2^32 pixels
            // (16 GiB of labels alone); the Int32 counters this replaced trapped at 2^31.
            while i < band.upperBound {
                let key = (i & (copies - 1)) &* tableSize &+ bandKeys[i]
                // A multiply by the 0-or-1 eligibility, not `counts(i) ? … : 0`: with the load of
                // `wrong[i]` on one side only, the compiler branched, and mispredicted on the
                // scattered ignored pixels.
                let eligible = UInt64(truncatingIfNeeded: eligibility(label: labels[i], hasDepth: hasDepth[i], ignoreLabel: ignoreLabel))
                count[key] &+= (1 | UInt64(wrong[i]) << 32) &* eligible
                i &+= 1
            }
            for copy in 1..<copies {
                for key in 0..<tableSize { count[key] &+= count[copy &* tableSize &+ key] }
            }
            @inline(__always) func quotient(_ key: Int) -> Float {
                let packed = count[key]
                return Float(Double(UInt32(truncatingIfNeeded: packed >> 32)) / Double(UInt32(truncatingIfNeeded: packed)))
            }
            i = band.lowerBound
            if tableSize <= band.count {
                // Fewer regions than pixels: each region's quotient once, kept as Float bits in
                // place of its error count; the same quotient, so the same bits, as per pixel.
                var key = 0
                while key < tableSize {
                    errors[key] = count[key] != 0 ? Int32(bitPattern: quotient(key).bitPattern) : 0
                    key &+= 1
                }
                while i < band.upperBound {
                    let weight = Float(bitPattern: UInt32(bitPattern: errors[bandKeys[i]]))
                    weights[i] = counts(i) ? weight : 0
                    i &+= 1
                }
                if var n = pairs {
                    for key in 0..<tableSize where count[key] & 0xFFFF_FFFF != 0 {
                        let bits = UInt64(UInt32(bitPattern: errors[key]))
                        keys[n] = Int(bitPattern: UInt(bits << 32 | count[key] & 0xFFFF_FFFF))
                        n += 1
                    }
                    pairs = n
                }
            } else {
                pairs = nil
                // A fine grid (one band is one row of cells): a quotient per pixel.
                while i < band.upperBound {
                    let weight = quotient(bandKeys[i])
                    weights[i] = counts(i) ? weight : 0
                    i &+= 1
                }
            }
            y = end
        }
        return pairs
    }

    /// wZ of every image from predicted classes (the stand-alone weight map).
    static func weights(
        predictions: UnsafePointer<Int32>, labels: UnsafePointer<Int32>, depth: UnsafePointer<Float>, shape: PixelMapShape,
        grid: (rows: Int, columns: Int), binning: DepthBinning, ignoreLabel: Int32,
        into weights: UnsafeMutablePointer<Float>, workspace ws: ObjectiveWorkspace
    ) throws {
        try ws.reserve(
            pixels: shape.pixelCount, table: counters(columns: grid.columns, bins: binning.binCount), columns: ObjectiveWorkspace.columns(of: shape))
        markErrors(predictions: predictions, labels: labels, ignoreLabel: ignoreLabel, count: shape.pixelCount, workspace: ws)
        DepthPass.prepare(predicted: nil, groundTruth: depth, pixels: 0..<shape.pixelCount, binning: binning, workspace: ws)
        ws.mapColumns(of: shape, toGridColumns: grid.columns)
        for k in 0..<shape.images {
            let base = k * shape.pixelsPerImage
            self.weights(
                image: k, shape: shape, grid: grid, binning: binning, labels: labels + base, depth: depth + base,
                hasDepth: ws.hasDepth + base, wrong: ws.wrong + base, ignoreLabel: ignoreLabel,
                columnCell: ws.columnCell, count: ws.regionCount, errors: ws.regionErrors, weights: weights + base,
                keys: ws.regionKey + base)
        }
    }

    /// Δ from predicted classes into the workspace: 1 where a labelled pixel's prediction is
    /// not its label.
    static func markErrors(
        predictions: UnsafePointer<Int32>, labels: UnsafePointer<Int32>, ignoreLabel: Int32, count: Int,
        workspace ws: ObjectiveWorkspace
    ) {
        for i in 0..<count { ws.wrong[i] = labels[i] != ignoreLabel && predictions[i] != labels[i] ? 1 : 0 }
    }

    /// Every image's non-empty regions, for inspection: O(eligible pixels), whatever the grid.
    static func tables(
        predictions: UnsafePointer<Int32>, labels: UnsafePointer<Int32>, depth: UnsafePointer<Float>, shape: PixelMapShape,
        grid: (rows: Int, columns: Int), binning: DepthBinning, ignoreLabel: Int32
    ) -> [DepthAwareSegmentationError.Table] {
        let bins = binning.binCount
        var tables: [DepthAwareSegmentationError.Table] = []
        for k in 0..<shape.images {
            // key = (cell row · columns + cell column) · bins + bin < H · W · 2^20, fits in Int.
            var regions: [Int: (count: Int, errors: Int)] = [:]
            for y in 0..<shape.height {
                for x in 0..<shape.width {
                    let i = k * shape.pixelsPerImage + y * shape.width + x
                    guard labels[i] != ignoreLabel, let bin = binning.validatedBin(of: depth[i]) else { continue }
                    let key = ((y * grid.rows / shape.height) * grid.columns + x * grid.columns / shape.width) * bins + bin
                    regions[key, default: (0, 0)].count += 1
                    if predictions[i] != labels[i] { regions[key]!.errors += 1 }
                }
            }
            let listed = regions.keys.sorted().map { key in
                DepthAwareSegmentationError.Table.Region(
                    row: key / bins / grid.columns, column: key / bins % grid.columns, bin: key % bins,
                    count: regions[key]!.count, errors: regions[key]!.errors)
            }
            tables.append(.init(rows: grid.rows, columns: grid.columns, bins: bins, regions: listed))
        }
        return tables
    }
}
