import Foundation
import HardPixelMining
import HardPixelMiningTestSupport
import Testing

/// `ScaleInvariantDepthLoss` against the float64 reference: per-image and batch L_dep and
/// its gradient.
@Suite struct ScaleInvariantDepthLossTests {
    @Test(arguments: ["seg_depth_rho0", "seg_depth_rho1", "hpm_c40_epoch12", "hpm_multichunk"])
    func scaleInvariantDepthLoss(name: String) throws {
        let g = Fixtures.objectiveCase(name)
        let loss = ScaleInvariantDepthLoss(scaleInvariance: g.configuration.scaleInvariance)
        var gradient = [Float](repeating: .nan, count: g.batchShape.pixelCount)
        let result = try loss.evaluate(
            predictedLogDepth: g.predictedLogDepth, groundTruthDepth: g.groundTruthDepth, shape: g.batchShape.pixelMap,
            gradient: &gradient)
        #expect(Tolerance.lossMatches(result.value, g.batch.depth))
        for (k, image) in result.images.enumerated() {
            #expect(Tolerance.lossMatches(image, g.images[k].depth))
        }
        // With α = 1 and no weight-propagation the objective's depth gradient is L_dep's.
        if g.configuration.depthWeight == 1 && !g.configuration.propagatesDepthPredictionErrorToDepth {
            #expect(Tolerance.firstGradientMismatch(gradient, g.expectedDepthGradient) == nil)
        }
    }

    /// R = logD − log D* is taken in Double from Float depths over the whole Float range:
    /// subnormals, every binade, the neighbours of 1 and of √2 (where the log's reduction
    /// switches binade), against the platform's Double log, to 4 ulps of log D*. One pixel
    /// per image, so each image's `residualSum` is one R.
    @Test func residualsTakeDoubleAccurateLogsAcrossTheFloatRange() throws {
        var depths: [Float] = [1, Float(1).nextUp, Float(1).nextDown, .leastNonzeroMagnitude, .leastNormalMagnitude,
                               Float.leastNormalMagnitude.nextDown, .greatestFiniteMagnitude]
        for exponent in -149...127 {
            for mantissa: UInt32 in [0, 1, 0x35_04F2, 0x35_04F3, 0x35_04F4, 0x35_04F5, 0x40_0000, 0x7F_FFFF] {
                let bits = exponent >= -126 ? UInt32(exponent + 127) << 23 | mantissa : (0x80_0000 | mantissa) >> UInt32(-126 - exponent)
                let d = Float(bitPattern: bits == 0 ? 1 : bits)
                depths.append(d)
            }
        }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<2_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let d = Float(bitPattern: UInt32(truncatingIfNeeded: state >> 33) % 0x7F80_0000)
            depths.append(d == 0 ? 1 : d)
        }
        // Predicted log-depths of 0 (R = −log D*) and of the Float nearest log D* (R small).
        for nearest in [false, true] {
            let predicted = depths.map { nearest ? Float(Foundation.log(Double($0))) : 0 }
            let shape = PixelMapShape(images: depths.count, height: 1, width: 1)
            var gradient = [Float](repeating: 0, count: depths.count)
            let binning = DepthBinning(minimum: .leastNonzeroMagnitude, maximum: .greatestFiniteMagnitude, binWidth: 1e33)
            let result = try ScaleInvariantDepthLoss(scaleInvariance: 0, depthBinning: binning).evaluate(
                predictedLogDepth: predicted, groundTruthDepth: depths, shape: shape, gradient: &gradient)
            for (k, d) in depths.enumerated() {
                let logDepth = Foundation.log(Double(d))
                let expected = Double(predicted[k]) - logDepth
                let r = result.sums[k].residualSum
                #expect(result.sums[k].depthPixels == 1)
                #expect(abs(r - expected) <= 4 * abs(logDepth).ulp, "D* = \(d): R = \(r), expected \(expected)")
            }
        }
    }
}
