import HardPixelMiningKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Phase 2 of cross-entropy with ``PixelMining``: choose the image's pixels and write
/// their gradient coefficients (`w_i / (N |S|)`, 0 elsewhere).
enum Mining {
    /// Selects image `k`'s pixels from the statistics in the workspace and returns its sums.
    static func select(
        _ mining: PixelMining, image k: Int, shape: PixelMapShape, ignoreLabel: Int32, labels: UnsafePointer<Int32>,
        pixelWeights: UnsafePointer<Float>?, gradientScale: Double, coefficientLimit: Float, workspace ws: ObjectiveWorkspace,
        batchImages: Int
    ) -> ImageSums {
        let base = k * shape.pixelsPerImage
        var s = ImageSums()
        s.labelledPixels = ObjectiveEngine.labelledPixels(labels + base, count: shape.pixelsPerImage, ignoreLabel: ignoreLabel)
        select(
            mining, plane: shape.pixelsPerImage, scale: gradientScale / Double(batchImages), labels: labels + base,
            ignoreLabel: ignoreLabel, loss: ws.loss + base, labelLogProbability: ws.labelLogProbability + base,
            pixelWeights: pixelWeights.map { $0 + base }, scratch: ws.selection + base,
            coefficient: ws.coefficient + base, histogram: ws.histogram(image: k), limit: coefficientLimit, sums: &s)
        return s
    }

    /// Batch-wide mining (DeepLab's top-k, mmsegmentation's OHEM): one selection over all N·H·W
    /// pixels, one divisor K; fills the workspace's per-image sums (each with `pooledDivisor` K)
    /// and the coefficients `w_i · scale / K` on the kept pixels.
    static func selectBatch(
        _ mining: PixelMining, shape: PixelMapShape, ignoreLabel: Int32, labels: UnsafePointer<Int32>,
        pixelWeights: UnsafePointer<Float>?, gradientScale: Double, coefficientLimit: Float, workspace ws: ObjectiveWorkspace,
        batch: BatchExchange? = nil
    ) throws {
        let total = shape.pixelCount
        let loss = ws.loss, coefficient = ws.coefficient, scratch = ws.selection
        let histogram = ws.histogram(image: 0)
        let labelled = ObjectiveEngine.labelledPixels(labels, count: total, ignoreLabel: ignoreLabel)
        // The whole batch's counts: this call's, or every rank's.
        let batchImages = batch?.images ?? shape.images
        let batchTotal = batchImages * shape.pixelsPerImage
        let batchLabelled = try batch.map { Int(try $0.allReduceSum([UInt64(labelled)])[0]) } ?? labelled
        for i in 0..<total { coefficient[i] = 0 }
        @inline(__always) func weight(_ i: Int) -> Float { pixelWeights?[i] ?? 1 }
        /// The element of rank `rank` of `values` over the whole batch.
        func smallest(_ values: UnsafeMutableBufferPointer<Float>, _ rank: Int) throws -> Float {
            guard let batch else { return Selection.smallest(values, rank, histogram: histogram) }
            return try Selection.smallest(values, rank, histogram: histogram) { counts in
                let all = try batch.allReduceSum(counts.map { UInt64($0) })
                for b in counts.indices { counts[b] = Int(all[b]) }
            }
        }
        /// Marks the `keep` largest of `value(i)` over the batch's `count` pixels with
        /// `include(i)` (ties: lower index, across ranks in rank order).
        func keepLargest(_ keep: Int, among count: Int, _ include: (Int) -> Bool, _ value: (Int) -> Float) throws {
            guard keep > 0, count > 0 else { return }
            var m = 0
            for i in 0..<total where include(i) {
                scratch[m] = value(i)
                m += 1
            }
            let tau = try smallest(UnsafeMutableBufferPointer(start: scratch, count: m), count - keep)
            var ties = keep
            if let batch {
                // The ties this rank keeps: those left after every rank's larger values and the
                // ties of the ranks before it.
                var greater = 0, equal = 0
                for i in 0..<total where include(i) {
                    let v = value(i)
                    greater += v > tau ? 1 : 0
                    equal += v == tau ? 1 : 0
                }
                let all = try batch.allGather([Double(greater), Double(equal)])
                var before = all.reduce(0) { $0 + Int($1[0]) }
                for r in 0..<batch.collective.rank { before += Int(all[r][1]) }
                ties = Swift.max(0, keep - before)
            } else {
                for i in 0..<total where include(i) && value(i) > tau { ties -= 1 }
            }
            for i in 0..<total where include(i) {
                let v = value(i)
                if v > tau || (v == tau && ties > 0) {
                    if v == tau { ties -= 1 }
                    coefficient[i] = 1
                }
            }
        }
        let isLabelled = { (i: Int) in labels[i] != ignoreLabel }
        let divisor: Double
        switch mining {
        case .batchTopFraction(let fraction):
            // Int(f · N·H·W), rounded down as Python's int(); ignored pixels are zeros.
            let k = Swift.min(batchTotal, Int((fraction * Double(batchTotal)).rounded(.down)))
            try keepLargest(k, among: batchTotal, { _ in true }) { isLabelled($0) ? weight($0) * loss[$0] : 0 }
            // An ignored pixel that was kept adds 0 and has no gradient.
            for i in 0..<total where !isLabelled(i) { coefficient[i] = 0 }
            divisor = Double(k)
        case .ohem(let threshold, let minimumKept, let averageNonIgnored):
            let (product, overflow) = minimumKept.multipliedReportingOverflow(by: batchImages)
            let batchKept = overflow ? Int.max : product
            if let threshold {
                if batchLabelled > 0 {
                    var m = 0
                    for i in 0..<total where isLabelled(i) {
                        scratch[m] = trueClassProbability(ws.labelLogProbability[i])
                        m += 1
                    }
                    let rank = Swift.min(batchKept, batchLabelled - 1)
                    let floor = try smallest(UnsafeMutableBufferPointer(start: scratch, count: labelled), rank)
                    let limit = Swift.max(threshold, Double(floor))
                    for i in 0..<total where isLabelled(i) && Double(trueClassProbability(ws.labelLogProbability[i])) < limit {
                        coefficient[i] = 1
                    }
                }
            } else {
                try keepLargest(Swift.min(batchKept, batchLabelled), among: batchLabelled, isLabelled) { loss[$0] }
            }
            divisor = averageNonIgnored ? Double(batchLabelled) : Double(batchTotal)
        case .topFraction, .probabilityBelow:
            preconditionFailure("per-image mining")
        }
        let scale = divisor > 0 ? gradientScale / divisor : 0
        let plane = shape.pixelsPerImage
        ws.imageSums.removeAll(keepingCapacity: true)
        for k in 0..<shape.images {
            var s = ImageSums()
            s.pooledDivisor = divisor
            var chosen = 0
            for i in (k * plane)..<((k + 1) * plane) {
                if isLabelled(i) { s.labelledPixels += 1 }
                guard coefficient[i] != 0 else { continue }
                chosen += 1
                let w = Double(weight(i))
                s.crossEntropySum += w * Double(loss[i])
                coefficient[i] = saturatingFloat(w * scale, limit: coefficientLimit)
            }
            s.minedPixels = chosen
            ws.imageSums.append(s)
        }
    }

    private static func select(
        _ mining: PixelMining, plane: Int, scale gradientScale: Double, labels: UnsafePointer<Int32>, ignoreLabel: Int32,
        loss: UnsafePointer<Float>, labelLogProbability: UnsafePointer<Float>, pixelWeights: UnsafePointer<Float>?,
        scratch: UnsafeMutablePointer<Float>, coefficient: UnsafeMutablePointer<Float>,
        histogram: UnsafeMutablePointer<Int>, limit: Float, sums s: inout ImageSums
    ) {
        let n = s.labelledPixels
        var chosen = 0
        // Mark the chosen pixels with 1 in `coefficient`, then scale.
        for i in 0..<plane { coefficient[i] = 0 }
        if n > 0 {
            switch mining {
            case .topFraction(let fraction):
                let keep = Swift.min(n, Int((fraction * Double(n)).rounded(.up)))
                var m = 0
                for i in 0..<plane where labels[i] != ignoreLabel {
                    scratch[m] = loss[i]
                    m += 1
                }
                // τ, the keep-th largest loss; all larger ones count, then ties by index.
                let tau = Selection.smallest(UnsafeMutableBufferPointer(start: scratch, count: n), n - keep, histogram: histogram)
                var ties = keep
                for i in 0..<plane where labels[i] != ignoreLabel && loss[i] > tau { ties -= 1 }
                for i in 0..<plane where labels[i] != ignoreLabel {
                    if loss[i] > tau || (loss[i] == tau && ties > 0) {
                        if loss[i] == tau { ties -= 1 }
                        coefficient[i] = 1
                        chosen += 1
                    }
                }
            case .probabilityBelow(let threshold, let minimumKept):
                var m = 0
                for i in 0..<plane where labels[i] != ignoreLabel {
                    scratch[m] = trueClassProbability(labelLogProbability[i])
                    m += 1
                }
                let rank = Swift.min(minimumKept, n - 1)
                let floor = Selection.smallest(UnsafeMutableBufferPointer(start: scratch, count: n), rank, histogram: histogram)
                let limit = Swift.max(threshold, Double(floor))
                for i in 0..<plane where labels[i] != ignoreLabel {
                    if Double(trueClassProbability(labelLogProbability[i])) < limit {
                        coefficient[i] = 1
                        chosen += 1
                    }
                }
            case .batchTopFraction, .ohem:
                preconditionFailure("batch-wide mining")
            }
        }
        s.minedPixels = chosen
        let scale = chosen > 0 ? gradientScale / Double(chosen) : 0
        for i in 0..<plane where coefficient[i] != 0 {
            let w = pixelWeights.map { Double($0[i]) } ?? 1
            s.crossEntropySum += w * Double(loss[i])
            coefficient[i] = saturatingFloat(w * scale, limit: limit)
        }
    }

    /// p = e^(log p), in Float as the selection sees it.
    @inline(__always)
    static func trueClassProbability(_ logProbability: Float) -> Float {
        Float(exp(Double(logProbability)))
    }
}
