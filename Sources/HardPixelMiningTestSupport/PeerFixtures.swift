import Foundation
import HardPixelMining

/// Golden cases of the peer conventions (Tests/Fixtures/batch_mining.json, silog.json and
/// hoyer_depth_mix.json,
/// written by Tests/Reference/peer_reference.py through generate_fixtures.py).
public struct BatchMiningCase: Decodable, Sendable {
    public var name: String
    public var shape: GoldenCase.Shape
    public var smoothing: GoldenCase.Smoothing
    public var fraction: Double?
    public var threshold: Double?
    public var minimum_kept: Int?
    public var average_non_ignored: Bool?
    public var value: Double
    public var kept: Int
    private var logits, labels, grad, chosen: String
    private var pixel_weights: String?

    public var batchShape: BatchShape {
        BatchShape(images: shape.images, classes: shape.classes, height: shape.height, width: shape.width)
    }
    public var pixelMining: PixelMining {
        if let fraction { return .batchTopFraction(fraction) }
        return .ohem(threshold: threshold, minimumKept: minimum_kept!, averageNonIgnored: average_non_ignored!)
    }
    public var labelSmoothing: LabelSmoothing {
        switch smoothing.kind {
        case "none": return .none
        case "pytorch": return .pytorch(epsilon: smoothing.value)
        default: return .paper(trueClassTarget: smoothing.value)
        }
    }
    public var logitValues: [Float] { decode(logits) }
    public var labelValues: [Int32] { decode(labels) }
    public var pixelWeights: [Float]? { pixel_weights.map { decode($0) } }
    public var expectedGradient: [Double] { decode(grad) }
    /// The pixels the reference kept (N·H·W; DeepLab's may include ignored pixels, as zeros).
    public var expectedChosen: [Bool] { (decode(chosen) as [UInt8]).map { $0 != 0 } }
}

public struct SILogCase: Decodable, Sendable {
    public struct Shape: Decodable, Sendable { public var images, height, width: Int }
    public var name: String
    public var shape: Shape
    public var variance_focus, scale: Double
    public var unbiased: Bool
    public var value: Double
    public var pixels: Int
    public var images: [Double]
    private var predicted, depth, grad: String

    public var batchShape: BatchShape { BatchShape(images: shape.images, classes: 0, height: shape.height, width: shape.width) }
    public var silog: SILog {
        SILog(varianceFocus: variance_focus, scale: scale, variance: unbiased ? .sample : .population)
    }
    public var predictedLogDepth: [Float] { decode(predicted) }
    public var depthValues: [Float] { decode(depth) }
    public var expectedGradient: [Double] { decode(grad) }
}

public struct ObjectiveSILogCase: Decodable, Sendable {
    public var name: String
    public var shape: GoldenCase.Shape
    public var config: GoldenCase.Config
    public var epoch: Double
    public var variance_focus, scale: Double
    public var unbiased: Bool
    public var objective, depth_term, segmentation: Double
    public var image_depth: [Double]
    private var logits, labels, predicted, depth, grad_logits, grad_depth: String

    public var batchShape: BatchShape {
        BatchShape(images: shape.images, classes: shape.classes, height: shape.height, width: shape.width)
    }
    public var configuration: ObjectiveConfiguration {
        var c = config.configuration
        c.depthTerm = .silog(SILog(varianceFocus: variance_focus, scale: scale, variance: unbiased ? .sample : .population))
        return c
    }
    public var logitValues: [Float] { decode(logits) }
    public var labelValues: [Int32] { decode(labels) }
    public var predictedLogDepth: [Float] { decode(predicted) }
    public var depthValues: [Float] { decode(depth) }
    public var expectedLogitGradient: [Double] { decode(grad_logits) }
    public var expectedDepthGradient: [Double] { decode(grad_depth) }
}

public struct HoyerMixCase: Decodable, Sendable {
    public struct Shape: Decodable, Sendable { public var images, height, width: Int }
    public var shape: Shape
    public var channels, classes: Int
    public var margin, foreground_threshold: Double
    public var partners: [Int]
    private var disparity, images, labels, soft_targets, masks, mixed_images, mixed_labels, mixed_soft_targets, soft_labels: String

    public var batchShape: BatchShape {
        BatchShape(images: shape.images, classes: classes, height: shape.height, width: shape.width)
    }
    public var disparityValues: [Float] { decode(disparity) }
    public var imageValues: [Float] { decode(images) }
    public var labelValues: [Int32] { decode(labels) }
    public var softTargets: [Float] { decode(soft_targets) }
    public var expectedMasks: [Bool] { (decode(masks) as [UInt8]).map { $0 != 0 } }
    public var expectedImages: [Float] { decode(mixed_images) }
    public var expectedLabels: [Int32] { decode(mixed_labels) }
    public var expectedSoftTargets: [Float] { decode(mixed_soft_targets) }
    public var expectedSoftLabels: [Int32] { decode(soft_labels) }
}

extension Fixtures {
    private struct BatchMiningFile: Decodable { var deeplab, ohem: [BatchMiningCase] }
    private struct SILogFile: Decodable {
        var silog: [SILogCase]
        var objective_silog: [ObjectiveSILogCase]
    }
    private struct HoyerFile: Decodable { var hoyer_mix: [HoyerMixCase] }

    private static let batchMining = load(BatchMiningFile.self, "batch_mining.json")
    private static let silog = load(SILogFile.self, "silog.json")
    private static let hoyer = load(HoyerFile.self, "hoyer_depth_mix.json")

    public static var batchMiningCases: [BatchMiningCase] { batchMining.deeplab + batchMining.ohem }
    public static var silogCases: [SILogCase] { silog.silog }
    public static var objectiveSILogCases: [ObjectiveSILogCase] { silog.objective_silog }
    public static var hoyerMixCases: [HoyerMixCase] { hoyer.hoyer_mix }
}
