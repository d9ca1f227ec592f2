import CHardPixelMiningSupport

extension Kernels {
    /// The gradient pass over pixels `range` of one image:
    /// `g_ij = coefficient_i · (p_ij − y_ij)` with `p_ij = exp((x_ij − m_i) − logSum_i)`, one exp
    /// per logit. Each tile is copied from DRAM, then gone through column by column
    /// (``forEachColumn(count:lanes:alignedFrom:_:)``) with the column's per-pixel terms in
    /// registers, and its gradient vectors streamed out with non-temporal stores.
    /// `coefficient` is 0 on ignored pixels, which then get a zero gradient.
    package static func gradient(
        logits: LogitBuffer, labels: UnsafePointer<Int32>, plane: Int, range: Range<Int>,
        targets: Targets, maximum: UnsafePointer<Float>, logSum: UnsafePointer<Float>,
        coefficient: UnsafePointer<Float>, labelCoefficient: UnsafePointer<Float>? = nil, gradient: MutableLogitBuffer,
        accumulating: Bool, layout: TileLayout, scratch: UnsafeMutablePointer<Float>
    ) {
        switch Kernels.vectorLanes {
        case 16: self.gradient(SIMD16<Float>.self, logits, labels, plane, range, targets, maximum, logSum, coefficient, labelCoefficient, gradient, accumulating, layout, scratch)
        case 4: self.gradient(SIMD4<Float>.self, logits, labels, plane, range, targets, maximum, logSum, coefficient, labelCoefficient, gradient, accumulating, layout, scratch)
        default: self.gradient(SIMD8<Float>.self, logits, labels, plane, range, targets, maximum, logSum, coefficient, labelCoefficient, gradient, accumulating, layout, scratch)
        }
        hpm_stream_fence()
    }

    private static func gradient<V: FloatLanes>(
        _: V.Type, _ x: LogitBuffer, _ labels: UnsafePointer<Int32>, _ plane: Int, _ range: Range<Int>,
        _ t: Targets, _ maximum: UnsafePointer<Float>, _ logSum: UnsafePointer<Float>,
        _ coefficient: UnsafePointer<Float>, _ labelCoefficient: UnsafePointer<Float>?, _ g: MutableLogitBuffer,
        _ accumulating: Bool,
        _ layout: TileLayout, _ scratch: UnsafeMutablePointer<Float>
    ) {
        let lanes = V.laneCount
        let labelIndex = layout.state(scratch, TileState.labelIndex)
        let labelWeight = layout.state(scratch, TileState.labelWeight)
        forEachTile(range, layout) { p, count in
            var prefetch = TilePrefetch(V.self, after: p, count: count, logits: x, plane: plane, layout: layout)
            // The logits were found finite by the statistics pass. A copy: in place measured
            // slower here (Docs/Performance.md, session 10).
            _ = loadTile(V.self, logits: x, plane: plane, p: p, count: count, layout: layout, scratch: scratch)
            let rows = layout.rows(scratch)
            gatherLabels(
                labels: labels, p: p, count: count, padded: (count + lanes - 1) / lanes * lanes, targets: t, layout: layout,
                scratch: scratch)
            let out = columnOutput(
                V.self, gradient: g, p: p, count: count, plane: plane, accumulating: accumulating, layout: layout,
                scratch: scratch)
            forEachColumn(count: count, lanes: lanes, alignedFrom: out.firstAligned) { o in
                // The per-pixel terms of the column; lanes past `count` (in the tile's padding) get 0.
                let n = Swift.min(lanes, count - o)
                let q = p + o
                let m = V.load(maximum + q, count: n, padding: 0)
                let lse = V.load(logSum + q, count: n, padding: 0)
                let coef = V.load(coefficient + q, count: n, padding: 0)
                // A modulated loss's `c2 · (p − [label])` (0 otherwise, which changes no bit).
                let c2 = labelCoefficient.map { V.load($0 + q, count: n, padding: 0) } ?? V(repeating: 0)
                let label = V.load(labelIndex + o)
                var row = rows.base + o, destination = out.base + o
                if let w = t.classWeights {
                    let labelW = V.load(labelWeight + o)
                    for c in 0..<layout.classes {
                        prefetch.advance()
                        let value = PixelGradient.weightedElement(
                            coefficient: coef, labelCoefficient: c2, label: label, labelWeight: labelW, weight: w[c], class: c,
                            probability: VectorMath.exp((V.load(row) - m) - lse), targets: t)
                        put(value, to: destination, streaming: out.streaming)
                        row += rows.stride
                        destination += out.rowStride
                    }
                } else {
                    // The class index as a vector counter, not a conversion and broadcast per class.
                    var classIndex = V(repeating: 0)
                    for _ in 0..<layout.classes {
                        prefetch.advance()
                        let value = PixelGradient.element(
                            coefficient: coef, labelCoefficient: c2, label: label, classIndex: classIndex,
                            probability: VectorMath.exp((V.load(row) - m) - lse), targets: t)
                        put(value, to: destination, streaming: out.streaming)
                        classIndex = classIndex + V(repeating: 1)
                        row += rows.stride
                        destination += out.rowStride
                    }
                }
            }
            if !out.streaming {
                streamTile(V.self, to: g, plane: plane, p: p, count: count, layout: layout, scratch: scratch, accumulating: accumulating)
            }
        }
    }
}

/// `coef · (p_j − y_j)` of one vector of pixels, class by class. Without class weights the
/// element is `b + coef · p` with `b = −coef · off` (and `− coef · (on − off)` more for the true
/// class, by a compare and blend); with them, ``Kernels/weightedGradientTerms(coefficient:labelWeight:targets:)``.
/// The callers test `targets.classWeights` once, outside their loops.
private enum PixelGradient {
    @inline(__always)
    static func element<V: FloatLanes>(
        coefficient coef: V, labelCoefficient c2: V, label: V, classIndex: V, probability p: V, targets t: Targets
    ) -> V {
        let offset = V(repeating: 0) - coef * V(repeating: t.off)
        let labelOffset = offset - coef * V(repeating: t.on - t.off) - c2
        return offset.with(labelOffset, where: label .== classIndex).plusProduct(coef + c2, p)
    }

    @inline(__always)
    static func weightedElement<V: FloatLanes>(
        coefficient coef: V, labelCoefficient c2: V, label: V, labelWeight: V, weight: Float, class c: Int, probability p: V,
        targets t: Targets
    ) -> V {
        let terms = Kernels.weightedGradientTerms(coefficient: coef, labelWeight: labelWeight, targets: t)
        return Kernels.weightedOffset(unit: terms.unit, labelExtra: terms.labelExtra - c2, weight: weight, label: label, class: c)
            .plusProduct(terms.scale + c2, p)
    }
}
