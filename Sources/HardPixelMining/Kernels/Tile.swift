import CHardPixelMiningSupport

// Tiles: the unit of work of every logit kernel. Logits are NCHW, so a pixel's classes are
// one plane (H·W floats) apart. A tile is `T` neighbouring pixels × all C classes, copied
// into a per-worker scratch (row c at `tile + c·T`) by one class-major sweep that reads each
// logit from DRAM once, in C contiguous runs of 4·T bytes. T is chosen so that the tile
// (C · T floats, at most 96 KiB) stays in L2 while the later sweeps go over it pixel by
// pixel with their accumulators in registers.
//
// Per tile, the scratch also holds `stateRows` rows of T floats of per-pixel state.

/// The layout of one worker's scratch for a given class count.
struct TileLayout {
    /// T, pixels per tile: a multiple of 16 (every lane count), 16...1024.
    let pixels: Int
    let classes: Int

    /// Rows of per-pixel state after the tile's C rows.
    static let stateRows = 8

    init(classes: Int) {
        self.classes = classes
        let budget = 24_576  // floats: 96 KiB
        pixels = Swift.min(1024, Swift.max(16, budget / Swift.max(classes, 1) / 16 * 16))
    }

    /// Floats of scratch one worker needs.
    var scratchFloats: Int { (classes + Self.stateRows) * pixels }

    /// Row `r` of the per-pixel state (r in 0..<stateRows).
    @inline(__always)
    func state(_ scratch: UnsafeMutablePointer<Float>, _ r: Int) -> UnsafeMutablePointer<Float> {
        scratch + (classes + r) * pixels
    }
}

/// The cross-entropy target of one configuration, as the kernels use it.
struct Targets {
    /// The target of the true class.
    var on: Float
    /// The target of every other class.
    var off: Float
    /// The ignore label.
    var ignoreLabel: Int32
}

/// The rows of per-pixel state a tile keeps (indices into `TileLayout.state`).
enum TileState {
    static let maximum = 0, argmax = 1, labelValue = 2, valid = 3, labelIndex = 4, sumExp = 5, sumGap = 6,
        coefficient = 7
}

enum Kernels {
    /// The smallest term kept in Σ(x - m): very negative logit gaps are clamped here so
    /// that sums over classes stay finite for any finite input.
    static let gapFloor: Float = -1e30

    /// Sweep 1, from DRAM: copies pixels `p ..< p + count` of every class plane into the tile,
    /// padding the last vector with 0, and leaves each pixel's largest logit and the first
    /// class that attains it in the state rows. Returns false if any logit is NaN or infinite.
    @inline(__always)
    static func loadTile<V: FloatLanes>(
        _: V.Type, logits x: UnsafePointer<Float>, plane: Int, p: Int, count: Int,
        layout: TileLayout, scratch: UnsafeMutablePointer<Float>
    ) -> Bool {
        let lanes = V.laneCount
        let full = count / lanes, rest = count % lanes
        let vectors = full + (rest > 0 ? 1 : 0)
        let t = layout.pixels
        let maximum = layout.state(scratch, TileState.maximum)
        let argmax = layout.state(scratch, TileState.argmax)
        var check = V(repeating: 0)
        for c in 0..<layout.classes {
            let source = x + c * plane + p
            let row = scratch + c * t
            let index = V(repeating: Float(c))
            for v in 0..<vectors {
                let value = v < full ? V.load(source + v * lanes) : V.load(source + v * lanes, count: rest, padding: 0)
                value.store(to: row + v * lanes)
                check = check + (value - value)  // 0 for finite x, NaN otherwise
                if c == 0 {
                    value.store(to: maximum + v * lanes)
                    V(repeating: 0).store(to: argmax + v * lanes)
                } else {
                    let m = V.load(maximum + v * lanes)
                    let greater = value .> m
                    m.with(value, where: greater).store(to: maximum + v * lanes)
                    V.load(argmax + v * lanes).with(index, where: greater).store(to: argmax + v * lanes)
                }
            }
        }
        for i in 0..<lanes where check[i] != 0 { return false }
        return true
    }

    /// Per pixel of the tile: whether its label is valid, the label as a Float (−1 if not),
    /// and its logit x_label (read from the tile while it still holds logits). Lanes past
    /// `count` up to the last whole vector are marked invalid.
    @inline(__always)
    static func gatherLabels(
        labels: UnsafePointer<Int32>, p: Int, count: Int, padded: Int, targets: Targets, layout: TileLayout,
        scratch: UnsafeMutablePointer<Float>
    ) {
        let t = layout.pixels
        let valid = layout.state(scratch, TileState.valid)
        let labelIndex = layout.state(scratch, TileState.labelIndex)
        let labelValue = layout.state(scratch, TileState.labelValue)
        let classes = Int32(truncatingIfNeeded: layout.classes)
        for i in 0..<padded {
            let label = i < count ? labels[p + i] : -1
            if i < count && label != targets.ignoreLabel && label >= 0 && label < classes {
                valid[i] = 1
                labelIndex[i] = Float(label)
                labelValue[i] = scratch[Int(label) * t + i]
            } else {
                valid[i] = 0
                labelIndex[i] = -1
                labelValue[i] = 0
            }
        }
    }

    /// Sweep 2, over the tile in cache: per pixel Σ_j exp(x_j − m) and Σ_j (x_j − m) into the
    /// state rows, with the accumulators in registers. With `keepingExponentials`, the tile's
    /// logits are replaced by exp(x − m), so that a gradient needs no second exp.
    @inline(__always)
    static func sumExponentials<V: FloatLanes>(
        _: V.Type, vectors: Int, layout: TileLayout, scratch: UnsafeMutablePointer<Float>, keepingExponentials: Bool
    ) {
        let lanes = V.laneCount
        let t = layout.pixels
        let maximum = layout.state(scratch, TileState.maximum)
        let sumExp = layout.state(scratch, TileState.sumExp)
        let sumGap = layout.state(scratch, TileState.sumGap)
        let floor = V(repeating: gapFloor)
        for v in 0..<vectors {
            let m = V.load(maximum + v * lanes)
            var se = V(repeating: 0), sg = V(repeating: 0)
            var row = scratch + v * lanes
            for _ in 0..<layout.classes {
                let gap = V.load(row) - m
                let e = VectorMath.exp(gap)
                if keepingExponentials { e.store(to: row) }
                se = se + e
                sg = sg + gap.with(floor, where: gap .< floor)
                row += t
            }
            se.store(to: sumExp + v * lanes)
            sg.store(to: sumGap + v * lanes)
        }
    }

    /// Per pixel, from the state rows: log Σ exp(x − m) and
    /// ce = −[off · Σ_j log p_j + (on − off) · log p_label] (0 where the label is not valid),
    /// with log p_j = (x_j − m) − logSum, and log p_label.
    @inline(__always)
    static func crossEntropy<V: FloatLanes>(
        _: V.Type, vector v: Int, targets: Targets, layout: TileLayout, scratch: UnsafeMutablePointer<Float>
    ) -> (logSum: V, loss: V, labelLogProbability: V) {
        let lanes = V.laneCount
        let floor = V(repeating: gapFloor), zero = V(repeating: 0)
        let m = V.load(layout.state(scratch, TileState.maximum) + v * lanes)
        let logSum = VectorMath.log(V.load(layout.state(scratch, TileState.sumExp) + v * lanes))
        var labelGap = V.load(layout.state(scratch, TileState.labelValue) + v * lanes) - m
        labelGap = labelGap.with(floor, where: labelGap .< floor)
        let invalid = V.load(layout.state(scratch, TileState.valid) + v * lanes) .== zero
        let sumLogP = V.load(layout.state(scratch, TileState.sumGap) + v * lanes) - V(repeating: Float(layout.classes)) * logSum
        let labelLogP = labelGap - logSum
        let loss = zero - (V(repeating: targets.off) * sumLogP + V(repeating: targets.on - targets.off) * labelLogP)
        return (logSum, loss.with(zero, where: invalid), labelLogP.with(zero, where: invalid))
    }

    /// Writes the tile's rows (the gradient) to pixels `p ..< p + count` of every class plane
    /// with non-temporal stores, so that the gradient's lines are not read before written.
    @inline(__always)
    static func streamTile(
        to g: UnsafeMutablePointer<Float>, plane: Int, p: Int, count: Int, layout: TileLayout,
        scratch: UnsafeMutablePointer<Float>
    ) {
        for c in 0..<layout.classes {
            hpm_stream_floats(g + c * plane + p, scratch + c * layout.pixels, count)
        }
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
