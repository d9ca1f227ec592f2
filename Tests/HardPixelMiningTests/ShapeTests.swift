import HardPixelMining
import HardPixelMiningTestSupport
import Testing

/// The two shapes: a batch's logits (N·C·H·W, `BatchShape`) and its per-pixel maps (N·H·W,
/// `PixelMapShape`). Entry points that read maps only take the latter, validate it by its own
/// three dimensions, and never ask for a class count.
@Suite struct ShapeTests {
    @Test func batchShapeAndItsPixelMapAgree() {
        let shape = BatchShape(images: 3, classes: 7, height: 5, width: 11, logitLayout: .channelsLast)
        let maps = shape.pixelMap
        #expect(maps == PixelMapShape(images: 3, height: 5, width: 11))
        #expect(maps.pixelCount == 165 && maps.pixelsPerImage == 55)
        #expect(shape.pixelCount == maps.pixelCount && shape.pixelsPerImage == maps.pixelsPerImage)
        #expect(shape.logitCount == 7 * maps.pixelCount)
        #expect(BatchShape(maps, classes: 7, logitLayout: .channelsLast) == shape)
        #expect(maps.description == "3×5×11")
        #expect(PixelMapShape(images: 1 << 40, height: 1 << 40, width: 2).pixelCount == .max, "saturates")
    }

    /// Every map-only entry point names the bad dimension of its `PixelMapShape`.
    @Test(arguments: [
        (PixelMapShape(images: 0, height: 2, width: 2), "shape.images"),
        (PixelMapShape(images: 1, height: -1, width: 2), "shape.height"),
        (PixelMapShape(images: 1, height: 2, width: 0), "shape.width"),
    ])
    func mapEntryPointsNameTheBadDimension(shape: PixelMapShape, argument: String) {
        let four: [Float] = [1, 2, 3, 4]
        let calls: [() throws -> Void] = [
            {
                var g = four
                _ = try ScaleInvariantDepthLoss().evaluate(predictedLogDepth: four, groundTruthDepth: four, shape: shape, gradient: &g)
            },
            {
                var g = four
                _ = try SILogDepthLoss().evaluate(predictedLogDepth: four, groundTruthDepth: four, shape: shape, gradient: &g)
            },
            { _ = try SideOutputResampling.labels([0, 0, 0, 0], shape: shape, height: 1, width: 1) },
            { _ = try SideOutputResampling.depth(four, shape: shape, height: 1, width: 1) },
            { _ = try SideOutputResampling.weights(four, shape: shape, height: 1, width: 1) },
            { _ = try DepthMix().mix(images: four, channels: 1, labels: [0, 0, 0, 0], depth: four, shape: shape, partners: [0]) },
            { _ = try HoyerDepthMix().mix(disparity: four, shape: shape) },
        ]
        for call in calls {
            let error = #expect(throws: HardPixelMiningError.self) { try call() }
            #expect(error?.argument == argument)
        }
    }

    @Test func oversizedMapsAreRefusedByName() {
        let shape = PixelMapShape(images: 1 << 21, height: 1 << 10, width: 1 << 10)
        #expect(throws: HardPixelMiningError.tooLarge(
            argument: "shape", dimensions: [1 << 21, 1 << 10, 1 << 10], requirement: "a shape of at most 2^40 elements")) {
            var g: [Float] = [0]
            _ = try ScaleInvariantDepthLoss().evaluate(predictedLogDepth: [1], groundTruthDepth: [1], shape: shape, gradient: &g)
        }
    }
}
