import Foundation
import HardPixelMining
import HardPixelMiningReference
import HardPixelMiningTestSupport
import Testing

/// `HoyerDepthMix`: against the float64 reference written from Hoyer's code, its ties and
/// threshold, and bad input.
@Suite struct HoyerDepthMixTests {
    @Test(arguments: Fixtures.hoyerMixCases.indices)
    func mixMatchesReference(index: Int) throws {
        let g = Fixtures.hoyerMixCases[index]
        let mixer = HoyerDepthMix(margin: g.margin, foregroundThreshold: g.foreground_threshold)
        #expect(HoyerDepthMix.rolledPartners(count: g.shape.images) == g.partners)
        let mixed = try mixer.mix(
            disparity: g.disparityValues, shape: g.batchShape.pixelMap, images: g.imageValues, channels: g.channels,
            labels: g.labelValues, softTargets: g.softTargets, classes: g.batchShape.classes)
        #expect(mixed.masks == g.expectedMasks)
        #expect(mixed.images == g.expectedImages)
        #expect(mixed.labels == g.expectedLabels)
        #expect(mixed.softTargets == g.expectedSoftTargets)
        #expect(mixed.softTargetLabels == g.expectedSoftLabels)
    }

    @Test func tiesGoToTheOwnImageAndTheThresholdDropsTheBackground() throws {
        // Two 1×3 images; disparities normalise to [0, 0.5, 1] and [0, 0.5, 1]: every pixel ties.
        let shape = PixelMapShape(images: 2, height: 1, width: 3)
        let m = try HoyerDepthMix(margin: 0, foregroundThreshold: 0.25).mix(disparity: [1, 2, 3, 10, 20, 30], shape: shape)
        #expect(m.masks == [false, true, true, false, true, true])
        // The package's own DepthMix gives ties to the partner instead.
        #expect(try DepthMix().mask(depth: [5, 5], partnerDepth: [5, 5]) == [false, false])
    }

    @Test func badHoyerInput() throws {
        let shape = PixelMapShape(images: 2, height: 1, width: 2)
        let nan = #expect(throws: HardPixelMiningError.self) {
            try HoyerDepthMix().mix(disparity: [1, 2, .nan, 4], shape: shape)
        }
        #expect(nan?.description == "`disparity`[2] is nan; it must be finite")
        #expect(throws: HardPixelMiningError.invalidDimension(argument: "partners[1]", value: 1, requirement: "a permutation of 0..<2")) {
            try HoyerDepthMix().mix(disparity: [1, 2, 3, 4], shape: shape, partners: [1, 1])
        }
        #expect(throws: HardPixelMiningError.wrongCount(argument: "softTargets", expected: 8, actual: 4)) {
            try HoyerDepthMix().mix(disparity: [1, 2, 3, 4], shape: shape, softTargets: [0, 1, 0, 1], classes: 2)
        }
        // Soft targets need their class count: C ≥ 2, as for logits.
        #expect(throws: HardPixelMiningError.invalidDimension(argument: "classes", value: 0, requirement: ">= 2 with softTargets")) {
            try HoyerDepthMix().mix(disparity: [1, 2, 3, 4], shape: shape, softTargets: [0, 1, 0, 1])
        }
        #expect(throws: HardPixelMiningError.invalidDimension(argument: "classes", value: 1, requirement: ">= 2 with softTargets")) {
            try HoyerDepthMix().mix(disparity: [1, 2, 3, 4], shape: shape, softTargets: [0, 1, 0, 1], classes: 1)
        }
        #expect(throws: HardPixelMiningError.self) {
            try HoyerDepthMix().mix(disparity: [1, 2, 3, 4], shape: shape, softTargets: [0, 1, 0, 1], classes: 1 << 40)
        }
        let margin = #expect(throws: HardPixelMiningError.self) {
            try HoyerDepthMix(margin: .infinity).mix(disparity: [1, 2, 3, 4], shape: shape)
        }
        #expect(margin?.argument == "margin")
    }
}
