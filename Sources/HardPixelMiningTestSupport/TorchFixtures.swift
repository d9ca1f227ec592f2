import Foundation
import HardPixelMining

/// A case of Tests/Fixtures/torch_parity.json: `F.cross_entropy` evaluated by PyTorch itself
/// (float64 autograd on float32 inputs), written by Tests/Reference/torch_parity.py.
public struct TorchCrossEntropyCase: Decodable, Sendable {
    public var name: String
    public var shape: GoldenCase.Shape
    public var class_weights: [Float]?
    public var epsilon: Double
    public var reduction: String
    public var value: Double
    private var logits, labels, grad: String

    public var batchShape: BatchShape {
        BatchShape(images: shape.images, classes: shape.classes, height: shape.height, width: shape.width)
    }
    /// The package's reduction for the torch script's name of it.
    public var packageReduction: Reduction {
        switch reduction {
        case "mean": .mean
        case "sum": .sum
        default: .perImageMean
        }
    }
    /// The package's cross-entropy with this case's settings.
    public var crossEntropy: LabelSmoothedCrossEntropy {
        LabelSmoothedCrossEntropy(smoothing: .pytorch(epsilon: epsilon), classWeights: class_weights, reduction: packageReduction)
    }
    /// The objective's L_seg alone with this case's settings.
    public var configuration: ObjectiveConfiguration {
        var c = ObjectiveConfiguration.segmentationOnly
        c.smoothing = .pytorch(epsilon: epsilon)
        c.classWeights = class_weights
        c.reduction = packageReduction
        return c
    }
    public var logitValues: [Float] { decode(logits) }
    public var labelValues: [Int32] { decode(labels) }
    public var expectedGradient: [Double] { decode(grad) }
}

extension Fixtures {
    private struct TorchFile: Decodable {
        var torch: String
        var cases: [TorchCrossEntropyCase]
    }

    private static let torchFile: TorchFile = {
        let data = try! Data(contentsOf: directory.appendingPathComponent("torch_parity.json"))
        return try! JSONDecoder().decode(TorchFile.self, from: data)
    }()

    public static var torchCrossEntropyCases: [TorchCrossEntropyCase] { torchFile.cases }
    public static func torchCrossEntropyCase(_ name: String) -> TorchCrossEntropyCase {
        torchFile.cases.first { $0.name == name }!
    }
    /// The PyTorch version that wrote the cases.
    public static var torchVersion: String { torchFile.torch }
}

/// A case of Tests/Fixtures/torch_focal_parity.json: the softmax focal loss in kornia's
/// convention (`kornia_sum`) or the `F.nll_loss` form (`nll_mean`), by PyTorch's autograd.
public struct TorchFocalCase: Decodable, Sendable {
    public var name: String
    public var convention: String
    public var shape: GoldenCase.Shape
    public var gamma: Double
    public var class_weights: [Float]?
    public var value: Double
    private var logits, labels, grad: String

    public var batchShape: BatchShape {
        BatchShape(images: shape.images, classes: shape.classes, height: shape.height, width: shape.width)
    }
    /// The package's loss for the case: kornia's `weight=` is focal's per-class α under `.sum`;
    /// the nll form's `weight=` is the class weights under `.mean` (divided by Σ w_label).
    public var crossEntropy: LabelSmoothedCrossEntropy {
        convention == "kornia_sum"
            ? LabelSmoothedCrossEntropy(
                smoothing: .none, reduction: .sum, focal: FocalModulation(focusing: gamma, classAlpha: class_weights))
            : LabelSmoothedCrossEntropy(
                smoothing: .none, classWeights: class_weights, reduction: .mean, focal: FocalModulation(focusing: gamma))
    }
    public var logitValues: [Float] { decode(logits) }
    public var labelValues: [Int32] { decode(labels) }
    public var expectedGradient: [Double] { decode(grad) }
}

extension Fixtures {
    private struct TorchFocalFile: Decodable { var cases: [TorchFocalCase] }

    /// The cases of Tests/Fixtures/torch_focal_parity.json.
    public static let torchFocalCases: [TorchFocalCase] = {
        let data = try! Data(contentsOf: directory.appendingPathComponent("torch_focal_parity.json"))
        return try! JSONDecoder().decode(TorchFocalFile.self, from: data).cases
    }()
}
