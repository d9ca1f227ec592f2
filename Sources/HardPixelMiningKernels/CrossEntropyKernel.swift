import CHardPixelMiningSupport

extension Kernels {
    /// Label-smoothed cross-entropy and its gradient in one pass over pixels `range` of one
    /// image: each logit is read from DRAM once (the copy into the tile), then the tile is
    /// gone through column by column (``summarizeColumn``): exp is computed once per logit and
    /// kept in L1 for the column's gradient `g_ij = coef_i · (e_ij / Σ_j e_ij − y_ij)`, which is
    /// streamed out with non-temporal stores. `coef_i = scale · w_i` on valid labels (w_i = 1 without pixel
    /// weights), 0 elsewhere. `pixelWeights` and `pixelLosses` are indexed by the image's pixel.
    ///
    /// - Returns: Σ w_i · ce_i over the range in pixel order (Double), and whether every logit
    ///   of the range was finite (if not, the gradient and losses of the range are meaningless).
    package static func crossEntropy(
        logits: LogitBuffer, labels: UnsafePointer<Int32>, plane: Int, range: Range<Int>,
        targets: Targets, scale: Float, pixelWeights: UnsafePointer<Float>?, modulation: Modulation? = nil,
        gradient: MutableLogitBuffer?, accumulating: Bool, pixelLosses: UnsafeMutablePointer<Float>?, layout: TileLayout,
        scratch: UnsafeMutablePointer<Float>
    ) -> (sum: Double, finite: Bool) {
        // One specialisation with the modulation and one without, so that the plain loss's
        // column sweep carries no trace of it.
        func run<M: ModulationSwitch>(_: M.Type) -> (sum: Double, finite: Bool) {
            switch Kernels.vectorLanes {
            case 16: crossEntropy(SIMD16<Float>.self, M.self, logits, labels, plane, range, targets, scale, pixelWeights, modulation, gradient, accumulating, pixelLosses, layout, scratch)
            case 4: crossEntropy(SIMD4<Float>.self, M.self, logits, labels, plane, range, targets, scale, pixelWeights, modulation, gradient, accumulating, pixelLosses, layout, scratch)
            default: crossEntropy(SIMD8<Float>.self, M.self, logits, labels, plane, range, targets, scale, pixelWeights, modulation, gradient, accumulating, pixelLosses, layout, scratch)
            }
        }
        let result = modulation == nil ? run(Unmodulated.self) : run(Modulated.self)
        if gradient != nil { hpm_stream_fence() }
        return result
    }

    private static func crossEntropy<V: FloatLanes, M: ModulationSwitch>(
        _: V.Type, _: M.Type, _ x: LogitBuffer, _ labels: UnsafePointer<Int32>, _ plane: Int, _ range: Range<Int>,
        _ t: Targets, _ scale: Float, _ weights: UnsafePointer<Float>?, _ modulation: Modulation?, _ g: MutableLogitBuffer?,
        _ accumulating: Bool, _ losses: UnsafeMutablePointer<Float>?, _ layout: TileLayout,
        _ scratch: UnsafeMutablePointer<Float>
    ) -> (sum: Double, finite: Bool) {
        let lanes = V.laneCount
        let loss = layout.state(scratch, TileState.argmax)  // the argmax is not needed here
        let exponentials = layout.exponentials(scratch)
        var finite = true
        var sum = 0.0
        forEachTile(range, layout) { p, count in
            var prefetch = TilePrefetch(V.self, after: p, count: count, logits: x, plane: plane, layout: layout)
            let out = g.map {
                columnOutput(V.self, gradient: $0, p: p, count: count, plane: plane, accumulating: accumulating,
                             layout: layout, scratch: scratch)
            }
            // In place where the columns stream their gradient (measured faster only there).
            let tile = tileRows(
                V.self, logits: x, plane: plane, p: p, count: count, layout: layout, scratch: scratch,
                inPlace: out?.streaming == true)
            finite = tile.finite && finite
            gatherLabels(
                labels: labels, p: p, count: count, padded: (count + lanes - 1) / lanes * lanes, targets: t, layout: layout,
                scratch: scratch, scale: scale, weights: weights, labelValues: tile.copied ? tile.rows : nil)
            var finiteness = V(repeating: 0)
            forEachColumn(count: count, lanes: lanes, alignedFrom: out?.firstAligned ?? (tile.copied ? nil : 0)) { o in
                finiteness = finiteness + summarizeColumn(
                    V.self, at: o, argmax: false, rows: tile.rows, layout: layout, scratch: scratch,
                    exponentials: out == nil ? nil : exponentials, classWeights: t.classWeights, prefetch: &prefetch,
                    readsInPlace: !tile.copied)
                let column = crossEntropy(V.self, at: o, targets: t, layout: layout, scratch: scratch)
                if M.isOn, let modulation {
                    // Focal and PolyLoss-1: the pixel's loss and its coefficients, modulated (not
                    // stored back: the columns at a tile's ends overlap their neighbours).
                    let r = modulate(
                        loss: column.loss, labelLogProbability: column.labelLogProbability,
                        alpha: classAlpha(modulation.classAlpha, labels: V.load(layout.state(scratch, TileState.labelIndex) + o)),
                        modulation)
                    r.loss.store(to: loss + o)
                    if let out {
                        let coefficient = V.load(layout.state(scratch, TileState.coefficient) + o)
                        gradientColumn(
                            V.self, M.self, at: o, exponentials: exponentials, targets: t,
                            coefficient: saturatedCoefficient(coefficient * r.factor, t.coefficientLimit),
                            labelCoefficient: saturatedCoefficient(coefficient * r.labelFactor, t.coefficientLimit), layout: layout,
                            scratch: scratch, to: out.base + o, rowStride: out.rowStride, streaming: out.streaming)
                    }
                } else {
                    column.loss.store(to: loss + o)
                    if let out {
                        gradientColumn(
                            V.self, M.self, at: o, exponentials: exponentials, targets: t,
                            coefficient: V.load(layout.state(scratch, TileState.coefficient) + o),
                            labelCoefficient: V(repeating: 0), layout: layout, scratch: scratch, to: out.base + o,
                            rowStride: out.rowStride, streaming: out.streaming)
                    }
                }
            }
            finite = allZero(finiteness) && finite
            var tileSum = 0.0
            if let weights {
                for i in 0..<count { tileSum += Double(weights[p + i]) * Double(loss[i]) }
            } else {
                for i in 0..<count { tileSum += Double(loss[i]) }
            }
            sum += tileSum
            (losses.map { $0 + p })?.update(from: loss, count: count)
            if let g, let out, !out.streaming {
                streamTile(V.self, to: g, plane: plane, p: p, count: count, layout: layout, scratch: scratch, accumulating: accumulating)
            }
        }
        return (sum, finite)
    }

    /// The gradient of the column at offset `o`, `g_c = offset_c + a · e_c` for every class c,
    /// from its exponentials `e_c` (``summarizeColumn``) and its state: `a = coef / Σe` and
    /// `offset_c = −coef · (off + (on − off) [c = label])`, or with class weights `a` and the
    /// offsets of ``weightedGradientTerms(coefficient:labelWeight:targets:)`` (the true class's
    /// element by a compare and blend). Class c's vector goes to `out + c · rowStride`, through
    /// ``put(_:to:streaming:)``. A modulated loss adds `labelCoefficient · (p_c − [c = label])`
    /// (0 otherwise, which changes no bit).
    @inline(__always)
    private static func gradientColumn<V: FloatLanes, M: ModulationSwitch>(
        _: V.Type, _: M.Type, at o: Int, exponentials e: UnsafePointer<Float>, targets t: Targets, coefficient coef: V,
        labelCoefficient c2: V, layout: TileLayout,
        scratch: UnsafeMutablePointer<Float>, to out: UnsafeMutablePointer<Float>, rowStride: Int, streaming: Bool
    ) {
        let lanes = V.laneCount
        let label = V.load(layout.state(scratch, TileState.labelIndex) + o)
        let sumExp = V.load(layout.state(scratch, TileState.sumExp) + o)
        var destination = out
        if let w = t.classWeights {
            let terms = weightedGradientTerms(
                coefficient: coef, labelWeight: V.load(layout.state(scratch, TileState.labelWeight) + o), targets: t)
            let a = (M.isOn ? terms.scale + c2 : terms.scale) / sumExp
            let labelExtra = M.isOn ? terms.labelExtra - c2 : terms.labelExtra
            var exponential = e
            for c in 0..<layout.classes {
                let offset = weightedOffset(unit: terms.unit, labelExtra: labelExtra, weight: w[c], label: label, class: c)
                put(offset.plusProduct(a, V.load(exponential)), to: destination, streaming: streaming)
                exponential += lanes
                destination += rowStride
            }
        } else {
            let a = (M.isOn ? coef + c2 : coef) / sumExp
            let unit = V(repeating: 0) - coef * V(repeating: t.off)
            let labelUnit = M.isOn ? unit - coef * V(repeating: t.on - t.off) - c2 : unit - coef * V(repeating: t.on - t.off)
            var classIndex = V(repeating: 0)
            var exponential = e
            for _ in 0..<layout.classes {
                let offset = unit.with(labelUnit, where: label .== classIndex)
                put(offset.plusProduct(a, V.load(exponential)), to: destination, streaming: streaming)
                classIndex = classIndex + V(repeating: 1)
                exponential += lanes
                destination += rowStride
            }
        }
    }

    /// A gradient coefficient (>= 0) saturated at `limit` (``Targets/coefficientLimit``), so that
    /// `coef · (p − y)` and its sums stay finite.
    @inline(__always)
    static func saturatedCoefficient<V: FloatLanes>(_ v: V, _ limit: Float) -> V {
        let limit = V(repeating: limit)
        return v.with(limit, where: v .> limit)
    }
}

/// Whether a kernel is specialised with the modulation (focal, PolyLoss-1), as a type so that
/// the choice is a constant in each specialisation.
protocol ModulationSwitch { static var isOn: Bool { get } }
enum Unmodulated: ModulationSwitch { static var isOn: Bool { false } }
enum Modulated: ModulationSwitch { static var isOn: Bool { true } }
