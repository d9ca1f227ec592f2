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
        _ mining: PixelMining, image k: Int, shape: BatchShape, ignoreLabel: Int32, labels: UnsafePointer<Int32>,
        pixelWeights: UnsafePointer<Float>?, gradientScale: Double, workspace ws: ObjectiveWorkspace
    ) -> ImageSums {
        let base = k * shape.pixelsPerImage
        var s = ImageSums()
        s.labelledPixels = ObjectiveEngine.labelledPixels(labels + base, count: shape.pixelsPerImage, ignoreLabel: ignoreLabel)
        select(
            mining, plane: shape.pixelsPerImage, scale: gradientScale / Double(shape.images), labels: labels + base,
            ignoreLabel: ignoreLabel, loss: ws.loss + base, labelLogProbability: ws.labelLogProbability + base,
            pixelWeights: pixelWeights.map { $0 + base }, scratch: ws.selection + base,
            coefficient: ws.coefficient + base, histogram: ws.histogram(image: k), sums: &s)
        return s
    }

    private static func select(
        _ mining: PixelMining, plane: Int, scale gradientScale: Double, labels: UnsafePointer<Int32>, ignoreLabel: Int32,
        loss: UnsafePointer<Float>, labelLogProbability: UnsafePointer<Float>, pixelWeights: UnsafePointer<Float>?,
        scratch: UnsafeMutablePointer<Float>, coefficient: UnsafeMutablePointer<Float>,
        histogram: UnsafeMutablePointer<Int>, sums s: inout ImageSums
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
            }
        }
        s.minedPixels = chosen
        let scale = chosen > 0 ? gradientScale / Double(chosen) : 0
        for i in 0..<plane where coefficient[i] != 0 {
            let w = pixelWeights.map { Double($0[i]) } ?? 1
            s.crossEntropySum += w * Double(loss[i])
            coefficient[i] = saturatingFloat(w * scale, limit: .greatestFiniteMagnitude / 4)
        }
    }

    /// p = e^(log p), in Float as the selection sees it.
    @inline(__always)
    static func trueClassProbability(_ logProbability: Float) -> Float {
        Float(exp(Double(logProbability)))
    }
}
