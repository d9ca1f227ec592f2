/// The Depth-aware Segmentation Error of the paper's Eq. 5.
///
/// Regions are (grid cell, depth bin) pairs. The table is built one band of grid
/// rows at a time (the pixels of a band are contiguous image rows), so it needs only
/// `columns × bins` counters per image even for a per-pixel grid.
enum RegionTable {
    static func weights(
        image k: Int, shape: BatchShape, grid: (rows: Int, columns: Int), binning: DepthBinning,
        labels: UnsafePointer<Int32>, depth: UnsafePointer<Float>, hasDepth: UnsafePointer<UInt8>,
        wrong: UnsafePointer<UInt8>, ignoreLabel: Int32, columnCell: UnsafePointer<Int>,
        count: UnsafeMutablePointer<Int32>, errors: UnsafeMutablePointer<Int32>, weights: UnsafeMutablePointer<Float>,
        keys: UnsafeMutablePointer<Int>
    ) {
        let (h, w) = (shape.height, shape.width)
        let bins = binning.binCount
        let tableSize = grid.columns * bins
        var y = 0
        while y < h {
            // The band of rows sharing grid row `cellRow`.
            let cellRow = y * grid.rows / h
            var end = y + 1
            while end < h && end * grid.rows / h == cellRow { end += 1 }
            count.update(repeating: 0, count: tableSize)
            errors.update(repeating: 0, count: tableSize)
            for row in y..<end {
                for x in 0..<w {
                    let i = row * w + x
                    weights[i] = 0
                    guard labels[i] != ignoreLabel && hasDepth[i] != 0 else { continue }
                    let key = columnCell[x] * bins + binning.validBin(of: depth[i])
                    keys[i] = key
                    count[key] += 1
                    errors[key] += Int32(wrong[i])
                }
            }
            for i in (y * w)..<(end * w) where labels[i] != ignoreLabel && hasDepth[i] != 0 {
                let key = keys[i]
                weights[i] = Float(Double(errors[key]) / Double(count[key]))
            }
            y = end
        }
    }
}
