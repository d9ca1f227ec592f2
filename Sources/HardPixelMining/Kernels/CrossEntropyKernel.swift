import CHardPixelMiningSupport

extension Kernels {
    /// Label-smoothed cross-entropy and its gradient in one pass over pixels `range` of one
    /// image: each logit is read from DRAM once, exp is computed once per logit (kept in the
    /// tile), and the gradient `g_ij = coef_i · (e_ij / Σ_j e_ij − y_ij)` is streamed out with
    /// non-temporal stores. `coef_i = scale · w_i` on valid labels (w_i = 1 without pixel
    /// weights), 0 elsewhere. `pixelWeights` and `pixelLosses` are indexed by the image's pixel.
    ///
    /// - Returns: Σ w_i · ce_i over the range in pixel order (Double), and whether every logit
    ///   of the range was finite (if not, the gradient and losses of the range are meaningless).
    static func crossEntropy(
        logits: LogitBuffer, labels: UnsafePointer<Int32>, plane: Int, range: Range<Int>,
        targets: Targets, scale: Float, pixelWeights: UnsafePointer<Float>?, gradient: MutableLogitBuffer?,
        accumulating: Bool, pixelLosses: UnsafeMutablePointer<Float>?, layout: TileLayout,
        scratch: UnsafeMutablePointer<Float>
    ) -> (sum: Double, finite: Bool) {
        let result = switch HPM_VECTOR_LANES {
        case 16: crossEntropy(SIMD16<Float>.self, logits, labels, plane, range, targets, scale, pixelWeights, gradient, accumulating, pixelLosses, layout, scratch)
        case 4: crossEntropy(SIMD4<Float>.self, logits, labels, plane, range, targets, scale, pixelWeights, gradient, accumulating, pixelLosses, layout, scratch)
        default: crossEntropy(SIMD8<Float>.self, logits, labels, plane, range, targets, scale, pixelWeights, gradient, accumulating, pixelLosses, layout, scratch)
        }
        if gradient != nil { hpm_stream_fence() }
        return result
    }

    private static func crossEntropy<V: FloatLanes>(
        _: V.Type, _ x: LogitBuffer, _ labels: UnsafePointer<Int32>, _ plane: Int, _ range: Range<Int>,
        _ t: Targets, _ scale: Float, _ weights: UnsafePointer<Float>?, _ g: MutableLogitBuffer?,
        _ accumulating: Bool, _ losses: UnsafeMutablePointer<Float>?, _ layout: TileLayout,
        _ scratch: UnsafeMutablePointer<Float>
    ) -> (sum: Double, finite: Bool) {
        let lanes = V.laneCount
        let rowLength = layout.stride
        let coefficient = layout.state(scratch, TileState.coefficient)
        let sumExp = layout.state(scratch, TileState.sumExp)
        let loss = layout.state(scratch, TileState.argmax)  // the argmax is not needed here
        var finite = true
        var sum = 0.0
        forEachTile(range, layout) { p, count in
            let vectors = (count + lanes - 1) / lanes
            finite = summarizeTile(
                V.self, logits: x, labels: labels, plane: plane, p: p, count: count, targets: t, layout: layout,
                scratch: scratch, argmax: false, keepingExponentials: g != nil, scale: scale, weights: weights) && finite
            for v in 0..<vectors {
                crossEntropy(V.self, vector: v, targets: t, layout: layout, scratch: scratch).loss.store(to: loss + v * lanes)
            }
            if let weights {
                for i in 0..<count { sum += Double(weights[p + i]) * Double(loss[i]) }
            } else {
                for i in 0..<count { sum += Double(loss[i]) }
            }
            (losses.map { $0 + p })?.update(from: loss, count: count)
            guard let g else { return }
            // Sweep 3, over the tile in cache: coef · (e / Σe − y), in place; the true class's
            // element by a compare and blend.
            let off = V(repeating: t.off), extra = V(repeating: t.on - t.off)
            let labelIndex = layout.state(scratch, TileState.labelIndex)
            let labelWeight = layout.state(scratch, TileState.labelWeight)
            for v in 0..<vectors {
                let coef = V.load(coefficient + v * lanes)
                let label = V.load(labelIndex + v * lanes)
                var row = scratch + v * lanes
                if let w = t.classWeights {
                    let terms = weightedGradientTerms(coefficient: coef, labelWeight: V.load(labelWeight + v * lanes), targets: t)
                    let a = terms.scale / V.load(sumExp + v * lanes)
                    for c in 0..<layout.classes {
                        let offset = weightedOffset(unit: terms.unit, labelExtra: terms.labelExtra, weight: w[c], label: label, class: c)
                        offset.plusProduct(a, V.load(row)).store(to: row)
                        row += rowLength
                    }
                } else {
                    let a = coef / V.load(sumExp + v * lanes)
                    let b = V(repeating: 0) - coef * off
                    let bLabel = b - coef * extra
                    for c in 0..<layout.classes {
                        let offset = b.with(bLabel, where: label .== V(repeating: Float(c)))
                        offset.plusProduct(a, V.load(row)).store(to: row)
                        row += rowLength
                    }
                }
            }
            streamTile(V.self, to: g, plane: plane, p: p, count: count, layout: layout, scratch: scratch, accumulating: accumulating)
        }
        return (sum, finite)
    }
}
