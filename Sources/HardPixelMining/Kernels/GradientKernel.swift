import CHardPixelMiningSupport

extension Kernels {
    /// The gradient pass over pixels `range` of one image:
    /// `g_ij = coefficient_i · (p_ij − y_ij)` with `p_ij = exp((x_ij − m_i) − logSum_i)`, one exp
    /// per logit, computed into the tile and streamed out with non-temporal stores.
    /// `coefficient` is 0 on ignored pixels, which then get a zero gradient.
    static func gradient(
        logits: LogitBuffer, labels: UnsafePointer<Int32>, plane: Int, range: Range<Int>,
        targets: Targets, maximum: UnsafePointer<Float>, logSum: UnsafePointer<Float>,
        coefficient: UnsafePointer<Float>, gradient: MutableLogitBuffer, accumulating: Bool,
        layout: TileLayout, scratch: UnsafeMutablePointer<Float>
    ) {
        switch HPM_VECTOR_LANES {
        case 16: self.gradient(SIMD16<Float>.self, logits, labels, plane, range, targets, maximum, logSum, coefficient, gradient, accumulating, layout, scratch)
        case 4: self.gradient(SIMD4<Float>.self, logits, labels, plane, range, targets, maximum, logSum, coefficient, gradient, accumulating, layout, scratch)
        default: self.gradient(SIMD8<Float>.self, logits, labels, plane, range, targets, maximum, logSum, coefficient, gradient, accumulating, layout, scratch)
        }
        hpm_stream_fence()
    }

    private static func gradient<V: FloatLanes>(
        _: V.Type, _ x: LogitBuffer, _ labels: UnsafePointer<Int32>, _ plane: Int, _ range: Range<Int>,
        _ t: Targets, _ maximum: UnsafePointer<Float>, _ logSum: UnsafePointer<Float>,
        _ coefficient: UnsafePointer<Float>, _ g: MutableLogitBuffer, _ accumulating: Bool,
        _ layout: TileLayout, _ scratch: UnsafeMutablePointer<Float>
    ) {
        let lanes = V.laneCount
        let off = V(repeating: t.off), extra = V(repeating: t.on - t.off)
        let labelIndex = layout.state(scratch, TileState.labelIndex)
        let labelWeight = layout.state(scratch, TileState.labelWeight)
        let direct = x.precision == .float32 && g.precision == .float32 && !layout.channelsLast && !accumulating
        forEachTile(range, layout) { p, count in
            let full = count / lanes, rest = count % lanes
            let vectors = full + (rest > 0 ? 1 : 0)
            if direct && full > 0 {
                gatherLabels(labels: labels, p: p, count: count, padded: vectors * lanes, targets: t, layout: layout, scratch: scratch)
                return streamedGradientRows(
                    V.self, logits: x.base.assumingMemoryBound(to: Float.self) + p, plane: plane, count: count, targets: t,
                    maximum: maximum + p, logSum: logSum + p, coefficient: coefficient + p,
                    gradient: g.base.assumingMemoryBound(to: Float.self) + p, layout: layout, scratch: scratch)
            }
            // The logits were found finite by the statistics pass.
            _ = loadTile(V.self, logits: x, plane: plane, p: p, count: count, layout: layout, scratch: scratch)
            gatherLabels(labels: labels, p: p, count: count, padded: vectors * lanes, targets: t, layout: layout, scratch: scratch)
            // Pixel by pixel, in place: coef · (exp((x − m) − logSum) − y), the true class's
            // element by a compare and blend.
            for v in 0..<vectors {
                let n = v < full ? lanes : rest
                let q = p + v * lanes
                let m = V.load(maximum + q, count: n, padding: 0)
                let lse = V.load(logSum + q, count: n, padding: 0)
                let coef = V.load(coefficient + q, count: n, padding: 0)
                let label = V.load(labelIndex + v * lanes)
                var row = scratch + v * lanes
                if let w = t.classWeights {
                    let terms = weightedGradientTerms(coefficient: coef, labelWeight: V.load(labelWeight + v * lanes), targets: t)
                    for c in 0..<layout.classes {
                        let prob = VectorMath.exp((V.load(row) - m) - lse)
                        let offset = weightedOffset(unit: terms.unit, labelExtra: terms.labelExtra, weight: w[c], label: label, class: c)
                        offset.plusProduct(terms.scale, prob).store(to: row)
                        row += layout.stride
                    }
                    continue
                }
                let b = V(repeating: 0) - coef * off
                let bLabel = b - coef * extra
                for c in 0..<layout.classes {
                    let prob = VectorMath.exp((V.load(row) - m) - lse)
                    b.with(bLabel, where: label .== V(repeating: Float(c))).plusProduct(coef, prob).store(to: row)
                    row += layout.stride
                }
            }
            streamTile(V.self, to: g, plane: plane, p: p, count: count, layout: layout, scratch: scratch, accumulating: accumulating)
        }
    }

    /// The gradient of one tile of at least one vector of pixels, for Float NCHW logits and an
    /// overwritten Float NCHW gradient: class row after class row, each element read from
    /// DRAM, turned into `coefficient · (p − y)` in registers by the same operations as the
    /// tile path above (so either path gives the same bits), and streamed straight to memory by
    /// ``storeRow(_:full:rest:to:streaming:_:)``'s non-temporal stores — no copy into the tile
    /// and no second sweep over it. The per-pixel terms are read from their arrays (L1/L2) and
    /// the labels from the tile's state rows. `logits`, `maximum`, `logSum`, `coefficient` and
    /// `gradient` point at the tile's first pixel.
    @inline(__always)
    private static func streamedGradientRows<V: FloatLanes>(
        _: V.Type, logits x: UnsafePointer<Float>, plane: Int, count: Int, targets t: Targets,
        maximum: UnsafePointer<Float>, logSum: UnsafePointer<Float>, coefficient: UnsafePointer<Float>,
        gradient g: UnsafeMutablePointer<Float>, layout: TileLayout, scratch: UnsafeMutablePointer<Float>
    ) {
        let lanes = V.laneCount
        let full = count / lanes, rest = count % lanes
        let off = V(repeating: t.off), extra = V(repeating: t.on - t.off)
        let labelIndex = layout.state(scratch, TileState.labelIndex)
        let labelWeight = layout.state(scratch, TileState.labelWeight)
        for c in 0..<layout.classes {
            let row = x + c * plane
            if let w = t.classWeights {
                storeRow(V.self, full: full, rest: rest, to: g + c * plane, streaming: true) { i in
                    let coef = V.load(coefficient + i)
                    let terms = weightedGradientTerms(coefficient: coef, labelWeight: V.load(labelWeight + i), targets: t)
                    let prob = VectorMath.exp((V.load(row + i) - V.load(maximum + i)) - V.load(logSum + i))
                    let offset = weightedOffset(
                        unit: terms.unit, labelExtra: terms.labelExtra, weight: w[c], label: V.load(labelIndex + i), class: c)
                    return offset.plusProduct(terms.scale, prob)
                }
            } else {
                let classIndex = V(repeating: Float(c))
                storeRow(V.self, full: full, rest: rest, to: g + c * plane, streaming: true) { i in
                    let coef = V.load(coefficient + i)
                    let prob = VectorMath.exp((V.load(row + i) - V.load(maximum + i)) - V.load(logSum + i))
                    let b = V(repeating: 0) - coef * off
                    let bLabel = b - coef * extra
                    return b.with(bLabel, where: V.load(labelIndex + i) .== classIndex).plusProduct(coef, prob)
                }
            }
        }
    }
}
