/// The loops behind ``SideOutputResampling``: each output pixel of an `h × w` map reads its
/// source block (rows `⌊y·H/h⌋ ..< max(⌊y·H/h⌋ + 1, ⌊(y+1)·H/h⌋)`, likewise columns) of an
/// N·H·W map. Inputs are validated by the caller.
enum BlockResampling {
    /// The first pixel of each block (nearest neighbour).
    static func nearest<T>(_ values: [T], shape: PixelMapShape, height: Int, width: Int) -> [T] {
        resample(shape, height, width) { k, y0, _, x0, _ in values[k * shape.pixelsPerImage + y0 * shape.width + x0] }
    }

    /// The mean of each block's values that `isValid` accepts, `empty` where none is.
    static func validMean(
        _ values: [Float], shape: PixelMapShape, height: Int, width: Int, empty: Float, isValid: (Float) -> Bool
    ) -> [Float] {
        resample(shape, height, width) { k, y0, y1, x0, x1 in
            var sum = 0.0, count = 0
            for y in y0..<y1 {
                for x in x0..<x1 {
                    let d = values[k * shape.pixelsPerImage + y * shape.width + x]
                    if isValid(d) {
                        sum += Double(d)
                        count += 1
                    }
                }
            }
            return count > 0 ? Float(sum / Double(count)) : empty
        }
    }

    /// The mean of each block.
    static func mean(_ values: [Float], shape: PixelMapShape, height: Int, width: Int) -> [Float] {
        validMean(values, shape: shape, height: height, width: width, empty: 0) { _ in true }
    }

    private static func resample<T>(
        _ shape: PixelMapShape, _ height: Int, _ width: Int, _ value: (Int, Int, Int, Int, Int) -> T
    ) -> [T] {
        var out: [T] = []
        out.reserveCapacity(shape.images * height * width)
        for k in 0..<shape.images {
            for y in 0..<height {
                let y0 = y * shape.height / height
                let y1 = Swift.max(y0 + 1, (y + 1) * shape.height / height)
                for x in 0..<width {
                    let x0 = x * shape.width / width
                    let x1 = Swift.max(x0 + 1, (x + 1) * shape.width / width)
                    out.append(value(k, y0, y1, x0, x1))
                }
            }
        }
        return out
    }
}
