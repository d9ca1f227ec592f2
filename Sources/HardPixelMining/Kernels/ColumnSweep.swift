// The column sweep: after the copy from DRAM, a tile is gone through one column at a time —
// one vector of neighbouring pixels, all C classes — and everything a kernel does with that
// column happens before it moves on: the maximum, the exponentials and their sums, the
// loss, and (for the one-pass cross-entropy) the C gradient vectors. The column's C lines
// come from L2 once, for the maximum; the exponential loop finds them in L1, and the
// exponentials themselves go to a C-vector buffer in L1 (``TileLayout/exponentials(_:)``)
// for the gradient, never back into the tile. Going row by row instead (a sweep of the whole
// tile for the maximum, another for the exponentials, another for the gradient) brought
// every line back from L2 each time and ran the cross-entropy 1.5× slower
// (Docs/Performance.md, session 9).

extension Kernels {
    /// Calls `body(o)` with the offset of each vector of pixels that together cover pixels
    /// `0 ..< count` of a tile, in order.
    /// - Without `alignedFrom`: `0, lanes, 2·lanes, …`; the last vector may reach into the
    ///   tile's zero padding.
    /// - With `alignedFrom: first` (`first < lanes`, and `count >= lanes`): a head vector at 0
    ///   if `first > 0`, then `first, first + lanes, …` (the offsets whose gradient addresses
    ///   take non-temporal stores), then a tail vector at `count − lanes` if pixels are left.
    ///   The head and the tail overlap their neighbours, so every vector lies within the
    ///   tile's pixels; an overlapped pixel is computed twice from the same inputs, with the
    ///   same bits.
    @inline(__always)
    static func forEachColumn(count: Int, lanes: Int, alignedFrom first: Int?, _ body: (_ o: Int) -> Void) {
        guard let first, count >= lanes else {
            var o = 0
            while o < count {
                body(o)
                o += lanes
            }
            return
        }
        var covered = 0
        if first > 0 {
            body(0)
            covered = lanes
        }
        var o = first
        while o + lanes <= count {
            body(o)
            o += lanes
            covered = o
        }
        if covered < count { body(count - lanes) }
    }

    /// Where a tile's column gradients go, for pixels `p ..< p + count` of an image of `plane`
    /// pixels: a Float NCHW gradient that is overwritten takes them straight to its memory
    /// (`streaming`, from the columns aligned for non-temporal stores: pass `firstAligned` to
    /// ``forEachColumn(count:lanes:alignedFrom:_:)``), when ``streamsColumns(_:)`` and the tile
    /// holds a whole vector; otherwise they go in place into the tile (row stride
    /// `layout.stride`), and `streaming` is false: the caller then sends the tile through
    /// `streamTile`, which rounds, transposes or adds it on the way out.
    @inline(__always)
    static func columnOutput<V: FloatLanes>(
        _: V.Type, gradient g: MutableLogitBuffer, p: Int, count: Int, plane: Int, accumulating: Bool,
        layout: TileLayout, scratch: UnsafeMutablePointer<Float>
    ) -> (base: UnsafeMutablePointer<Float>, rowStride: Int, streaming: Bool, firstAligned: Int?) {
        guard g.precision == .float32 && !layout.channelsLast && !accumulating && count >= V.laneCount
            && streamsColumns(V.self) else {
            return (scratch, layout.stride, false, nil)
        }
        let base = g.base.assumingMemoryBound(to: Float.self) + p
        return (base, plane, true, firstStreamedElement(V.self, base))
    }

    /// Whether a column's gradient vectors may go straight to memory with non-temporal
    /// stores: only where one vector fills a whole cache line (16 lanes). With 8 lanes (the
    /// baseline build) a column writes half of each class row's line, so C half-filled
    /// write-combining buffers are open at once, more than a core has (about 10); they were
    /// flushed half-empty and the cross-entropy ran 5× slower (Docs/Performance.md, session 9).
    /// Narrower vectors write the column into the tile, and `streamTile` streams whole rows.
    @inline(__always)
    static func streamsColumns<V: FloatLanes>(_: V.Type) -> Bool {
        V.laneCount * MemoryLayout<Float>.size >= 64
    }

    /// The offset of the first element after `address` (a Float address) that is aligned as
    /// ``FloatLanes/streamAlignment`` requires: in `0 ..< V.laneCount`.
    @inline(__always)
    static func firstStreamedElement<V: FloatLanes>(_: V.Type, _ address: UnsafeMutablePointer<Float>) -> Int {
        let misalignment = Int(bitPattern: address) & (V.streamAlignment - 1)
        return misalignment == 0 ? 0 : (V.streamAlignment - misalignment) / MemoryLayout<Float>.size
    }

    /// The column at offset `o`: each pixel's largest logit and, with `argmax`, the first class
    /// that attains it (0 otherwise). Four running maxima over the classes c ≡ 0, 1, 2, 3 (mod 4),
    /// each started at class 0 and then combined, break the chain of C dependent compares (a
    /// compare's latency per class) into four: the column's loads from L2 overlap. The maximum is
    /// exact whatever the order; the argmax breaks ties towards the smaller class, so it is
    /// still the first one.
    @inline(__always)
    static func columnMaximum<V: FloatLanes>(
        _: V.Type, at o: Int, argmax: Bool, layout: TileLayout, scratch: UnsafeMutablePointer<Float>
    ) -> (maximum: V, argmax: V) {
        let column = scratch + o, stride = layout.stride, classes = layout.classes
        let first = V.load(column)
        var m = (first, first, first, first)
        if argmax {
            let zero = V(repeating: 0)
            var index = (zero, zero, zero, zero)
            @inline(__always) func step(_ m: inout V, _ index: inout V, _ c: Int) {
                let value = V.load(column + c * stride)
                let greater = value .> m
                m = m.with(value, where: greater)
                index = index.with(V(repeating: Float(c)), where: greater)
            }
            var c = 1
            while c + 3 < classes {
                step(&m.1, &index.1, c)
                step(&m.2, &index.2, c + 1)
                step(&m.3, &index.3, c + 2)
                step(&m.0, &index.0, c + 3)
                c += 4
            }
            while c < classes {
                step(&m.1, &index.1, c)
                c += 1
            }
            // (other, otherIndex) wins if larger, or equal with a smaller class.
            @inline(__always) func merge(_ m: inout V, _ index: inout V, _ other: V, _ otherIndex: V) {
                let smallerIndex = index.with(otherIndex, where: otherIndex .< index)
                let tiedIndex = index.with(smallerIndex, where: other .== m)
                index = tiedIndex.with(otherIndex, where: other .> m)
                m = m.with(other, where: other .> m)
            }
            merge(&m.0, &index.0, m.1, index.1)
            merge(&m.0, &index.0, m.2, index.2)
            merge(&m.0, &index.0, m.3, index.3)
            return (m.0, index.0)
        }
        @inline(__always) func step(_ m: inout V, _ c: Int) {
            let value = V.load(column + c * stride)
            m = m.with(value, where: value .> m)
        }
        var c = 1
        while c + 3 < classes {
            step(&m.1, c)
            step(&m.2, c + 1)
            step(&m.3, c + 2)
            step(&m.0, c + 3)
            c += 4
        }
        while c < classes {
            step(&m.1, c)
            c += 1
        }
        m.0 = m.0.with(m.1, where: m.1 .> m.0)
        m.2 = m.2.with(m.3, where: m.3 .> m.2)
        return (m.0.with(m.2, where: m.2 .> m.0), V(repeating: 0))
    }

    /// The column at offset `o`, into the state rows at `o`: m (and, with `argmax`, the first
    /// argmax), Σ_j exp(x_j − m) and Σ_j w_j (x_j − m) (w_j = 1 without class weights; each
    /// term clamped at ``gapFloor``), summed in class order. With `exponentials`, exp(x_c − m)
    /// is also kept there at `c · V.laneCount`. `prefetch` advances once per class.
    @inline(__always)
    static func summarizeColumn<V: FloatLanes>(
        _: V.Type, at o: Int, argmax: Bool, layout: TileLayout, scratch: UnsafeMutablePointer<Float>,
        exponentials: UnsafeMutablePointer<Float>?, classWeights: UnsafePointer<Float>?, prefetch: inout TilePrefetch
    ) {
        let (m, index) = columnMaximum(V.self, at: o, argmax: argmax, layout: layout, scratch: scratch)
        m.store(to: layout.state(scratch, TileState.maximum) + o)
        if argmax { index.store(to: layout.state(scratch, TileState.argmax) + o) }
        let floor = V(repeating: gapFloor)
        var se = V(repeating: 0), sg = V(repeating: 0)
        var row = scratch + o
        // A local copy, so that the cursor stays in registers through the loop.
        var next = prefetch
        defer { prefetch = next }
        for c in 0..<layout.classes {
            next.advance()
            let gap = V.load(row) - m
            let e = VectorMath.exp(gap)
            if let exponentials { e.store(to: exponentials + c * V.laneCount) }
            se = se + e
            if let classWeights {
                // Clamped before and after weighing: −∞ · 0 would be NaN, 1e6 · −1e30 overflows a sum.
                let weighted = gap.with(floor, where: gap .< floor) * V(repeating: classWeights[c])
                sg = sg + weighted.with(floor, where: weighted .< floor)
            } else {
                sg = sg + gap.with(floor, where: gap .< floor)
            }
            row += layout.stride
        }
        se.store(to: layout.state(scratch, TileState.sumExp) + o)
        sg.store(to: layout.state(scratch, TileState.sumGap) + o)
    }

    /// Stores a vector at `destination`: with a non-temporal store where `streaming` and the
    /// address is aligned as ``FloatLanes/streamAlignment`` requires, an ordinary one elsewhere.
    @inline(__always)
    static func put<V: FloatLanes>(_ value: V, to destination: UnsafeMutablePointer<Float>, streaming: Bool) {
        if streaming && Int(bitPattern: destination) & (V.streamAlignment - 1) == 0 {
            value.streamNonTemporal(to: destination)
        } else {
            value.store(to: destination)
        }
    }
}
