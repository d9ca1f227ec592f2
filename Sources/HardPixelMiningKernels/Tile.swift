import CHardPixelMiningSupport

// Tiles: the unit of work of every logit kernel. A tile is `T` neighbouring pixels × all C
// classes, copied into a per-worker scratch (row c at `tile + c·T`), so that every later
// sweep goes over it column by column (a vector of neighbouring pixels, class after class:
// Kernels/ColumnSweep.swift) with its accumulators in registers, whatever the logits' layout:
// - NCHW: a pixel's classes are one plane (H·W floats) apart; the copy is one class-major
//   sweep that reads each logit from DRAM once, in C contiguous runs of 4·T bytes.
// - NHWC: the tile's logits are one contiguous run of 4·T·C bytes; the copy reads it once
//   (checking finiteness in vectors) and transposes it in cache.
// The layout — and the element type (Float, Float16, bfloat16: Kernels/LogitElements.swift)
// — are thus parameters of `loadTile` and `streamTile` alone. T is chosen so that
// the tile stays in L2. One exception to the copy: the one-pass cross-entropy, where its
// columns stream their gradient, reads Float NCHW logits in place (`tileRows`), and the
// sweeps read rows through a `TileRows` (base and row stride) either way.
//
// Per tile, the scratch also holds `stateRows` rows of T floats of per-pixel state, one
// column's exponentials (C vectors, in L1), and for NHWC a staging buffer through which the
// transposed gradient is streamed out.

/// The layout of one worker's scratch for a given class count.
package struct TileLayout {
    /// T, pixels per tile: a multiple of 16 (every lane count), 16...8192.
    package let pixels: Int
    /// Floats from one row of the tile to the next: T and one cache line more, so that the
    /// rows of a column (one pixel's classes) do not all fall in one L1 set when 4·T is a
    /// multiple of 4 KiB.
    package let stride: Int
    package let classes: Int
    /// Whether the logits are NHWC (each pixel's classes contiguous).
    package let channelsLast: Bool

    /// Rows of per-pixel state after the tile's C rows.
    static let stateRows = 9

    /// The tile's budget: 640 KiB, within a 1 MiB L2 with room for the state and the streams.
    /// Long rows matter: reading C planes in runs of 4·T bytes reaches the memory's speed only
    /// for runs of about 16 KiB (measured in Docs/Performance.md).
    static let budgetFloats = 163_840

    /// The most pixels a tile holds: the engine's chunk of an image (one work item).
    package static let maximumPixels = 8192

    /// Floats of the NHWC staging buffer (16 KiB, in L1).
    static let stagingFloats = 4096

    package init(classes: Int, channelsLast: Bool = false) {
        self.classes = classes
        self.channelsLast = channelsLast
        let budget = Self.budgetFloats
        pixels = Swift.min(Self.maximumPixels, Swift.max(16, budget / Swift.max(classes, 1) / 16 * 16))
        stride = pixels + 16
    }

    /// Floats of scratch one worker needs.
    package var scratchFloats: Int {
        (classes + Self.stateRows) * stride + Self.columnFloats(classes) + (channelsLast ? Self.stagingFloats : 0)
    }

    /// Floats of one column's exponentials: C vectors of the widest lanes (16).
    @inline(__always)
    static func columnFloats(_ classes: Int) -> Int { classes * 16 }

    /// One column's exponentials, exp(x_c − m) at `c · lanes`, after the state rows.
    @inline(__always)
    func exponentials(_ scratch: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
        scratch + (classes + Self.stateRows) * stride
    }

    /// Whole pixels per staging block: a multiple of 8 (the transpose's block) when 8 fit.
    @inline(__always)
    static func pixelsPerStagingBlock(_ classes: Int) -> Int {
        let fit = stagingFloats / classes
        return fit >= 8 ? fit / 8 * 8 : fit
    }

    /// The NHWC staging buffer, after the state rows.
    @inline(__always)
    func staging(_ scratch: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
        exponentials(scratch) + Self.columnFloats(classes)
    }

    /// Where pixel `p`'s class-`c` element of an image lies, from the image's first element.
    @inline(__always)
    package func offset(pixel p: Int, class c: Int, plane: Int) -> Int {
        channelsLast ? p * classes + c : c * plane + p
    }

    /// The tile's copy in `scratch` (``Kernels/loadTile(_:logits:plane:p:count:layout:scratch:)``)
    /// as the rows a column sweep reads.
    @inline(__always)
    func rows(_ scratch: UnsafeMutablePointer<Float>) -> TileRows {
        TileRows(base: UnsafePointer(scratch), stride: stride)
    }

    /// Row `r` of the per-pixel state (r in 0..<stateRows).
    @inline(__always)
    func state(_ scratch: UnsafeMutablePointer<Float>, _ r: Int) -> UnsafeMutablePointer<Float> {
        scratch + (classes + r) * stride
    }
}

/// The cross-entropy target of one configuration, as the kernels use it.
package struct Targets {
    /// The target of the true class.
    package var on: Float
    /// The target of every other class.
    package var off: Float
    /// The ignore label.
    package var ignoreLabel: Int32
    /// Class weights `w_j` (C of them), or nil for `w_j = 1`; valid for the call.
    package var classWeights: UnsafePointer<Float>? = nil
    /// Σ_j w_j (C without class weights).
    package var classWeightSum: Float = 0
    /// The largest gradient coefficient: a quarter of Float's range, divided by
    /// `max(1, Σ_j w_j + max_j w_j)` with class weights, so that every term of
    /// `coef · (A p_j − a_j)` (and a modulated loss's `c2 (p_j − [j = label])`) stays within a
    /// quarter of the range and their sum is finite, whatever the finite input.
    package var coefficientLimit: Float = .greatestFiniteMagnitude / 4

    package init(on: Float, off: Float, ignoreLabel: Int32, classWeights: UnsafePointer<Float>? = nil, classWeightSum: Float = 0, coefficientLimit: Float = .greatestFiniteMagnitude / 4) {
        self.on = on
        self.off = off
        self.ignoreLabel = ignoreLabel
        self.classWeights = classWeights
        self.classWeightSum = classWeightSum
        self.coefficientLimit = coefficientLimit
    }
}

/// Where a column sweep reads a tile's logits: class c of the tile's pixel i at
/// `base[c · stride + i]` — the tile's copy in the scratch, or the Float NCHW logits in place
/// (``Kernels/tileRows(_:logits:plane:p:count:layout:scratch:inPlace:)``).
struct TileRows {
    let base: UnsafePointer<Float>
    let stride: Int
}

/// The rows of per-pixel state a tile keeps (indices into `TileLayout.state`).
enum TileState {
    static let maximum = 0, argmax = 1, labelValue = 2, valid = 3, labelIndex = 4, sumExp = 5, sumGap = 6,
        coefficient = 7, labelWeight = 8
}

/// The next tile's logits, fetched into cache while the current tile is computed on, so that the
/// next tile's copy from DRAM overlaps this tile's arithmetic instead of following it. A cursor
/// over the next tile's bytes in memory order (NCHW: class row after class row; NHWC: its one
/// contiguous run): each `advance()` asks for the next `step` bytes, so that a sweep of the
/// current tile that advances once per vector of Floats covers the next tile (never longer
/// than the current one), row by row, in the order the hardware prefetcher follows.
struct TilePrefetch {
    private var row: UnsafeRawPointer?
    private var offset = 0
    private var rowsLeft = 0
    private let rowBytes: Int
    private let rowStride: Int
    private let step: Int

    static var none: TilePrefetch { TilePrefetch() }

    private init() {
        rowBytes = 0
        rowStride = 0
        step = 0
    }

    /// For the tile after pixels `p ..< p + count` of an image of `plane` pixels, advanced once
    /// per `V` of Floats. The tile after a work item's last one is the first of the image's next
    /// chunk: the item a worker takes next (``Parallel`` gives each worker a contiguous run of
    /// items), so that every tile but an image's first is fetched ahead (stopping at the work
    /// item's end left half the tiles of the 8,192-pixel chunks unfetched). Tile boundaries fall
    /// on chunk boundaries (``TileLayout/pixels`` is at most a chunk, and the last tile of a chunk
    /// is cut short), so the next chunk's first tile starts where this item ends.
    @inline(__always)
    init<V: FloatLanes>(
        _: V.Type, after p: Int, count: Int, logits: LogitBuffer, plane: Int, layout: TileLayout
    ) {
        step = V.laneCount * MemoryLayout<Float>.size
        let next = p + count
        guard next < plane else {
            rowBytes = 0
            rowStride = 0
            return
        }
        let bytes = logits.precision.byteCount
        let nextCount = Swift.min(layout.pixels, plane - next)
        if layout.channelsLast {
            row = logits.base + next * layout.classes * bytes
            rowBytes = nextCount * layout.classes * bytes
            rowStride = 0
            rowsLeft = 1
        } else {
            row = logits.base + next * bytes
            rowBytes = nextCount * bytes
            rowStride = plane * bytes
            rowsLeft = layout.classes
        }
    }

    /// Prefetches the next `step` bytes of the next tile, if any are left.
    @inline(__always)
    mutating func advance() {
        guard let current = row else { return }
        hpm_prefetch(current + offset)
        offset &+= step
        if offset >= rowBytes {
            offset = 0
            rowsLeft &-= 1
            row = rowsLeft > 0 ? current + rowStride : nil
        }
    }
}

package enum Kernels {
    /// The smallest term kept in Σ(x - m): very negative logit gaps are clamped here so
    /// that sums over classes stay finite for any finite input.
    static let gapFloor: Float = -1e30

    /// Calls `body(p, count)` for each tile of pixels `range`, in order: tiles of
    /// `layout.pixels` pixels, the last one shorter.
    @inline(__always)
    static func forEachTile(_ range: Range<Int>, _ layout: TileLayout, _ body: (_ p: Int, _ count: Int) -> Void) {
        var p = range.lowerBound
        while p < range.upperBound {
            let count = Swift.min(layout.pixels, range.upperBound - p)
            body(p, count)
            p += count
        }
    }

    /// The rows the column sweep reads for pixels `p ..< p + count` (class c of the tile's
    /// pixel i at `rows.base + c · rows.stride + i`):
    /// - `inPlace`, for Float NCHW logits with at least one whole vector of pixels: the logits
    ///   themselves (`copied` false). Nothing is copied; the column sweep reads each column's C
    ///   lines from memory (the tile was fetched into cache ahead of it, ``TilePrefetch``), checks
    ///   their finiteness as it goes (``summarizeColumn``), and must go over whole vectors within
    ///   the tile (``forEachColumn(count:lanes:alignedFrom:_:)`` with an `alignedFrom`).
    /// - Otherwise the copy of ``loadTile(_:logits:plane:p:count:layout:scratch:)`` in the scratch
    ///   (`copied` true, `finite` its finiteness).
    ///
    /// Measured (Docs/Performance.md, session 10): in place, the one-pass cross-entropy with
    /// streamed 16-lane columns runs in 0.87–0.90× the time of the copy; the objective's
    /// statistics and gradient passes took 1.09× and 1.16× (perf samples), and the 8-lane
    /// cross-entropy, whose gradient goes through the tile, 1.11× — so only the streaming
    /// cross-entropy reads in place.
    @inline(__always)
    static func tileRows<V: FloatLanes>(
        _: V.Type, logits x: LogitBuffer, plane: Int, p: Int, count: Int, layout: TileLayout,
        scratch: UnsafeMutablePointer<Float>, inPlace: Bool
    ) -> (rows: TileRows, copied: Bool, finite: Bool) {
        if inPlace && x.precision == .float32 && !layout.channelsLast && count >= V.laneCount {
            return (TileRows(base: UnsafePointer(x.base.assumingMemoryBound(to: Float.self)) + p, stride: plane), false, true)
        }
        let finite = loadTile(V.self, logits: x, plane: plane, p: p, count: count, layout: layout, scratch: scratch)
        return (layout.rows(scratch), true, finite)
    }

    /// Sweep 1, from DRAM: copies pixels `p ..< p + count` of every class into the tile,
    /// widened to Float, padding the last vector with 0 — NCHW class-major, so that each
    /// plane is read in one run of T elements; NHWC as one contiguous run, transposed in
    /// cache. Returns false if any logit is NaN or infinite. (Folding the maximum into this
    /// sweep, against a running row in L1, measured 5–10% slower than the separate sweep.)
    @inline(__always)
    static func loadTile<V: FloatLanes>(
        _: V.Type, logits x: LogitBuffer, plane: Int, p: Int, count: Int, layout: TileLayout,
        scratch: UnsafeMutablePointer<Float>
    ) -> Bool {
        switch x.precision {
        case .float32: loadTile(V.self, Float32Codec.self, x.base, plane, p, count, layout, scratch)
        case .float16: loadTile(V.self, Float16Codec.self, x.base, plane, p, count, layout, scratch)
        case .bfloat16: loadTile(V.self, BFloat16Codec.self, x.base, plane, p, count, layout, scratch)
        }
    }

    @inline(__always)
    private static func loadTile<V: FloatLanes, E: LogitCodec>(
        _: V.Type, _: E.Type, _ x: UnsafeRawPointer, _ plane: Int, _ p: Int, _ count: Int, _ layout: TileLayout,
        _ scratch: UnsafeMutablePointer<Float>
    ) -> Bool {
        if layout.channelsLast {
            return E.byteCount == 4
                ? loadChannelsLastTile(V.self, logits: x.assumingMemoryBound(to: Float.self), p: p, count: count,
                                       layout: layout, scratch: scratch)
                : loadChannelsLastTile(V.self, E.self, x, p, count, layout, scratch)
        }
        var check = V(repeating: 0)
        for c in 0..<layout.classes {
            check = check + widen(V.self, E.self, x + (c * plane + p) * E.byteCount, count: count,
                                  into: scratch + c * layout.stride, padded: true)
        }
        return allZero(check)
    }

    /// Widens `count` elements at `source` into the Floats at `destination`; `padded`, the
    /// last vector's lanes past `count` are written as 0 (a tile row has room for them).
    /// Returns 0 in every lane if all were finite.
    @inline(__always)
    static func widen<V: FloatLanes, E: LogitCodec>(
        _: V.Type, _: E.Type, _ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>,
        padded: Bool = false
    ) -> V {
        let lanes = V.laneCount
        let full = count / lanes, rest = count % lanes
        var check = V(repeating: 0)
        for v in 0..<full {
            let value = E.load(V.self, source + v * lanes * E.byteCount)
            value.store(to: destination + v * lanes)
            check = check + (value - value)  // 0 for finite x, NaN otherwise
        }
        if rest > 0 {
            let value = E.load(V.self, source + full * lanes * E.byteCount, count: rest)
            if padded { value.store(to: destination + full * lanes) } else { value.store(to: destination + full * lanes, count: rest) }
            check = check + (value - value)
        }
        return check
    }

    @inline(__always)
    static func allZero<V: FloatLanes>(_ check: V) -> Bool {
        for i in 0..<V.laneCount where check[i] != 0 { return false }
        return true
    }

    /// Sweep 1 for NHWC Float logits: the tile's C · count logits are contiguous; one vector
    /// sweep reads them from DRAM and checks finiteness, then a transpose in cache (8 × 8
    /// register blocks, ``transpose(_:rowStride:rows:columns:into:rowStride:)``) fills the
    /// tile's rows.
    @inline(__always)
    static func loadChannelsLastTile<V: FloatLanes>(
        _: V.Type, logits x: UnsafePointer<Float>, p: Int, count: Int, layout: TileLayout,
        scratch: UnsafeMutablePointer<Float>
    ) -> Bool {
        let lanes = V.laneCount
        let classes = layout.classes, stride = layout.stride
        let source = x + p * classes
        let total = count * classes
        var check = V(repeating: 0)
        var i = 0
        while i + lanes <= total {
            let value = V.load(source + i)
            check = check + (value - value)
            i += lanes
        }
        var scalarCheck: Float = 0
        while i < total {
            scalarCheck += source[i] - source[i]
            i += 1
        }
        transpose(source, rowStride: classes, rows: count, columns: classes, into: scratch, rowStride: stride)
        padChannelsLastTile(V.self, count: count, layout: layout, scratch: scratch)
        return scalarCheck == 0 && allZero(check)
    }

    /// Sweep 1 for NHWC half-precision logits: blocks of whole pixels (or, for more classes
    /// than the staging buffer holds, of one pixel's classes) are widened into the staging
    /// buffer in vectors, then transposed from there into the tile's rows.
    @inline(__always)
    private static func loadChannelsLastTile<V: FloatLanes, E: LogitCodec>(
        _: V.Type, _: E.Type, _ x: UnsafeRawPointer, _ p: Int, _ count: Int, _ layout: TileLayout,
        _ scratch: UnsafeMutablePointer<Float>
    ) -> Bool {
        let classes = layout.classes, stride = layout.stride
        let staging = layout.staging(scratch)
        let source = x + p * classes * E.byteCount
        var check = V(repeating: 0)
        if classes <= TileLayout.stagingFloats {
            let perBlock = TileLayout.pixelsPerStagingBlock(classes)
            var first = 0
            while first < count {
                let pixels = Swift.min(perBlock, count - first)
                check = check + widen(V.self, E.self, source + first * classes * E.byteCount, count: pixels * classes,
                                      into: staging)
                transpose(staging, rowStride: classes, rows: pixels, columns: classes, into: scratch + first, rowStride: stride)
                first += pixels
            }
        } else {
            for pixel in 0..<count {
                var first = 0
                while first < classes {
                    let n = Swift.min(TileLayout.stagingFloats, classes - first)
                    check = check + widen(V.self, E.self, source + (pixel * classes + first) * E.byteCount, count: n,
                                          into: staging)
                    for j in 0..<n { scratch[(first + j) * stride + pixel] = staging[j] }
                    first += n
                }
            }
        }
        padChannelsLastTile(V.self, count: count, layout: layout, scratch: scratch)
        return allZero(check)
    }

    /// Zeroes the lanes of the last vector past `count` in every row.
    @inline(__always)
    static func padChannelsLastTile<V: FloatLanes>(
        _: V.Type, count: Int, layout: TileLayout, scratch: UnsafeMutablePointer<Float>
    ) {
        let lanes = V.laneCount
        let padded = (count + lanes - 1) / lanes * lanes
        if padded > count {
            for c in 0..<layout.classes { (scratch + c * layout.stride + count).update(repeating: 0, count: padded - count) }
        }
    }

    /// Per pixel of the tile: whether its label is valid, the label as a Float (−1 if not), its
    /// logit x_label read from the tile's rows `labelValues` (a scalar load per pixel: cheaper
    /// than a compare and blend per class; 0 if not valid), and its class weight `w_label` (1
    /// without class weights, 0 if not valid).
    /// Lanes past `count` up to the last whole vector are marked invalid.
    ///
    /// With `scale`, also the gradient coefficient `scale · w_i` of valid pixels (0 elsewhere),
    /// `w_i` from `weights` (indexed like `labels`) or 1. Without `labelValues` (the gradient
    /// pass, which has no use for x_label), no logit is read.
    @inline(__always)
    static func gatherLabels(
        labels: UnsafePointer<Int32>, p: Int, count: Int, padded: Int, targets: Targets, layout: TileLayout,
        scratch: UnsafeMutablePointer<Float>, scale: Float? = nil, weights: UnsafePointer<Float>? = nil,
        labelValues rows: TileRows? = nil
    ) {
        let coefficient = layout.state(scratch, TileState.coefficient)
        let valid = layout.state(scratch, TileState.valid)
        let labelIndex = layout.state(scratch, TileState.labelIndex)
        let labelWeight = layout.state(scratch, TileState.labelWeight)
        let labelValue = layout.state(scratch, TileState.labelValue)
        /// The padding after the tile's last pixel holds no label.
        @inline(__always) func clearPadding(from start: Int, coefficients: Bool) {
            var i = start
            while i < padded {
                valid[i] = 0
                labelIndex[i] = -1
                labelValue[i] = 0
                labelWeight[i] = 0
                if coefficients { coefficient[i] = 0 }
                i &+= 1
            }
        }
        // Labels are ignored at random, so a branch on validity mispredicts: every loop below is
        // a branch-free `while` (a `for` over a range does not vectorise).
        let classes = UInt32(truncatingIfNeeded: layout.classes), ignore = targets.ignoreLabel
        @inline(__always) func isValid(_ label: Int32) -> Bool {
            ((UInt32(bitPattern: label) < classes ? 1 : 0) & (label != ignore ? 1 : 0)) != 0
        }
        var i = 0
        if rows == nil && targets.classWeights == nil {
            // Without x_label or class weights, loops the compiler vectorises. x_label is left to
            // the caller (the cross-entropy picks it in the column sweep; the gradient pass has
            // no use for it).
            let scale = scale ?? 0, limit = targets.coefficientLimit
            if let weights {
                while i < count {
                    let label = labels[p &+ i], ok = isValid(label)
                    valid[i] = ok ? 1 : 0
                    labelIndex[i] = ok ? Float(label) : -1
                    labelWeight[i] = ok ? 1 : 0
                    let value = scale * weights[p &+ i]
                    coefficient[i] = ok ? (value > limit ? limit : value) : 0
                    i &+= 1
                }
            } else {
                while i < count {
                    let label = labels[p &+ i], ok = isValid(label)
                    valid[i] = ok ? 1 : 0
                    labelIndex[i] = ok ? Float(label) : -1
                    labelWeight[i] = ok ? 1 : 0
                    coefficient[i] = ok ? scale : 0
                    i &+= 1
                }
            }
            clearPadding(from: i, coefficients: true)
            return
        }
        // With x_label rows or class weights: an invalid label reads row 0 and class weight 0
        // (both exist) and keeps neither.
        let classWeights = targets.classWeights
        while i < count {
            let label = labels[p &+ i], ok = isValid(label)
            // In bounds whatever the label (its value is kept only where valid): an unsigned
            // minimum, where `ok ? label : 0` compiled to a branch that mispredicts on the
            // scattered ignored pixels.
            let safe = Int(Swift.min(UInt32(bitPattern: label), classes &- 1))
            valid[i] = ok ? 1 : 0
            labelIndex[i] = ok ? Float(label) : -1
            if let rows {
                let value = rows.base[safe &* rows.stride &+ i]
                labelValue[i] = ok ? value : 0
            }
            let weight = classWeights?[safe] ?? 1
            labelWeight[i] = ok ? weight : 0
            if let scale {
                let value = scale * (weights?[p &+ i] ?? 1)
                coefficient[i] = ok ? Swift.min(value, targets.coefficientLimit) : 0
            }
            i &+= 1
        }
        clearPadding(from: i, coefficients: scale != nil)
    }

    /// Per pixel, from the state rows: log Σ exp(x − m) and
    /// ce = −[off · Σ_j w_j log p_j + (on − off) · w_label log p_label] (0 where the label is not
    /// valid; w_j = 1 without class weights), with log p_j = (x_j − m) − logSum, and log p_label.
    @inline(__always)
    static func crossEntropy<V: FloatLanes>(
        _: V.Type, at o: Int, targets: Targets, layout: TileLayout, scratch: UnsafeMutablePointer<Float>
    ) -> (logSum: V, loss: V, labelLogProbability: V) {
        let floor = V(repeating: gapFloor), zero = V(repeating: 0)
        let m = V.load(layout.state(scratch, TileState.maximum) + o)
        let logSum = VectorMath.log(V.load(layout.state(scratch, TileState.sumExp) + o))
        var labelGap = V.load(layout.state(scratch, TileState.labelValue) + o) - m
        labelGap = labelGap.with(floor, where: labelGap .< floor)
        let invalid = V.load(layout.state(scratch, TileState.valid) + o) .== zero
        let weightSum = targets.classWeights == nil ? Float(layout.classes) : targets.classWeightSum
        let sumLogP = V.load(layout.state(scratch, TileState.sumGap) + o) - V(repeating: weightSum) * logSum
        let labelLogP = labelGap - logSum
        let weightedLabelLogP = labelLogP * V.load(layout.state(scratch, TileState.labelWeight) + o)
        let loss = zero - (V(repeating: targets.off) * sumLogP + V(repeating: targets.on - targets.off) * weightedLabelLogP)
        return (logSum, loss.with(zero, where: invalid), labelLogP.with(zero, where: invalid))
    }

    /// The class-weighted gradient `g_j = coef · (A p_j − a_j)` of one vector of pixels, with
    /// `A = off Σw + (on − off) w_label` and `a_j = off w_j + (on − off) w_label [j = label]`:
    /// `scale = coef · A`, and the offset of class `c` (`−coef · a_c`) from ``weightedOffset``.
    @inline(__always)
    static func weightedGradientTerms<V: FloatLanes>(
        coefficient coef: V, labelWeight wLabel: V, targets t: Targets
    ) -> (scale: V, unit: V, labelExtra: V) {
        let off = V(repeating: t.off), extra = V(repeating: t.on - t.off)
        return (coef * (off * V(repeating: t.classWeightSum)).plusProduct(extra, wLabel),
                V(repeating: 0) - coef * off, V(repeating: 0) - coef * extra * wLabel)
    }

    /// `−coef · a_c` for class `c` of weight `weight`, from ``weightedGradientTerms``.
    @inline(__always)
    static func weightedOffset<V: FloatLanes>(unit: V, labelExtra: V, weight: Float, label: V, class c: Int) -> V {
        let b = unit * V(repeating: weight)
        return b.with(b + labelExtra, where: label .== V(repeating: Float(c)))
    }

    /// Writes the tile's rows (the gradient) to pixels `p ..< p + count` of every class,
    /// rounded to the gradient's element type, with non-temporal stores, so that the
    /// gradient's lines are not read before written (NHWC: transposed through the staging
    /// buffer, then streamed); or, `accumulating`, adds them to what the gradient holds (a
    /// read and an ordinary write). Half precision: rounded in place in the tile (or the
    /// staging buffer) before streaming.
    @inline(__always)
    static func streamTile<V: FloatLanes>(
        _: V.Type, to g: MutableLogitBuffer, plane: Int, p: Int, count: Int, layout: TileLayout,
        scratch: UnsafeMutablePointer<Float>, accumulating: Bool
    ) {
        switch g.precision {
        case .float32: streamTile(V.self, Float32Codec.self, g.base, plane, p, count, layout, scratch, accumulating)
        case .float16: streamTile(V.self, Float16Codec.self, g.base, plane, p, count, layout, scratch, accumulating)
        case .bfloat16: streamTile(V.self, BFloat16Codec.self, g.base, plane, p, count, layout, scratch, accumulating)
        }
    }

    @inline(__always)
    private static func streamTile<V: FloatLanes, E: LogitCodec>(
        _: V.Type, _: E.Type, _ g: UnsafeMutableRawPointer, _ plane: Int, _ p: Int, _ count: Int,
        _ layout: TileLayout, _ scratch: UnsafeMutablePointer<Float>, _ accumulating: Bool
    ) {
        let classes = layout.classes, stride = layout.stride
        if layout.channelsLast {
            let destination = g + p * classes * E.byteCount
            if classes > TileLayout.stagingFloats {
                // More classes than the staging block holds: element by element, ordinary stores.
                for pixel in 0..<count {
                    for c in 0..<classes {
                        let d = destination + (pixel * classes + c) * E.byteCount
                        let value = scratch[c * stride + pixel]
                        E.storeScalar(accumulating ? E.scalar(d) + value : value, d)
                    }
                }
                return
            }
            // Whole pixels per staging block: streamed out with non-temporal stores, or added
            // to the gradient with ordinary ones.
            let perBlock = TileLayout.pixelsPerStagingBlock(classes)
            let staging = layout.staging(scratch)
            var first = 0
            while first < count {
                let pixels = Swift.min(perBlock, count - first)
                transpose(scratch + first, rowStride: stride, rows: classes, columns: pixels, into: staging, rowStride: classes)
                let out = destination + first * classes * E.byteCount
                if accumulating {
                    accumulate(V.self, E.self, staging, count: pixels * classes, into: out)
                } else {
                    stream(V.self, E.self, staging, count: pixels * classes, to: out)
                }
                first += pixels
            }
            return
        }
        for c in 0..<classes {
            let row = scratch + c * stride, out = g + (c * plane + p) * E.byteCount
            if accumulating {
                accumulate(V.self, E.self, row, count: count, into: out)
            } else {
                stream(V.self, E.self, row, count: count, to: out)
            }
        }
    }

    /// Transposes a `rows` × `columns` matrix (element (i, j) at `source[i · sourceStride + j]`)
    /// into `destination` (at `destination[j · destinationStride + i]`): 8 × 8 blocks in
    /// registers, by three rounds of even/odd unzipping (each round rotates the 6-bit index
    /// of an element in the block by one bit, so three swap its row and column bits), and
    /// the edges element by element.
    @inline(__always)
    static func transpose(
        _ source: UnsafePointer<Float>, rowStride sourceStride: Int, rows: Int, columns: Int,
        into destination: UnsafeMutablePointer<Float>, rowStride destinationStride: Int
    ) {
        typealias W = SIMD8<Float>
        let fullRows = rows / 8 * 8, fullColumns = columns / 8 * 8
        var i = 0
        while i < fullRows {
            var j = 0
            while j < fullColumns {
                let from = source + i * sourceStride + j
                var v = (W.load(from), W.load(from + sourceStride), W.load(from + 2 * sourceStride),
                         W.load(from + 3 * sourceStride), W.load(from + 4 * sourceStride), W.load(from + 5 * sourceStride),
                         W.load(from + 6 * sourceStride), W.load(from + 7 * sourceStride))
                for _ in 0..<3 {
                    v = (W(lowHalf: v.0.evenHalf, highHalf: v.1.evenHalf), W(lowHalf: v.2.evenHalf, highHalf: v.3.evenHalf),
                         W(lowHalf: v.4.evenHalf, highHalf: v.5.evenHalf), W(lowHalf: v.6.evenHalf, highHalf: v.7.evenHalf),
                         W(lowHalf: v.0.oddHalf, highHalf: v.1.oddHalf), W(lowHalf: v.2.oddHalf, highHalf: v.3.oddHalf),
                         W(lowHalf: v.4.oddHalf, highHalf: v.5.oddHalf), W(lowHalf: v.6.oddHalf, highHalf: v.7.oddHalf))
                }
                let to = destination + j * destinationStride + i
                v.0.store(to: to)
                v.1.store(to: to + destinationStride)
                v.2.store(to: to + 2 * destinationStride)
                v.3.store(to: to + 3 * destinationStride)
                v.4.store(to: to + 4 * destinationStride)
                v.5.store(to: to + 5 * destinationStride)
                v.6.store(to: to + 6 * destinationStride)
                v.7.store(to: to + 7 * destinationStride)
                j += 8
            }
            for r in i..<(i + 8) {
                for c in fullColumns..<columns { destination[c * destinationStride + r] = source[r * sourceStride + c] }
            }
            i += 8
        }
        for r in fullRows..<rows {
            for c in 0..<columns { destination[c * destinationStride + r] = source[r * sourceStride + c] }
        }
    }

    /// Adds `count` Floats to the elements at `destination` (ordinary loads and stores).
    @inline(__always)
    static func accumulate<V: FloatLanes, E: LogitCodec>(
        _: V.Type, _: E.Type, _ source: UnsafePointer<Float>, count: Int, into destination: UnsafeMutableRawPointer
    ) {
        let lanes = V.laneCount
        var i = 0
        while i + lanes <= count {
            let d = destination + i * E.byteCount
            E.store(E.load(V.self, d) + V.load(source + i), d)
            i += lanes
        }
        if i < count {
            let d = destination + i * E.byteCount
            E.store(E.load(V.self, d, count: count - i) + V.load(source + i, count: count - i, padding: 0), d, count: count - i)
        }
    }

    /// Writes `count` Floats from cache (overwritten on the way for half precision, which is
    /// rounded in place) to `destination` with non-temporal stores.
    @inline(__always)
    static func stream<V: FloatLanes, E: LogitCodec>(
        _: V.Type, _: E.Type, _ source: UnsafeMutablePointer<Float>, count: Int, to destination: UnsafeMutableRawPointer
    ) {
        if E.byteCount == 4 {
            return hpm_stream_floats(destination.assumingMemoryBound(to: Float.self), source, count)
        }
        // Element i's 2 bytes go where float i / 2 was: never past a float not yet read.
        let raw = UnsafeMutableRawPointer(source)
        round(V.self, E.self, source, count, raw)
        hpm_stream_halves(
            destination.assumingMemoryBound(to: UInt16.self), UnsafePointer(raw.assumingMemoryBound(to: UInt16.self)), count)
    }

    /// The index of the first NaN or infinite element, or nil.
    package static func firstNonFiniteIndex(_ values: LogitBuffer, count: Int) -> Int? {
        if values.precision == .float32 {
            return firstNonFiniteIndex(UnsafeBufferPointer(start: values.base.assumingMemoryBound(to: Float.self), count: count))
        }
        for i in 0..<count where !values.float(at: i).isFinite { return i }
        return nil
    }

    /// The index of the first NaN or infinite element, or nil.
    static func firstNonFiniteIndex(_ values: UnsafeBufferPointer<Float>) -> Int? {
        guard let base = values.baseAddress else { return nil }
        typealias V = SIMD8<Float>
        var p = 0
        let zero = V(repeating: 0)
        while p + 8 <= values.count {
            let v = V.load(base + p)
            if v - v != zero { break }
            p += 8
        }
        while p < values.count {
            if !values[p].isFinite { return p }
            p += 1
        }
        return nil
    }
}
