import CHardPixelMiningSupport

extension Kernels {
    /// The gradient pass over pixels `range` of one image:
    /// `g_ij = coefficient_i · (p_ij − y_ij)`, computed as `offset_ij + a_i · e_ij` with
    /// `e_ij = exp(x_ij − m_i)` (one exp per logit) and `a_i = coefficient_i / exp(logSum_i)`,
    /// bitwise as ``gradient(fromExponentials:labels:plane:range:targets:logSum:coefficient:labelCoefficient:layout:scratch:)``. Each tile is copied from DRAM, then gone through column by column
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
                // a = coefficient / Σ_j exp(x_j − m) and the offsets, per column, as the pass from
                // kept exponentials computes them: the two give bitwise the same gradient.
                let sumExp = VectorMath.exp(lse)
                let label = V.load(labelIndex + o)
                var row = rows.base + o, destination = out.base + o
                if let w = t.classWeights {
                    let terms = weightedGradientTerms(coefficient: coef, labelWeight: V.load(labelWeight + o), targets: t)
                    let a = (terms.scale + c2) / sumExp, labelExtra = terms.labelExtra - c2
                    for c in 0..<layout.classes {
                        prefetch.advance()
                        let offset = weightedOffset(unit: terms.unit, labelExtra: labelExtra, weight: w[c], label: label, class: c)
                        put(offset.plusProduct(a, VectorMath.exp(V.load(row) - m)), to: destination, streaming: out.streaming)
                        row += rows.stride
                        destination += out.rowStride
                    }
                } else {
                    let a = (coef + c2) / sumExp
                    let unit = V(repeating: 0) - coef * V(repeating: t.off)
                    let labelUnit = unit - coef * V(repeating: t.on - t.off) - c2
                    // The class index as a vector counter, not a conversion and broadcast per class.
                    var classIndex = V(repeating: 0)
                    for _ in 0..<layout.classes {
                        prefetch.advance()
                        let offset = unit.with(labelUnit, where: label .== classIndex)
                        put(offset.plusProduct(a, VectorMath.exp(V.load(row) - m)), to: destination, streaming: out.streaming)
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

extension Kernels {
    /// The gradient pass from the exponentials `e_ij = exp(x_ij − m_i)` that the statistics pass
    /// left in the gradient (``statistics(logits:labels:plane:range:targets:layout:out:exponentials:scratch:)``;
    /// Float NCHW, overwritten), for pixels `range` of one image: `g_ij = offset_ij + a_i · e_ij`
    /// with `a_i = coefficient_i / Σ_j e_ij` (`Σ_j e_ij = exp(logSum_i)`), the offsets of
    /// ``gradient(logits:labels:plane:range:targets:maximum:logSum:coefficient:labelCoefficient:gradient:accumulating:layout:scratch:)``
    /// (a modulated loss's `labelCoefficient` included). No exp per logit: each element is read
    /// and written once, in place, class row by class row (runs of a tile's pixels, which the
    /// hardware prefetcher follows), with the tile's per-pixel terms in its state rows.
    package static func gradient(
        fromExponentials g: UnsafeMutablePointer<Float>, labels: UnsafePointer<Int32>, plane: Int, range: Range<Int>,
        targets: Targets, logSum: UnsafePointer<Float>, coefficient: UnsafePointer<Float>,
        labelCoefficient: UnsafePointer<Float>? = nil, layout: TileLayout, scratch: UnsafeMutablePointer<Float>
    ) {
        switch Kernels.vectorLanes {
        case 16: gradient(SIMD16<Float>.self, fromExponentials: g, labels, plane, range, targets, logSum, coefficient, labelCoefficient, layout, scratch)
        case 4: gradient(SIMD4<Float>.self, fromExponentials: g, labels, plane, range, targets, logSum, coefficient, labelCoefficient, layout, scratch)
        default: gradient(SIMD8<Float>.self, fromExponentials: g, labels, plane, range, targets, logSum, coefficient, labelCoefficient, layout, scratch)
        }
    }

    private static func gradient<V: FloatLanes>(
        _: V.Type, fromExponentials g: UnsafeMutablePointer<Float>, _ labels: UnsafePointer<Int32>, _ plane: Int,
        _ range: Range<Int>, _ t: Targets, _ logSum: UnsafePointer<Float>, _ coefficient: UnsafePointer<Float>,
        _ labelCoefficient: UnsafePointer<Float>?, _ layout: TileLayout, _ scratch: UnsafeMutablePointer<Float>
    ) {
        let lanes = V.laneCount
        let labelIndex = layout.state(scratch, TileState.labelIndex)
        let rows = RowTerms(layout, scratch)
        let (scaleRow, unitRow, labelRow) = (rows.scale, rows.unit, rows.label)
        forEachTile(range, layout) { p, count in
            storeRowTerms(
                V.self, labels: labels, p: p, count: count, targets: t, logSum: logSum, coefficient: coefficient,
                labelCoefficient: labelCoefficient, layout: layout, scratch: scratch)
            let whole = count / lanes * lanes
            for c in 0..<layout.classes {
                let row = g + c * plane + p
                let classIndex = V(repeating: Float(c)), weight = V(repeating: t.classWeights?[c] ?? 1)
                // `unit · w_c` (with class weights), or the unit's row itself (`· 1` would change no bit).
                let weighted = t.classWeights != nil
                @inline(__always) func element(_ o: Int, _ e: V) -> V {
                    let label = V.load(labelIndex + o), unit = V.load(unitRow + o)
                    let offset = weighted
                        ? (unit * weight).with(unit * weight + V.load(labelRow + o), where: label .== classIndex)
                        : unit.with(V.load(labelRow + o), where: label .== classIndex)
                    return offset.plusProduct(V.load(scaleRow + o), e)
                }
                var o = 0
                // The same loop twice, so that each copy is compiled for one value of `weighted`.
                if weighted {
                    while o < whole {
                        element(o, V.loadUnaligned(row + o)).storeUnaligned(to: row + o)
                        o &+= lanes
                    }
                } else {
                    while o < whole {
                        element(o, V.loadUnaligned(row + o)).storeUnaligned(to: row + o)
                        o &+= lanes
                    }
                }
                if o < count {
                    element(o, V.load(row + o, count: count - o, padding: 0)).store(to: row + o, count: count - o)
                }
            }
        }
    }
}

/// The state rows of a tile where the row-wise gradient passes keep each pixel's terms:
/// `a = coefficient / Σe`, the offset of every class (`unit`), and the true class's offset
/// (with class weights: its extra, added to `unit · w_label`).
struct RowTerms {
    let scale: UnsafeMutablePointer<Float>
    let unit: UnsafeMutablePointer<Float>
    let label: UnsafeMutablePointer<Float>

    init(_ layout: TileLayout, _ scratch: UnsafeMutablePointer<Float>) {
        scale = layout.state(scratch, TileState.coefficient)
        unit = layout.state(scratch, TileState.sumExp)
        label = layout.state(scratch, TileState.sumGap)
    }

    init(scale: UnsafeMutablePointer<Float>, unit: UnsafeMutablePointer<Float>, label: UnsafeMutablePointer<Float>) {
        self.scale = scale
        self.unit = unit
        self.label = label
    }
}

/// Where the row-wise gradient keeps a tile's per-pixel rows (m, the label index and the
/// ``RowTerms``): in the tile's part of the scratch, which that pass does not use, each row
/// starting at the same place within a 64-byte line as the tile's gradient row of class 0.
/// A class row's vectors start where its gradient is aligned for non-temporal stores, so that
/// the five rows' loads are then aligned too: with the state rows as they fell (a Swift
/// array's Floats start 48 bytes into a line, the scratch on a line), each of those loads
/// straddled two lines, and the pass took 1.22× its time (one thread, native). Where the tile's
/// part is too small (fewer than six classes), the state rows as they are.
struct AlignedRows {
    let maximum: UnsafeMutablePointer<Float>
    let labelIndex: UnsafeMutablePointer<Float>
    let terms: RowTerms

    init(_ layout: TileLayout, _ scratch: UnsafeMutablePointer<Float>, like row: UnsafeMutablePointer<Float>) {
        // Rows a whole number of lines apart (pixels is a multiple of 16), and two lines more
        // than they need, so that consecutive rows fall in different sets of a 4 KiB-indexed L1.
        let spacing = layout.pixels + 32
        guard layout.classes * layout.stride >= 5 * spacing + 32 else {
            maximum = layout.state(scratch, TileState.maximum)
            labelIndex = layout.state(scratch, TileState.labelIndex)
            terms = RowTerms(layout, scratch)
            return
        }
        let lineStart = scratch + (16 - (Int(bitPattern: scratch) & 63) / 4) % 16
        let base = lineStart + (Int(bitPattern: row) & 63) / 4
        maximum = base
        labelIndex = base + spacing
        terms = RowTerms(scale: base + 2 * spacing, unit: base + 3 * spacing, label: base + 4 * spacing)
    }
}

extension Kernels {
    /// Gathers the labels of pixels `p ..< p + count` and stores each pixel's ``RowTerms``
    /// (lanes past `count` get a coefficient of 0).
    @inline(__always)
    static func storeRowTerms<V: FloatLanes>(
        _: V.Type, labels: UnsafePointer<Int32>, p: Int, count: Int, targets t: Targets, logSum: UnsafePointer<Float>,
        coefficient: UnsafePointer<Float>, labelCoefficient: UnsafePointer<Float>?, layout: TileLayout,
        scratch: UnsafeMutablePointer<Float>, into rows: RowTerms? = nil
    ) {
        let lanes = V.laneCount
        let labelWeight = layout.state(scratch, TileState.labelWeight)
        let rows = rows ?? RowTerms(layout, scratch)
        let vectors = (count + lanes - 1) / lanes
        gatherLabels(labels: labels, p: p, count: count, padded: vectors * lanes, targets: t, layout: layout, scratch: scratch)
        for v in 0..<vectors {
            let o = v * lanes, n = Swift.min(lanes, count - o), q = p + o
            let coef = V.load(coefficient + q, count: n, padding: 0)
            let c2 = labelCoefficient.map { V.load($0 + q, count: n, padding: 0) } ?? V(repeating: 0)
            let sumExp = VectorMath.exp(V.load(logSum + q, count: n, padding: 0))
            if t.classWeights != nil {
                let terms = weightedGradientTerms(coefficient: coef, labelWeight: V.load(labelWeight + o), targets: t)
                ((terms.scale + c2) / sumExp).store(to: rows.scale + o)
                terms.unit.store(to: rows.unit + o)
                (terms.labelExtra - c2).store(to: rows.label + o)
            } else {
                let unit = V(repeating: 0) - coef * V(repeating: t.off)
                ((coef + c2) / sumExp).store(to: rows.scale + o)
                unit.store(to: rows.unit + o)
                (unit - coef * V(repeating: t.on - t.off) - c2).store(to: rows.label + o)
            }
        }
    }

    /// The gradient pass reading Float NCHW logits a second time, row by row, for pixels
    /// `range` of one image, without class weights: as ``gradient(fromExponentials:labels:plane:range:targets:logSum:coefficient:labelCoefficient:layout:scratch:)``
    /// with `e_ij = exp(x_ij − maximum_i)` computed from the logits (one exp per logit), bitwise
    /// the same gradient, written over `g` with non-temporal stores. Each class row of a tile is
    /// one run read straight from memory and fetched ``rowPrefetchDistance`` Floats ahead by
    /// software prefetch (the hardware prefetcher starts afresh at every 4 KiB page of a run);
    /// no copy of the tile, no transposition to columns.
    package static func gradient(
        rowsOf logits: UnsafePointer<Float>, maximum: UnsafePointer<Float>, into g: UnsafeMutablePointer<Float>,
        labels: UnsafePointer<Int32>, plane: Int, range: Range<Int>, targets: Targets, logSum: UnsafePointer<Float>,
        coefficient: UnsafePointer<Float>, labelCoefficient: UnsafePointer<Float>? = nil, layout: TileLayout,
        scratch: UnsafeMutablePointer<Float>
    ) {
        precondition(targets.classWeights == nil, "the row-wise gradient is without class weights")
        switch Kernels.vectorLanes {
        case 16: gradient(SIMD16<Float>.self, rowsOf: logits, maximum, g, labels, plane, range, targets, logSum, coefficient, labelCoefficient, layout, scratch)
        case 4: gradient(SIMD4<Float>.self, rowsOf: logits, maximum, g, labels, plane, range, targets, logSum, coefficient, labelCoefficient, layout, scratch)
        default: gradient(SIMD8<Float>.self, rowsOf: logits, maximum, g, labels, plane, range, targets, logSum, coefficient, labelCoefficient, layout, scratch)
        }
        hpm_stream_fence()
    }

    /// How far ahead in a class row ``gradient(rowsOf:maximum:into:labels:plane:range:targets:logSum:coefficient:labelCoefficient:layout:scratch:)``
    /// asks for the logits: 4 KiB. Past a tile's row it fetches the next tile's, which the
    /// same worker takes next. (A C kernel of the same pass, native, one thread: its two passes
    /// took 1.9–2.0× the cross-entropy's time without the prefetch, 1.5× with it at 2 or 4 KiB
    /// ahead or one row ahead; Docs/Performance.md, session 18.)
    static let rowPrefetchDistance = 1024

    private static func gradient<V: FloatLanes>(
        _: V.Type, rowsOf logits: UnsafePointer<Float>, _ maximum: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>,
        _ labels: UnsafePointer<Int32>, _ plane: Int, _ range: Range<Int>, _ t: Targets, _ logSum: UnsafePointer<Float>,
        _ coefficient: UnsafePointer<Float>, _ labelCoefficient: UnsafePointer<Float>?, _ layout: TileLayout,
        _ scratch: UnsafeMutablePointer<Float>
    ) {
        let lanes = V.laneCount
        forEachTile(range, layout) { p, count in
            let state = AlignedRows(layout, scratch, like: g + p)
            let (maximumRow, labelIndex, rows) = (state.maximum, state.labelIndex, state.terms)
            storeRowTerms(
                V.self, labels: labels, p: p, count: count, targets: t, logSum: logSum, coefficient: coefficient,
                labelCoefficient: labelCoefficient, layout: layout, scratch: scratch, into: rows)
            let gathered = layout.state(scratch, TileState.labelIndex)
            var o = 0
            while o < count {
                V.load(maximum + p + o, count: Swift.min(lanes, count - o), padding: 0).store(to: maximumRow + o)
                if labelIndex != gathered { V.load(gathered + o).store(to: labelIndex + o) }
                o &+= lanes
            }
            for c in 0..<layout.classes {
                let source = logits + c * plane + p, row = g + c * plane + p
                let classIndex = V(repeating: Float(c))
                // The gradient of the vector of pixels at `o`, from their logits `x`.
                func element(_ o: Int, _ x: V) -> V {
                    let e = VectorMath.exp(x - V.load(maximumRow + o))
                    let offset = V.load(rows.unit + o).with(V.load(rows.label + o), where: V.load(labelIndex + o) .== classIndex)
                    return offset.plusProduct(V.load(rows.scale + o), e)
                }
                // Plain stores up to the row's first element aligned for a non-temporal store
                // (a large Swift array's Floats start 48 bytes into a line), then whole vectors
                // streamed, then the rest.
                let head = Swift.min(firstStreamedElement(V.self, row), count)
                if head > 0 { element(0, V.load(source, count: head, padding: 0)).store(to: row, count: head) }
                o = head
                while o &+ lanes <= count {
                    // `element(o, x)` written out: the optimizer left the nested function a call here.
                    hpm_prefetch(source + o + rowPrefetchDistance)
                    let e = VectorMath.exp(V.loadUnaligned(source + o) - V.load(maximumRow + o))
                    let offset = V.load(rows.unit + o).with(V.load(rows.label + o), where: V.load(labelIndex + o) .== classIndex)
                    offset.plusProduct(V.load(rows.scale + o), e).streamNonTemporal(to: row + o)
                    o &+= lanes
                }
                if o < count { element(o, V.load(source + o, count: count - o, padding: 0)).store(to: row + o, count: count - o) }
            }
        }
    }
}
