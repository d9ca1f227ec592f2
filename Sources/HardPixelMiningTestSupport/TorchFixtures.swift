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
