import CHardPixelMiningSupport

extension Kernels {
    /// The gradient pass over pixels `range` of one image:
    /// `g_ij = coefficient_i · (p_ij − y_ij)` with `p_ij = exp((x_ij − m_i) − logSum_i)`, one exp
    /// per logit, computed into the tile and streamed out with non-temporal stores.
    /// `coefficient` is 0 on ignored pixels, which then get a zero gradient.
    static func gradient(
        logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, plane: Int, range: Range<Int>,
        targets: Targets, maximum: UnsafePointer<Float>, logSum: UnsafePointer<Float>,
        coefficient: UnsafePointer<Float>, gradient: UnsafeMutablePointer<Float>, layout: TileLayout,
        scratch: UnsafeMutablePointer<Float>
    ) {
        if HPM_VECTOR_LANES == 16 {
            self.gradient(SIMD16<Float>.self, logits, labels, plane, range, targets, maximum, logSum, coefficient, gradient, layout, scratch)
        } else {
            self.gradient(SIMD8<Float>.self, logits, labels, plane, range, targets, maximum, logSum, coefficient, gradient, layout, scratch)
        }
        hpm_stream_fence()
    }

    private static func gradient<V: FloatLanes>(
        _: V.Type, _ x: UnsafePointer<Float>, _ labels: UnsafePointer<Int32>, _ plane: Int, _ range: Range<Int>,
        _ t: Targets, _ maximum: UnsafePointer<Float>, _ logSum: UnsafePointer<Float>,
        _ coefficient: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>, _ layout: TileLayout,
        _ scratch: UnsafeMutablePointer<Float>
    ) {
        let lanes = V.laneCount
        let rowLength = layout.pixels
        var p = range.lowerBound
        while p < range.upperBound {
            let count = Swift.min(layout.pixels, range.upperBound - p)
            let full = count / lanes, rest = count % lanes
            let vectors = full + (rest > 0 ? 1 : 0)
            // The per-pixel factors of the tile, as vectors in the state rows.
            let shift = layout.state(scratch, TileState.maximum)
            let scale = layout.state(scratch, TileState.sumExp)
            let offset = layout.state(scratch, TileState.coefficient)
            let lse = layout.state(scratch, TileState.sumGap)
            for v in 0..<vectors {
                let n = v < full ? lanes : rest
                let q = p + v * lanes
                V.load(maximum + q, count: n, padding: 0).store(to: shift + v * lanes)
                V.load(logSum + q, count: n, padding: 0).store(to: lse + v * lanes)
                let coef = V.load(coefficient + q, count: n, padding: 0)
                coef.store(to: scale + v * lanes)
                (coef * V(repeating: t.off)).store(to: offset + v * lanes)
            }
            // Every class gets coef · (p − off), class-major so that the logits stream in.
            for c in 0..<layout.classes {
                let source = x + c * plane + p
                let row = scratch + c * rowLength
                for v in 0..<vectors {
                    let value = v < full ? V.load(source + v * lanes) : V.load(source + v * lanes, count: rest, padding: 0)
                    let prob = VectorMath.exp((value - V.load(shift + v * lanes)) - V.load(lse + v * lanes))
                    (V(repeating: 0) - V.load(offset + v * lanes)).plusProduct(V.load(scale + v * lanes), prob)
                        .store(to: row + v * lanes)
                }
            }
            // The true class's element, corrected by −coef · (on − off) once per pixel.
            correctLabels(labels: labels, p: p, count: count, targets: t, coefficient: coefficient + p, layout: layout, scratch: scratch)
            streamTile(to: g, plane: plane, p: p, count: count, layout: layout, scratch: scratch)
            p += count
        }
    }

    /// Subtracts `coefficient_i · (on − off)` from the tile's element of each valid label.
    @inline(__always)
    static func correctLabels(
        labels: UnsafePointer<Int32>, p: Int, count: Int, targets t: Targets, coefficient: UnsafePointer<Float>,
        layout: TileLayout, scratch: UnsafeMutablePointer<Float>
    ) {
        let extra = t.on - t.off
        let classes = Int32(truncatingIfNeeded: layout.classes)
        for i in 0..<count {
            let label = labels[p + i]
            if label >= 0 && label < classes && label != t.ignoreLabel {
                scratch[Int(label) * layout.pixels + i] -= coefficient[i] * extra
            }
        }
    }
}
