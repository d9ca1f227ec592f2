import Foundation
import HardPixelMining
import HardPixelMiningReference

/// One golden case written by Tests/Reference/generate_fixtures.py (float64 NumPy).
public struct GoldenCase: Decodable, Sendable {
    public struct Shape: Decodable, Sendable { public var images, classes, height, width: Int }
    public struct Smoothing: Decodable, Sendable { public var kind: String; public var value: Double }
    public struct Grid: Decodable, Sendable { public var rows, columns: Int }
    public struct Config: Decodable, Sendable {
        public var smoothing: Smoothing?
        public var alpha, rho, beta_initial, beta_later, beta_switch, gamma: Double?
        public var grid: GridValue?
        public var dmin, dmax, bin_width, total_epochs: Double?
        public var pace_segmentation, propagate: Bool?
        public var class_weights: [Float]?
        public var reduction: String?
        public var focal: Focal?
        public var poly_epsilon, map_coefficient: Double?
        public var map_paced: Bool?
    }
    public struct Focal: Decodable, Sendable {
        public var gamma: Double
        public var alpha: [Float]?
        public var through: Bool
    }
    public enum GridValue: Decodable, Sendable {
        case perPixel
        case cells(Grid)
        public init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self), s == "per_pixel" { self = .perPixel } else { self = .cells(try c.decode(Grid.self)) }
        }
    }
    public struct Sums: Decodable, Sendable {
        public var n, nd, eligible: Int
        public var ce_sum, r_sum, r2_sum, r_weighted, z_weighted: Double
        public var eta_r, eta_z, eta_s: Double?
        public var label_weight_sum, pooled_divisor: Double?
        public var m_weighted, eta_m: Double?
        public var m_counted: Int?
    }
    public struct Terms: Decodable, Sendable {
        public var segmentation, depth, dpe, dse, objective: Double
        /// L_M, a caller's map term (weighting.json).
        public var map: Double?
        public var sums: Sums?
    }

    public var name: String
    /// The logits' precision ("float16" or "bfloat16") in half_precision.json: the logits were
    /// rounded to it before the reference ran. Nil elsewhere.
    public var precision: String?
    public var shape: Shape
    public var epoch: Double
    public var config: Config
    public var batch: Terms
    public var images: [Terms]
    private var logits, labels, predicted, depth: String
    private var pixel_weights, pixel_map, pixel_loss: String?
    private var grad_logits, grad_depth, pixel_ce, w_r, w_z, pixel_weight, predictions: String
    private var tables: [String]

    public var batchShape: BatchShape {
        BatchShape(images: shape.images, classes: shape.classes, height: shape.height, width: shape.width)
    }

    public var configuration: ObjectiveConfiguration { config.configuration }
}

extension GoldenCase.Config {
    /// The package's configuration for the reference's configuration dictionary.
    public var configuration: ObjectiveConfiguration {
        var c = ObjectiveConfiguration()
        let k = self
        if let s = k.smoothing {
            switch s.kind {
            case "none": c.smoothing = .none
            case "pytorch": c.smoothing = .pytorch(epsilon: s.value)
            default: c.smoothing = .paper(trueClassTarget: s.value)
            }
        }
        if let v = k.alpha { c.depthWeight = v }
        if let v = k.rho { c.scaleInvariance = v }
        c.depthPredictionErrorWeight = WeightSchedule(
            initial: k.beta_initial ?? 0, later: k.beta_later ?? 10, switchEpoch: k.beta_switch ?? 10)
        if let v = k.gamma { c.segmentationErrorWeight = v }
        switch k.grid {
        case .perPixel?: c.grid = .perPixel
        case .cells(let g)?: c.grid = .cells(rows: g.rows, columns: g.columns)
        case nil: break
        }
        c.depthBinning = DepthBinning(
            minimum: Float(k.dmin ?? 1), maximum: Float(k.dmax ?? 256), binWidth: Float(k.bin_width ?? 10))
        if let e = k.total_epochs { c.pacing = SelfPacedPacing(totalEpochs: e) }
        c.pacesSegmentation = k.pace_segmentation ?? false
        c.propagatesDepthPredictionErrorToDepth = k.propagate ?? false
        c.classWeights = k.class_weights
        if let f = k.focal {
            c.focal = FocalModulation(
                focusing: f.gamma, classAlpha: f.alpha, gradient: f.through ? .throughFactor : .factorHeldConstant)
        }
        c.polyEpsilon = k.poly_epsilon ?? 0
        if let m = k.map_coefficient { c.pixelWeightMap = PixelWeightMapTerm(coefficient: m, paced: k.map_paced ?? false) }
        switch k.reduction {
        case "mean"?: c.reduction = .mean
        case "sum"?: c.reduction = .sum
        default: c.reduction = .perImageMean
        }
        return c
    }
}

extension GoldenCase {

    public var logitValues: [Float] { decode(logits) }
    public var labelValues: [Int32] { decode(labels) }
    public var predictedLogDepth: [Float] { decode(predicted) }
    public var groundTruthDepth: [Float] { decode(depth) }
    public var pixelWeights: [Float]? { pixel_weights.map { decode($0) } }
    /// A caller's map for ``PixelWeightMapTerm`` (weighting.json).
    public var pixelWeightMap: [Float]? { pixel_map.map { decode($0) } }
    /// Each pixel's modulated loss (weighting.json cases with a map; else nil).
    public var expectedModulatedLosses: [Double]? { pixel_loss.map { decode($0) } }
    public var expectedLogitGradient: [Double] { decode(grad_logits) }
    public var expectedDepthGradient: [Double] { decode(grad_depth) }
    public var expectedPixelLosses: [Double] { decode(pixel_ce) }
    public var expectedDepthPredictionErrorWeights: [Double] { decode(w_r) }
    public var expectedSegmentationErrorWeights: [Double] { decode(w_z) }
    /// W_i = w_i[counts] + β wR_i [counts] + γ wZ_i [counts] on labelled pixels, 0 elsewhere.
    public var expectedPixelLossWeights: [Double] { decode(pixel_weight) }
    public var expectedPredictions: [Int32] { decode(predictions) }
    /// Per image: rows × columns × bins × (count, errors), row-major.
    public var expectedTables: [[Int64]] { tables.map { decode($0) } }
}

func decode<T>(_ base64: String) -> [T] {
    let data = Data(base64Encoded: base64)!
    return data.withUnsafeBytes { raw in
        (0..<(data.count / MemoryLayout<T>.stride)).map {
            raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.stride, as: T.self)
        }
    }
}

public enum Fixtures {
    /// The directory of the committed fixtures, found from this source file.
    public static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Tests/Fixtures")

    private struct File: Decodable { var cases: [GoldenCase] }

    /// The cases of a fixture file of GoldenCase records.
    private static func cases(_ file: String) -> [GoldenCase] {
        let data = try! Data(contentsOf: directory.appendingPathComponent(file))
        return try! JSONDecoder().decode(File.self, from: data).cases
    }

    /// Every golden case of Tests/Fixtures/objective.json.
    public static let objectiveCases = cases("objective.json")

    public static func objectiveCase(_ name: String) -> GoldenCase {
        objectiveCases.first { $0.name == name }!
    }

    /// The golden cases of Tests/Fixtures/half_precision.json: logits rounded to float16 or
    /// bfloat16, the reference evaluated on the rounded values.
    public static let halfPrecisionCases = cases("half_precision.json")

    /// The golden cases of Tests/Fixtures/weighting.json: focal, PolyLoss-1 and a caller's map.
    public static let weightingCases = cases("weighting.json")

    public static func weightingCase(_ name: String) -> GoldenCase {
        weightingCases.first { $0.name == name }!
    }

    public static func halfPrecisionCase(_ name: String) -> GoldenCase {
        halfPrecisionCases.first { $0.name == name }!
    }
}

extension GoldenCase {
    /// The Float64 scalar reference on this case's inputs (its pixel weights and caller's map
    /// included), to set beside the NumPy reference's expectations.
    public func scalarReference() -> ScalarReference.Output<Double> {
        ScalarReference.evaluate(
            logits: logitValues.map(Double.init), labels: labelValues,
            predictedLogDepth: predictedLogDepth.map(Double.init), groundTruthDepth: groundTruthDepth.map(Double.init),
            shape: batchShape, configuration: configuration, epoch: epoch, pixelWeights: pixelWeights?.map(Double.init),
            pixelWeightMap: pixelWeightMap?.map(Double.init))
    }
}
