import Foundation
import HardPixelMining
import HardPixelMiningReference
import HardPixelMiningTestSupport
import Testing

/// `DepthMix`: the mix against the float64 reference, its masks, and bad input.
@Suite struct DepthMixTests {
    @Test(arguments: Fixtures.depthMixCases.indices)
    func mixMatchesReference(index: Int) throws {
        let g = Fixtures.depthMixCases[index]
        let mixed = try DepthMix(margin: g.margin).mix(
            images: g.imageValues, channels: g.channels, labels: g.labelValues, depth: g.depthValues,
            shape: g.batchShape.pixelMap, partners: g.partners)
        #expect(mixed.masks == g.expectedMasks)
        #expect(mixed.images.map(\.bitPattern) == g.expectedImages.map(\.bitPattern))
        #expect(mixed.labels == g.expectedLabels)
        #expect(mixed.depth.map(\.bitPattern) == g.expectedDepth.map(\.bitPattern))
    }

    /// The fixtures exercise both outcomes of the mask.
    @Test func fixturesKeepAndReplacePixels() {
        let masks = Fixtures.depthMixCases.flatMap(\.expectedMasks)
        #expect(masks.contains(true) && masks.contains(false))
    }

    @Test func maskOfOnePair() throws {
        let mix = DepthMix(margin: 0.5)
        let m = try mix.mask(depth: [2, 5, .nan, 3, 0, 10], partnerDepth: [3, 4, 1, .nan, .nan, 9.6])
        #expect(m == [true, false, false, true, false, true])
    }

    @Test func badInput() {
        let shape = PixelMapShape(images: 2, height: 1, width: 2)
        let mix = DepthMix()
        #expect(throws: HardPixelMiningError.invalidDimension(argument: "partners[1]", value: 0, requirement: "a permutation of 0..<2")) {
            try mix.mix(images: [1, 2, 3, 4], channels: 1, labels: [0, 0, 0, 0], depth: [1, 1, 1, 1], shape: shape, partners: [0, 0])
        }
        #expect(throws: HardPixelMiningError.wrongCount(argument: "images", expected: 12, actual: 4)) {
            try mix.mix(images: [1, 2, 3, 4], channels: 3, labels: [0, 0, 0, 0], depth: [1, 1, 1, 1], shape: shape, partners: [1, 0])
        }
        #expect(throws: HardPixelMiningError.invalidDimension(argument: "channels", value: 0, requirement: ">= 1")) {
            try mix.mix(images: [], channels: 0, labels: [0, 0, 0, 0], depth: [1, 1, 1, 1], shape: shape, partners: [1, 0])
        }
        #expect(throws: HardPixelMiningError.invalidParameter(argument: "margin", value: .infinity, requirement: "finite")) {
            try DepthMix(margin: .infinity).mask(depth: [1], partnerDepth: [2])
        }
        #expect(throws: HardPixelMiningError.wrongCount(argument: "partnerDepth", expected: 1, actual: 2)) {
            try mix.mask(depth: [1], partnerDepth: [2, 3])
        }
    }
}
