import Foundation
import HardPixelMining
import Testing

/// wR's pace: the objective selects the lower median and maximum of wR over the eligible
/// pixels by buckets of `[0, max wR]`; the pace it reports must be bitwise the one
/// ``SelfPacedPacing/learningPace(of:epoch:)`` computes (a radix select on the values' bits)
/// from the objective's own wR map, on the batches where buckets are at their edges.
@Suite struct DepthPredictionErrorPaceTests {
    static let pacing = SelfPacedPacing(totalEpochs: 40)
    static let epoch = 20.0

    /// Image k's ground-truth depth and predicted log-depth per pixel (0 depth: invalid), and
    /// whether its label is ignored.
    typealias Pixel = (depth: Float, predicted: Float, ignored: Bool)

    /// The objective's wR pace per image against the learning pace of the eligible wR it maps.
    func expectPacesAgree(_ images: [[Pixel]], height: Int, width: Int) throws {
        let shape = BatchShape(images: images.count, classes: 3, height: height, width: width)
        let pixels = images.flatMap { $0 }
        var state: UInt64 = 7
        func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(state >> 40) / Float(1 << 24)
        }
        let logits = (0..<shape.logitCount).map { _ in next() * 6 - 3 }
        let labels = pixels.map { $0.ignored ? Int32(255) : Int32(next() * 2.99) }
        var logitGradient = [Float](repeating: 0, count: shape.logitCount)
        var depthGradient = [Float](repeating: 0, count: shape.pixelCount)
        var maps = ObjectiveMapArrays(shape: shape, depthPredictionError: true)
        let result = try HardPixelMiningObjective(.paperPaced(totalEpochs: 40), threadCount: 2).evaluate(
            logits: logits, labels: labels, predictedLogDepth: pixels.map(\.predicted), groundTruthDepth: pixels.map(\.depth),
            shape: shape, epoch: Self.epoch, logitGradient: &logitGradient, depthGradient: &depthGradient, maps: &maps)
        let wR = try #require(maps.depthPredictionError)
        let binning = DepthBinning.paper
        for (k, image) in images.enumerated() {
            let eligible = image.indices.filter { i in
                !image[i].ignored && image[i].depth >= binning.minimum && image[i].depth <= binning.maximum
            }
            let values = eligible.map { wR[k * shape.pixelsPerImage + $0] }
            let expected = values.isEmpty ? nil : try Self.pacing.learningPace(of: values, epoch: Self.epoch)
            #expect(result.sums[k].eligiblePixels == eligible.count)
            #expect(result.sums[k].depthPredictionErrorPace == expected, "image \(k)")
        }
    }

    @Test func pacesAtTheBucketsEdgesMatchTheRadixSelect() throws {
        let (h, w) = (9, 13)  // 117 pixels: vectors of eight and a tail
        let n = h * w
        var state: UInt64 = 11
        func uniform() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(state >> 40) / Float(1 << 24)
        }
        // Scattered residuals, ignored labels and invalid depths.
        let random: [Pixel] = (0..<n).map { _ in
            let d: Float = uniform() < 0.1 ? 0 : 1 + uniform() * 200
            return (d, d > 0 ? Foundation.log(d) + uniform() * 0.6 - 0.3 : 0, uniform() < 0.15)
        }
        // Every residual the same: one bucket holds them all.
        let equal: [Pixel] = (0..<n).map { _ in (10, 2.5, false) }
        // Every residual ±0 (log 1 = 0): the maximum is 0.
        let zero: [Pixel] = (0..<n).map { i in (1, i % 2 == 0 ? 0 : -0.0, false) }
        // One residual of 80 and the rest near 0: the median's bucket is the first.
        let tail: [Pixel] = (0..<n).map { i in (1, i == 5 ? 80 : uniform() * 1e-3, false) }
        // Two values, the median the smaller: its bucket is 1, the maximum's 2047.
        let two: [Pixel] = (0..<n).map { i in (1, i < n / 2 ? 0.25 : 1, false) }
        // Subnormal residuals: 2046 / max wR overflows a Float.
        let tiny: [Pixel] = (0..<n).map { i in (1, i % 3 == 0 ? 1e-40 : 3e-41, false) }
        // A single eligible pixel, and none.
        let single: [Pixel] = (0..<n).map { i in (i == 100 ? 5 : 0, 3, false) }
        let none: [Pixel] = (0..<n).map { _ in (5, 1, true) }
        try expectPacesAgree([random, equal, zero, tail, two, tiny, single, none], height: h, width: w)
    }
}
