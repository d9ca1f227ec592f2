import Foundation
import HardPixelMining

/// Golden cases of per-image mining, DepthMix, error prediction and side outputs, one fixture
/// file per feature (Tests/Fixtures/pixel_mining.json, depth_mix.json, error_prediction.json,
/// multi_scale.json).
public struct MinedCase: Decodable, Sendable {
    public struct Mining: Decodable, Sendable { public var kind: String; public var value: Double; public var minimum_kept: Int }
    public struct Image: Decodable, Sendable { public var loss: Double; public var selected: Int }
    public var name: String
    public var shape: GoldenCase.Shape
    public var mining: Mining
    public var smoothing: GoldenCase.Smoothing
    public var batch: Double
    public var images: [Image]
    private var logits, labels, grad, selected: String

    public var batchShape: BatchShape {
        BatchShape(images: shape.images, classes: shape.classes, height: shape.height, width: shape.width)
    }
    public var pixelMining: PixelMining {
        mining.kind == "top" ? .topFraction(mining.value)
            : .probabilityBelow(threshold: mining.value, minimumKept: mining.minimum_kept)
    }
    public var labelSmoothing: LabelSmoothing {
        smoothing.kind == "none" ? .none : .paper(trueClassTarget: smoothing.value)
    }
    public var logitValues: [Float] { decode(logits) }
    public var labelValues: [Int32] { decode(labels) }
    public var expectedGradient: [Double] { decode(grad) }
    public var expectedSelection: [UInt8] { decode(selected) }
}

public struct DepthMixCase: Decodable, Sendable {
    public struct Shape: Decodable, Sendable { public var images, height, width: Int }
    public var shape: Shape
    public var channels: Int
    public var margin: Float
    public var partners: [Int]
    private var images, labels, depth, mixed_images, mixed_labels, mixed_depth, masks: String

    public var batchShape: BatchShape { BatchShape(images: shape.images, classes: 0, height: shape.height, width: shape.width) }
    public var imageValues: [Float] { decode(images) }
    public var labelValues: [Int32] { decode(labels) }
    public var depthValues: [Float] { decode(depth) }
    public var expectedImages: [Float] { decode(mixed_images) }
    public var expectedLabels: [Int32] { decode(mixed_labels) }
    public var expectedDepth: [Float] { decode(mixed_depth) }
    public var expectedMasks: [Bool] { (decode(masks) as [UInt8]).map { $0 != 0 } }
}

public struct ErrorPredictionCase: Decodable, Sendable {
    public var shape: GoldenCase.Shape
    public var value: Double
    public var images: [Double]
    public var fractions: [Double]
    public var iou: Double?
    public var hard_recall: Double?
    private var logits, labels, error_logits, detail_logits, grad, detail_weights, fused, error_map: String

    public var batchShape: BatchShape {
        BatchShape(images: shape.images, classes: shape.classes, height: shape.height, width: shape.width)
    }
    public var segmentationLogits: [Float] { decode(logits) }
    public var labelValues: [Int32] { decode(labels) }
    public var errorLogits: [Float] { decode(error_logits) }
    public var detailLogits: [Float] { decode(detail_logits) }
    public var expectedGradient: [Double] { decode(grad) }
    public var expectedDetailWeights: [Float] { decode(detail_weights) }
    public var expectedFused: [Double] { decode(fused) }
    public var expectedErrorMap: [Bool] { (decode(error_map) as [UInt8]).map { $0 != 0 } }
}

public struct MultiScaleCase: Decodable, Sendable {
    public struct Output: Decodable, Sendable {
        public var height, width: Int
        public var weight, value: Double
        private var logits, predicted, grad_logits, grad_depth, labels, depth, weights_map: String
        public var logitValues: [Float] { decode(logits) }
        public var predictedLogDepth: [Float] { decode(predicted) }
        public var expectedLogitGradient: [Double] { decode(grad_logits) }
        public var expectedDepthGradient: [Double] { decode(grad_depth) }
        public var expectedLabels: [Int32] { decode(labels) }
        public var expectedDepth: [Float] { decode(depth) }
        public var expectedWeights: [Double] { decode(weights_map) }
    }
    public var shape: GoldenCase.Shape
    public var config: GoldenCase.Config
    public var epoch: Double
    public var total: Double
    public var outputs: [Output]
    private var labels, depth, weights_map: String

    public var batchShape: BatchShape {
        BatchShape(images: shape.images, classes: shape.classes, height: shape.height, width: shape.width)
    }
    public var labelValues: [Int32] { decode(labels) }
    public var depthValues: [Float] { decode(depth) }
    public var weightsMap: [Float] { decode(weights_map) }
}

extension Fixtures {
    private struct MinedFile: Decodable { var mined: [MinedCase] }
    private struct DepthMixFile: Decodable { var depth_mix: [DepthMixCase] }
    private struct ErrorPredictionFile: Decodable { var error_prediction: [ErrorPredictionCase] }
    private struct MultiScaleFile: Decodable { var multi_scale: [MultiScaleCase] }

    private static let mined = load(MinedFile.self, "pixel_mining.json")
    private static let depthMix = load(DepthMixFile.self, "depth_mix.json")
    private static let errorPrediction = load(ErrorPredictionFile.self, "error_prediction.json")
    private static let multiScale = load(MultiScaleFile.self, "multi_scale.json")

    public static var minedCases: [MinedCase] { mined.mined }
    public static var depthMixCases: [DepthMixCase] { depthMix.depth_mix }
    public static var errorPredictionCases: [ErrorPredictionCase] { errorPrediction.error_prediction }
    public static var multiScaleCases: [MultiScaleCase] { multiScale.multi_scale }

    /// One feature's fixture file, decoded.
    static func load<File: Decodable>(_: File.Type, _ name: String) -> File {
        let data = try! Data(contentsOf: directory.appendingPathComponent(name))
        return try! JSONDecoder().decode(File.self, from: data)
    }
}
