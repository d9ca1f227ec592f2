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
        let loss = layout.state(scratch, TileState.argmax)  // the argmax is not needed here
        var finite = true
        var sum = 0.0
        forEachTile(range, layout) { p, count in
            let vectors = (count + lanes - 1) / lanes
            finite = summarizeTile(
                V.self, logits: x, labels: labels, plane: plane, p: p, count: count, targets: t, layout: layout,
                scratch: scratch, argmax: false, keepingExponentials: g != nil, scale: scale, weights: weights,
                prefetch: TilePrefetch(V.self, after: p, count: count, of: range, logits: x, plane: plane, layout: layout)) && finite
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
            // Sweep 3: a Float NCHW gradient that is overwritten straight from the tile to
            // memory; otherwise in place in the tile, then rounded or transposed on the way out.
            if g.precision == .float32 && !layout.channelsLast && !accumulating {
                return gradientRows(
                    V.self, to: g.base.assumingMemoryBound(to: Float.self) + p, rowStride: plane, streaming: true,
                    count: count, targets: t, layout: layout, scratch: scratch)
            }
            gradientRows(
                V.self, to: scratch, rowStride: layout.stride, streaming: false, count: count, targets: t, layout: layout,
                scratch: scratch)
            streamTile(V.self, to: g, plane: plane, p: p, count: count, layout: layout, scratch: scratch, accumulating: accumulating)
        }
        return (sum, finite)
    }

    /// Sweep 3, class row after class row: `g = offset_c + a · e` from the tile's exponentials
    /// (`a = coef / Σe` and the offsets of ``weightedGradientTerms`` with class weights; the
    /// true class's element by a compare and blend), into row `c` at `out + c · rowStride`.
    /// `streaming`: `out` is the gradient's memory (Float NCHW, overwritten), written with
    /// non-temporal stores where a row is 16-byte aligned (ordinary ones elsewhere and for a
    /// short last vector), so that the gradient never goes back through the tile and its
    /// stores drain while it is computed; otherwise `out` is the tile itself (in place), for
    /// ``streamTile(_:to:plane:p:count:layout:scratch:accumulating:)`` to round or transpose.
    /// The per-pixel terms are first put in the state rows the loss no longer needs.
    @inline(__always)
    private static func gradientRows<V: FloatLanes>(
        _: V.Type, to out: UnsafeMutablePointer<Float>, rowStride: Int, streaming: Bool, count: Int, targets t: Targets,
        layout: TileLayout, scratch: UnsafeMutablePointer<Float>
    ) {
        let lanes = V.laneCount
        let full = count / lanes, rest = count % lanes
        let vectors = full + (rest > 0 ? 1 : 0)
        let coefficient = layout.state(scratch, TileState.coefficient)
        let labelIndex = layout.state(scratch, TileState.labelIndex)
        let labelWeight = layout.state(scratch, TileState.labelWeight)
        // a (over Σe), the offset of every class b (unit, with class weights) and the true
        // class's extra, in place of Σe, Σgap and x_label.
        let a = layout.state(scratch, TileState.sumExp)
        let b = layout.state(scratch, TileState.sumGap)
        let extraRow = layout.state(scratch, TileState.labelValue)
        let off = V(repeating: t.off), extra = V(repeating: t.on - t.off)
        for v in 0..<vectors {
            let i = v * lanes
            let coef = V.load(coefficient + i)
            if t.classWeights != nil {
                let terms = weightedGradientTerms(coefficient: coef, labelWeight: V.load(labelWeight + i), targets: t)
                (terms.scale / V.load(a + i)).store(to: a + i)
                terms.unit.store(to: b + i)
                terms.labelExtra.store(to: extraRow + i)
            } else {
                (coef / V.load(a + i)).store(to: a + i)
                let unit = V(repeating: 0) - coef * off
                unit.store(to: b + i)
                (unit - coef * extra).store(to: extraRow + i)
            }
        }
        for c in 0..<layout.classes {
            let row = scratch + c * layout.stride, destination = out + c * rowStride
            if let w = t.classWeights {
                storeRow(V.self, full: full, rest: rest, to: destination, streaming: streaming) { i in
                    weightedOffset(unit: V.load(b + i), labelExtra: V.load(extraRow + i), weight: w[c],
                                   label: V.load(labelIndex + i), class: c)
                        .plusProduct(V.load(a + i), V.load(row + i))
                }
            } else {
                let classIndex = V(repeating: Float(c))
                storeRow(V.self, full: full, rest: rest, to: destination, streaming: streaming) { i in
                    V.load(b + i).with(V.load(extraRow + i), where: V.load(labelIndex + i) .== classIndex)
                        .plusProduct(V.load(a + i), V.load(row + i))
                }
            }
        }
    }

    /// Stores `element(i)` for the `full · lanes + rest` elements of one row. Streaming (when
    /// `streaming` and the row holds at least one vector), the vectors go out with non-temporal
    /// stores at addresses aligned as ``FloatLanes/streamAlignment`` requires: where the row
    /// starts elsewhere, a head vector up to the first such address and a tail vector ending at
    /// the row's end are ordinary stores that overlap the stream (each lane depends on its own
    /// element only, so an overlapped element is written twice with the same value). Otherwise
    /// every vector is an ordinary store, the `rest` lanes of a short last vector included.
    @inline(__always)
    static func storeRow<V: FloatLanes>(
        _: V.Type, full: Int, rest: Int, to destination: UnsafeMutablePointer<Float>, streaming: Bool,
        _ element: (Int) -> V
    ) {
        let lanes = V.laneCount
        if streaming && full > 0 {
            let count = full * lanes + rest
            let misalignment = Int(bitPattern: destination) & (V.streamAlignment - 1)
            var i = 0
            if misalignment != 0 {
                element(0).store(to: destination)
                // The first aligned element: within the head vector, as every alignment in use
                // is at most the vector's size and a Float address is 4-byte aligned.
                i = (V.streamAlignment - misalignment) / 4
            }
            while i + lanes <= count {
                element(i).streamNonTemporal(to: destination + i)
                i += lanes
            }
            if i < count { element(count - lanes).store(to: destination + count - lanes) }
            return
        }
        for v in 0..<full { element(v * lanes).store(to: destination + v * lanes) }
        if rest > 0 { element(full * lanes).store(to: destination + full * lanes, count: rest) }
    }
}
