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
    /// baseline build until session 10; now `-Xcc -DHPM_LANES=8` or a non-x86 build) a column
    /// writes half of each class row's line, so C half-filled
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
        _: V.Type, at o: Int, argmax: Bool, rows: TileRows, classes: Int
    ) -> (maximum: V, argmax: V) {
        // Written without nested functions: a nested `step` taking its state `inout` was
        // compiled as a call per class, with the state through memory.
        let stride = rows.stride
        var row = rows.base + o
        let first = V.load(row)
        if argmax {
            let zero = V(repeating: 0), one = V(repeating: 1), two = V(repeating: 2), three = V(repeating: 3)
            var m0 = first, m1 = first, m2 = first, m3 = first
            var i0 = zero, i1 = zero, i2 = zero, i3 = zero
            var k = one
            var c = 1
            row += stride
            while c &+ 3 < classes {
                let v1 = V.load(row), v2 = V.load(row + stride), v3 = V.load(row + 2 &* stride), v0 = V.load(row + 3 &* stride)
                let g1 = v1 .> m1, g2 = v2 .> m2, g3 = v3 .> m3, g0 = v0 .> m0
                m1 = m1.with(v1, where: g1)
                m2 = m2.with(v2, where: g2)
                m3 = m3.with(v3, where: g3)
                m0 = m0.with(v0, where: g0)
                i1 = i1.with(k, where: g1)
                i2 = i2.with(k + one, where: g2)
                i3 = i3.with(k + two, where: g3)
                i0 = i0.with(k + three, where: g0)
                row += 4 &* stride
                k = k + V(repeating: 4)
                c &+= 4
            }
            while c < classes {
                let v1 = V.load(row)
                let g1 = v1 .> m1
                m1 = m1.with(v1, where: g1)
                i1 = i1.with(k, where: g1)
                row += stride
                k = k + one
                c &+= 1
            }
            // (other, otherIndex) wins if larger, or equal with a smaller class.
            // Unrolled by hand, for the same reason as the steps.
            var maximum = m0, index = i0
            var smaller = index.with(i1, where: i1 .< index)
            index = index.with(smaller, where: m1 .== maximum).with(i1, where: m1 .> maximum)
            maximum = maximum.with(m1, where: m1 .> maximum)
            smaller = index.with(i2, where: i2 .< index)
            index = index.with(smaller, where: m2 .== maximum).with(i2, where: m2 .> maximum)
            maximum = maximum.with(m2, where: m2 .> maximum)
            smaller = index.with(i3, where: i3 .< index)
            index = index.with(smaller, where: m3 .== maximum).with(i3, where: m3 .> maximum)
            maximum = maximum.with(m3, where: m3 .> maximum)
            return (maximum, index)
        }
        var m0 = first, m1 = first, m2 = first, m3 = first
        var c = 1
        row += stride
        while c &+ 3 < classes {
            let v1 = V.load(row), v2 = V.load(row + stride), v3 = V.load(row + 2 &* stride), v0 = V.load(row + 3 &* stride)
            m1 = m1.with(v1, where: v1 .> m1)
            m2 = m2.with(v2, where: v2 .> m2)
            m3 = m3.with(v3, where: v3 .> m3)
            m0 = m0.with(v0, where: v0 .> m0)
            row += 4 &* stride
            c &+= 4
        }
        while c < classes {
            let v1 = V.load(row)
            m1 = m1.with(v1, where: v1 .> m1)
            row += stride
            c &+= 1
        }
        m0 = m0.with(m1, where: m1 .> m0)
        m2 = m2.with(m3, where: m3 .> m2)
        return (m0.with(m2, where: m2 .> m0), V(repeating: 0))
    }

    /// The column at offset `o` of the tile's `rows`, into the state rows at `o`: m (and, with
    /// `argmax`, the first argmax), Σ_j exp(x_j − m) and Σ_j w_j (x_j − m) (w_j = 1 without class
    /// weights; each term clamped at ``gapFloor``), summed in class order. With `exponentials`,
    /// exp(x_c − m) is also kept there at `c · exponentialStride` (`V.laneCount` when nil: a
    /// column buffer in L1), through ``put(_:to:streaming:)`` with `streamsExponentials` (the
    /// gradient's memory, ``statistics(logits:labels:plane:range:targets:layout:out:exponentials:scratch:)``).
    /// `prefetch` advances once per class.
    /// With `readsInPlace` (rows that are the logits themselves, which no copy has checked and
    /// from which ``gatherLabels`` took no x_label):
    /// - returns `Σ x · 0` over the column, 0 in every lane if and only if every logit of the
    ///   column is finite (0 without `readsInPlace`);
    /// - stores x_label (0 where the label is not valid) into its state row, by a compare and
    ///   blend per class against the label row, since a scalar load per pixel from memory waits
    ///   (the cross-entropy 0.96× with two threads, 0.97× with one).
    @inline(__always) @discardableResult
    static func summarizeColumn<V: FloatLanes>(
        _: V.Type, at o: Int, argmax: Bool, rows: TileRows, layout: TileLayout, scratch: UnsafeMutablePointer<Float>,
        exponentials: UnsafeMutablePointer<Float>?, exponentialStride: Int? = nil, streamsExponentials: Bool = false,
        classWeights: UnsafePointer<Float>?, prefetch: inout TilePrefetch, readsInPlace: Bool
    ) -> V {
        let (m, index) = columnMaximum(V.self, at: o, argmax: argmax, rows: rows, classes: layout.classes)
        m.store(to: layout.state(scratch, TileState.maximum) + o)
        if argmax { index.store(to: layout.state(scratch, TileState.argmax) + o) }
        let floor = V(repeating: gapFloor), zero = V(repeating: 0)
        var se = zero, sg = zero, check = zero
        let labelIndex = readsInPlace ? V.load(layout.state(scratch, TileState.labelIndex) + o) : zero
        var labelValue = zero, classIndex = zero
        var row = rows.base + o
        // The exponentials' cursor (a dummy in the scratch when they are not kept), and the test
        // of whether they are kept in a register: unchecked pointer steps, no optional in the loop.
        let keeps = exponentials != nil
        var kept = exponentials ?? scratch
        let keptStride = exponentials == nil ? 0 : exponentialStride ?? V.laneCount
        // A local copy, so that the cursor stays in registers through the loop.
        var next = prefetch
        defer { prefetch = next }
        for c in 0..<layout.classes {
            next.advance()
            let x = V.load(row)
            if readsInPlace {
                check = check.plusProduct(x, zero)
                labelValue = labelValue.with(x, where: labelIndex .== classIndex)
                classIndex = classIndex + V(repeating: 1)
            }
            let gap = x - m
            let e = VectorMath.exp(gap)
            if keeps { put(e, to: kept, streaming: streamsExponentials) }
            kept += keptStride
            se = se + e
            if let classWeights {
                // Clamped before and after weighing: −∞ · 0 would be NaN, 1e6 · −1e30 overflows a sum.
                let weighted = gap.with(floor, where: gap .< floor) * V(repeating: classWeights[c])
                sg = sg + weighted.with(floor, where: weighted .< floor)
            } else {
                sg = sg + gap.with(floor, where: gap .< floor)
            }
            row += rows.stride
        }
        se.store(to: layout.state(scratch, TileState.sumExp) + o)
        sg.store(to: layout.state(scratch, TileState.sumGap) + o)
        if readsInPlace { labelValue.store(to: layout.state(scratch, TileState.labelValue) + o) }
        return check
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
