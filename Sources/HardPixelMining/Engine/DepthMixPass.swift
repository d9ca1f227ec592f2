import HardPixelMiningKernels
/// The loops of the mixing augmentations (``DepthMix``, ``HoyerDepthMix``), on validated input.
enum DepthMixPass {
    /// Hoyer's masks: per image min–max normalised disparity (Double), then
    /// `M = [d̂_k ≥ d̂_p − margin] · [d̂_k ≥ threshold]`.
    static func hoyerMasks(
        disparity: [Float], shape: PixelMapShape, partners: [Int], margin: Double, foregroundThreshold: Double
    ) -> [Bool] {
        let plane = shape.pixelsPerImage
        var normalised = [Double](repeating: 0, count: shape.pixelCount)
        for k in 0..<shape.images {
            let image = disparity[(k * plane)..<((k + 1) * plane)]
            guard let lo = image.min(), let hi = image.max(), hi > lo else { continue }
            let (low, range) = (Double(lo), Double(hi) - Double(lo))
            for i in 0..<plane { normalised[k * plane + i] = (Double(disparity[k * plane + i]) - low) / range }
        }
        var masks = [Bool](repeating: false, count: shape.pixelCount)
        for (k, p) in partners.enumerated() {
            for i in 0..<plane {
                let own = normalised[k * plane + i], other = normalised[p * plane + i]
                masks[k * plane + i] = own >= other - margin && own >= foregroundThreshold
            }
        }
        return masks
    }

    /// `M ? own : partner` for every channel of NCHW `values` (channels = 1 for N·H·W maps).
    static func select<T>(_ values: [T], channels: Int, shape: PixelMapShape, partners: [Int], masks: [Bool]) -> [T] {
        let plane = shape.pixelsPerImage
        var out = values
        for (k, p) in partners.enumerated() {
            for i in 0..<plane where !masks[k * plane + i] {
                for c in 0..<channels { out[(k * channels + c) * plane + i] = values[(p * channels + c) * plane + i] }
            }
        }
        return out
    }

    /// The first largest class of N·C·H·W values per pixel; `ignoreLabel` where the largest is 0.
    static func argmax(_ values: [Float], shape: PixelMapShape, classes: Int, ignoreLabel: Int32) -> [Int32] {
        let plane = shape.pixelsPerImage
        var out = [Int32](repeating: ignoreLabel, count: shape.pixelCount)
        for k in 0..<shape.images {
            for i in 0..<plane {
                var best = 0
                var top = values[k * classes * plane + i]
                for c in 1..<Swift.max(1, classes) where values[(k * classes + c) * plane + i] > top {
                    top = values[(k * classes + c) * plane + i]
                    best = c
                }
                out[k * plane + i] = top == 0 ? ignoreLabel : Int32(best)
            }
        }
        return out
    }

    /// This package's DepthMix: `M = valid(D_k) && (!valid(D_p) || D_k < D_p + ε)`; mixes
    /// images, labels and depth.
    static func depthMix(
        _ mix: DepthMix, images: [Float], channels: Int, labels: [Int32], depth: [Float], shape: PixelMapShape,
        partners: [Int]
    ) -> DepthMix.Mixed {
        let plane = shape.pixelsPerImage
        var masks = [Bool](repeating: false, count: shape.pixelCount)
        for (k, j) in partners.enumerated() {
            for p in 0..<plane { masks[k * plane + p] = mix.keepsOwnPixel(depth[k * plane + p], depth[j * plane + p]) }
        }
        return DepthMix.Mixed(
            images: select(images, channels: channels, shape: shape, partners: partners, masks: masks),
            labels: select(labels, channels: 1, shape: shape, partners: partners, masks: masks),
            depth: select(depth, channels: 1, shape: shape, partners: partners, masks: masks), masks: masks)
    }
}
