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
        let labelIndex = layout.state(scratch, TileState.labelIndex)
        let labelWeight = layout.state(scratch, TileState.labelWeight)
        let direct = x.precision == .float32 && g.precision == .float32 && !layout.channelsLast && !accumulating
        forEachTile(range, layout) { p, count in
            let full = count / lanes, rest = count % lanes
            let vectors = full + (rest > 0 ? 1 : 0)
            if direct && full > 0 {
                gatherLabels(
                    labels: labels, p: p, count: count, padded: vectors * lanes, targets: t, layout: layout, scratch: scratch,
                    labelValues: false)
                return streamedGradientRows(
                    V.self, logits: x.base.assumingMemoryBound(to: Float.self) + p, plane: plane, count: count, targets: t,
                    maximum: maximum + p, logSum: logSum + p, coefficient: coefficient + p,
                    gradient: g.base.assumingMemoryBound(to: Float.self) + p, layout: layout, scratch: scratch)
            }
            // The logits were found finite by the statistics pass.
            _ = loadTile(V.self, logits: x, plane: plane, p: p, count: count, layout: layout, scratch: scratch)
            gatherLabels(
                labels: labels, p: p, count: count, padded: vectors * lanes, targets: t, layout: layout, scratch: scratch,
                labelValues: false)
            // Pixel by pixel, in place: coef · (exp((x − m) − logSum) − y), the true class's
            // element by a compare and blend.
            for v in 0..<vectors {
                let n = v < full ? lanes : rest
                let q = p + v * lanes
                let m = V.load(maximum + q, count: n, padding: 0)
                let lse = V.load(logSum + q, count: n, padding: 0)
                let coef = V.load(coefficient + q, count: n, padding: 0)
                let label = V.load(labelIndex + v * lanes), labelW = V.load(labelWeight + v * lanes)
                var row = scratch + v * lanes
                for c in 0..<layout.classes {
                    let prob = VectorMath.exp((V.load(row) - m) - lse)
                    let value = t.classWeights.map {
                        PixelGradient.weightedElement(
                            coefficient: coef, label: label, labelWeight: labelW, weight: $0[c], class: c, probability: prob,
                            targets: t)
                    } ?? PixelGradient.element(coefficient: coef, label: label, class: c, probability: prob, targets: t)
                    value.store(to: row)
                    row += layout.stride
                }
            }
            streamTile(V.self, to: g, plane: plane, p: p, count: count, layout: layout, scratch: scratch, accumulating: accumulating)
        }
    }

    /// The gradient of one tile of at least one vector of pixels, for Float NCHW logits and an
    /// overwritten Float NCHW gradient: class row after class row, each element read from
    /// DRAM, turned into `coefficient · (p − y)` in registers by the same ``PixelGradient`` as the
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
        let labelIndex = layout.state(scratch, TileState.labelIndex)
        let labelWeight = layout.state(scratch, TileState.labelWeight)
        for c in 0..<layout.classes {
            let row = x + c * plane
            @inline(__always) func probability(_ i: Int) -> V {
                VectorMath.exp((V.load(row + i) - V.load(maximum + i)) - V.load(logSum + i))
            }
            if let w = t.classWeights {
                storeRow(V.self, full: full, rest: rest, to: g + c * plane, streaming: true) { i in
                    PixelGradient.weightedElement(
                        coefficient: V.load(coefficient + i), label: V.load(labelIndex + i), labelWeight: V.load(labelWeight + i),
                        weight: w[c], class: c, probability: probability(i), targets: t)
                }
            } else {
                storeRow(V.self, full: full, rest: rest, to: g + c * plane, streaming: true) { i in
                    PixelGradient.element(
                        coefficient: V.load(coefficient + i), label: V.load(labelIndex + i), class: c, probability: probability(i),
                        targets: t)
                }
            }
        }
    }
}

/// `coef · (p_j − y_j)` of one vector of pixels, class by class: the per-pixel terms once, then
/// each class's element from its probability. The one definition that the tile path and the
/// streamed path of ``Kernels/gradient(logits:labels:plane:range:targets:maximum:logSum:coefficient:gradient:accumulating:layout:scratch:)``
/// share, so that they agree bitwise by construction. Without class weights the element is
/// `b + coef · p` with `b = −coef · off` (and `− coef · (on − off)` more for the true class, by a
/// compare and blend); with them, ``Kernels/weightedGradientTerms(coefficient:labelWeight:targets:)``.
/// The callers test `targets.classWeights` once, outside their loops.
private enum PixelGradient {
    @inline(__always)
    static func element<V: FloatLanes>(coefficient coef: V, label: V, class c: Int, probability p: V, targets t: Targets) -> V {
        let offset = V(repeating: 0) - coef * V(repeating: t.off)
        let labelOffset = offset - coef * V(repeating: t.on - t.off)
        return offset.with(labelOffset, where: label .== V(repeating: Float(c))).plusProduct(coef, p)
    }

    @inline(__always)
    static func weightedElement<V: FloatLanes>(
        coefficient coef: V, label: V, labelWeight: V, weight: Float, class c: Int, probability p: V, targets t: Targets
    ) -> V {
        let terms = Kernels.weightedGradientTerms(coefficient: coef, labelWeight: labelWeight, targets: t)
        return Kernels.weightedOffset(unit: terms.unit, labelExtra: terms.labelExtra, weight: weight, label: label, class: c)
            .plusProduct(terms.scale, p)
    }
}
