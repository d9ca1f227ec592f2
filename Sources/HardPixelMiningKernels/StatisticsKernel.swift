import CHardPixelMiningSupport

/// Where the statistics pass leaves its per-pixel results (all of one length).
package struct PixelStatistics {
    /// m, the largest logit of the pixel.
    package var maximum: UnsafeMutablePointer<Float>
    /// log Σ_j exp(x_j - m); the log-sum-exp is `maximum + logSum`.
    package var logSum: UnsafeMutablePointer<Float>
    /// ce, the label-smoothed cross-entropy (0 on ignored pixels).
    package var loss: UnsafeMutablePointer<Float>
    /// Δ: 1 where the first largest logit's class differs from a valid label, else 0.
    package var wrong: UnsafeMutablePointer<UInt8>
    /// log p_label, the log-probability of the true class (0 on ignored pixels).
    package var labelLogProbability: UnsafeMutablePointer<Float>

    package func advanced(by offset: Int) -> PixelStatistics {
        PixelStatistics(
            maximum: maximum + offset, logSum: logSum + offset, loss: loss + offset, wrong: wrong + offset,
            labelLogProbability: labelLogProbability + offset)
    }

    package init(maximum: UnsafeMutablePointer<Float>, logSum: UnsafeMutablePointer<Float>, loss: UnsafeMutablePointer<Float>, wrong: UnsafeMutablePointer<UInt8>, labelLogProbability: UnsafeMutablePointer<Float>) {
        self.maximum = maximum
        self.logSum = logSum
        self.loss = loss
        self.wrong = wrong
        self.labelLogProbability = labelLogProbability
    }
}

extension Kernels {
    /// The statistics pass over pixels `range` of one image: reads each logit from DRAM once
    /// and computes one exp per logit. `logits` is the image's first logit (class `c` of pixel
    /// `p` at `c · plane + p`), `labels` and `out` are indexed by the image's pixel.
    ///
    /// With `exponentials` (the image's first element of a Float NCHW array, only where
    /// ``keepsExponentials``), `exp(x_cp − m_p)` is also written there for every class and pixel
    /// of the range, with non-temporal stores, for
    /// ``gradient(fromExponentials:labels:plane:range:targets:logSum:coefficient:labelCoefficient:layout:scratch:)``.
    /// - Returns: false if any logit in the range is NaN or infinite (then `out` and the
    ///   exponentials are meaningless).
    package static func statistics(
        logits: LogitBuffer, labels: UnsafePointer<Int32>, plane: Int, range: Range<Int>,
        targets: Targets, layout: TileLayout, out: PixelStatistics, exponentials: UnsafeMutablePointer<Float>? = nil,
        scratch: UnsafeMutablePointer<Float>
    ) -> Bool {
        precondition(exponentials == nil || (keepsExponentials && !layout.channelsLast), "exponentials kept where they cannot be")
        let finite: Bool
        switch Kernels.vectorLanes {
        case 16: finite = statistics(SIMD16<Float>.self, logits, labels, plane, range, targets, layout, out, exponentials, scratch)
        case 4: finite = statistics(SIMD4<Float>.self, logits, labels, plane, range, targets, layout, out, exponentials, scratch)
        default: finite = statistics(SIMD8<Float>.self, logits, labels, plane, range, targets, layout, out, exponentials, scratch)
        }
        hpm_stream_fence()
        return finite
    }

    /// Whether the statistics pass keeps its exponentials in the gradient's memory: where that
    /// pays (`HPM_KEEP_EXPONENTIALS`: builds below AVX-512, where an exp is dear) and a column's
    /// vector fills whole cache lines (``streamsColumns(_:)``), so that they are streamed out
    /// with non-temporal stores.
    package static var keepsExponentials: Bool { exponentialsPay && columnsStream }

    /// `HPM_KEEP_EXPONENTIALS`.
    private static let exponentialsPay = HPM_KEEP_EXPONENTIALS != 0

    private static var columnsStream: Bool {
        switch Kernels.vectorLanes {
        case 16: streamsColumns(SIMD16<Float>.self)
        case 4: streamsColumns(SIMD4<Float>.self)
        default: streamsColumns(SIMD8<Float>.self)
        }
    }

    private static func statistics<V: FloatLanes>(
        _: V.Type, _ x: LogitBuffer, _ labels: UnsafePointer<Int32>, _ plane: Int, _ range: Range<Int>,
        _ targets: Targets, _ layout: TileLayout, _ out: PixelStatistics, _ kept: UnsafeMutablePointer<Float>?,
        _ scratch: UnsafeMutablePointer<Float>
    ) -> Bool {
        let lanes = V.laneCount
        var finite = true
        let columnBuffer = layout.exponentials(scratch)
        // Whether pixel q's four outputs can be streamed: each aligned for a whole vector's
        // non-temporal store (the workspace's are lines; the pass's readers come after every
        // tile of it, by when an ordinary store's line, read for ownership first, has left the
        // cache anyway).
        @inline(__always) func streams(_ out: PixelStatistics, _ q: Int) -> Bool {
            let mask = V.streamAlignment - 1
            return (Int(bitPattern: out.maximum + q) | Int(bitPattern: out.logSum + q) | Int(bitPattern: out.loss + q)
                | Int(bitPattern: out.labelLogProbability + q)) & mask == 0
        }
        forEachTile(range, layout) { p, count in
            let vectors = (count + lanes - 1) / lanes
            var prefetch = TilePrefetch(V.self, after: p, count: count, logits: x, plane: plane, layout: layout)
            // A copy: in place measured slower here (Docs/Performance.md, session 10).
            finite = loadTile(V.self, logits: x, plane: plane, p: p, count: count, layout: layout, scratch: scratch) && finite
            let rows = layout.rows(scratch)
            gatherLabels(
                labels: labels, p: p, count: count, padded: vectors * lanes, targets: targets, layout: layout, scratch: scratch,
                labelValues: rows)
            if let kept, count >= lanes {
                // Each column's exponentials straight to memory, from the columns aligned for
                // non-temporal stores (the state of the padding's lanes is then not computed:
                // those lanes are not stored below).
                let destination = kept + p
                forEachColumn(count: count, lanes: lanes, alignedFrom: firstStreamedElement(V.self, destination)) { o in
                    summarizeColumn(
                        V.self, at: o, argmax: true, rows: rows, layout: layout, scratch: scratch,
                        exponentials: destination + o, exponentialStride: plane, streamsExponentials: true,
                        classWeights: targets.classWeights, prefetch: &prefetch, readsInPlace: false)
                }
            } else {
                forEachColumn(count: count, lanes: lanes, alignedFrom: nil) { o in
                    summarizeColumn(
                        V.self, at: o, argmax: true, rows: rows, layout: layout, scratch: scratch,
                        exponentials: kept == nil ? nil : columnBuffer, classWeights: targets.classWeights,
                        prefetch: &prefetch, readsInPlace: false)
                }
                if let kept {
                    // A tile shorter than one vector is one column: its pixels from the column's buffer.
                    for c in 0..<layout.classes {
                        for i in 0..<count { kept[c * plane + p + i] = columnBuffer[c * lanes + i] }
                    }
                }
            }
            let maximum = layout.state(scratch, TileState.maximum)
            let argmax = layout.state(scratch, TileState.argmax)
            let labelIndex = layout.state(scratch, TileState.labelIndex)
            let valid = layout.state(scratch, TileState.valid)
            for v in 0..<vectors {
                let n = Swift.min(lanes, count - v * lanes)
                let q = p + v * lanes
                let (logSum, loss, labelLogP) = crossEntropy(V.self, at: v * lanes, targets: targets, layout: layout, scratch: scratch)
                if n == lanes && streams(out, q) {
                    V.load(maximum + v * lanes).streamNonTemporal(to: out.maximum + q)
                    logSum.streamNonTemporal(to: out.logSum + q)
                    loss.streamNonTemporal(to: out.loss + q)
                    labelLogP.streamNonTemporal(to: out.labelLogProbability + q)
                } else {
                    V.load(maximum + v * lanes).store(to: out.maximum + q, count: n)
                    logSum.store(to: out.logSum + q, count: n)
                    loss.store(to: out.loss + q, count: n)
                    labelLogP.store(to: out.labelLogProbability + q, count: n)
                }
            }
            // Branch-free: errors are scattered.
            var i = 0
            while i < count {
                out.wrong[p &+ i] = UInt8(truncatingIfNeeded: (valid[i] != 0 ? 1 : 0) & (argmax[i] != labelIndex[i] ? 1 : 0))
                i &+= 1
            }
        }
        return finite
    }

    /// The first class of the largest logit for pixels `range` of one image — the same
    /// ``columnMaximum`` the statistics use, so the package has one argmax.
    /// - Returns: false if any logit in the range is NaN or infinite.
    package static func predictedClasses(
        logits: LogitBuffer, plane: Int, range: Range<Int>, layout: TileLayout,
        out: UnsafeMutablePointer<Int32>, scratch: UnsafeMutablePointer<Float>
    ) -> Bool {
        switch Kernels.vectorLanes {
        case 16: predictedClasses(SIMD16<Float>.self, logits, plane, range, layout, out, scratch)
        case 4: predictedClasses(SIMD4<Float>.self, logits, plane, range, layout, out, scratch)
        default: predictedClasses(SIMD8<Float>.self, logits, plane, range, layout, out, scratch)
        }
    }

    private static func predictedClasses<V: FloatLanes>(
        _: V.Type, _ x: LogitBuffer, _ plane: Int, _ range: Range<Int>, _ layout: TileLayout,
        _ out: UnsafeMutablePointer<Int32>, _ scratch: UnsafeMutablePointer<Float>
    ) -> Bool {
        let lanes = V.laneCount
        let argmax = layout.state(scratch, TileState.argmax)
        var finite = true
        forEachTile(range, layout) { p, count in
            finite = loadTile(V.self, logits: x, plane: plane, p: p, count: count, layout: layout, scratch: scratch) && finite
            let rows = layout.rows(scratch)
            forEachColumn(count: count, lanes: lanes, alignedFrom: nil) { o in
                columnMaximum(V.self, at: o, argmax: true, rows: rows, classes: layout.classes).argmax.store(to: argmax + o)
            }
            for i in 0..<count { out[p + i] = Int32(argmax[i]) }
        }
        return finite
    }
}
