import CReferenceKernel
import Foundation
import Testing

/// The C kernel against the float64 NumPy reference (Tests/Fixtures/objective.json's
/// cross-entropy cases, small images, and c_reference.json's, images of whole 1,024-pixel
/// tiles and a tail; written by Tests/Reference/generate_fixtures.py from the equations):
/// L_seg within 1e-5 relative and every gradient element within 1e-6 absolute (SPEC §4), at
/// 1 and 2 threads.
@Suite struct CReferenceKernelTests {
    struct Case: Decodable {
        struct Shape: Decodable { var images, classes, height, width: Int }
        struct Terms: Decodable { var segmentation: Double }
        struct Smoothing: Decodable { var kind: String; var value: Double }
        struct Config: Decodable { var smoothing: Smoothing? }
        var name: String
        var shape: Shape
        var config: Config
        var logits, labels, grad_logits: String
        var batch: Terms
    }

    static let cases: [Case] = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        struct File: Decodable { var cases: [Case] }
        func load(_ name: String) -> [Case] {
            let data = try! Data(contentsOf: root.appendingPathComponent("Tests/Fixtures/\(name)"))
            return try! JSONDecoder().decode(File.self, from: data).cases
        }
        return load("objective.json").filter { $0.name.hasPrefix("seg_only") && !$0.name.contains("weights") }
            + load("c_reference.json")
    }()

    static func decode<T>(_ base64: String, as _: T.Type) -> [T] {
        let data = Data(base64Encoded: base64)!
        return data.withUnsafeBytes { raw in
            (0..<(data.count / MemoryLayout<T>.stride)).map { raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.stride, as: T.self) }
        }
    }

    @Test func fixturesAreThere() { #expect(Self.cases.count >= 5 && Self.cases.contains { $0.shape.height * $0.shape.width > 2048 }) }

    @Test(arguments: [1, 2])
    func matchesTheFloat64Reference(threads: Int) throws {
        for g in Self.cases {
            let c = Double(g.shape.classes)
            // The smoothing conventions (SPEC §2): the paper's (on 0.9 by default), PyTorch's, none.
            let (on, off): (Double, Double) = switch g.config.smoothing?.kind {
            case "pytorch": (1 - g.config.smoothing!.value + g.config.smoothing!.value / c, g.config.smoothing!.value / c)
            case "none": (1, 0)
            case "paper": (g.config.smoothing!.value, (1 - g.config.smoothing!.value) / (c - 1))
            default: (0.9, 0.1 / (c - 1))
            }
            let logits = Self.decode(g.logits, as: Float.self), labels = Self.decode(g.labels, as: Int32.self)
            let expected = Self.decode(g.grad_logits, as: Double.self)
            var gradient = [Float](repeating: .nan, count: logits.count)
            let value = cref_cross_entropy(
                logits, labels, Int32(g.shape.images), Int32(g.shape.classes), g.shape.height * g.shape.width,
                Float(on), Float(off), 255, &gradient, Int32(threads))
            #expect(abs(value - g.batch.segmentation) <= 1e-5 * abs(g.batch.segmentation), "\(g.name): \(value) vs \(g.batch.segmentation)")
            let worst = zip(gradient, expected).map { abs(Double($0) - $1) }.max() ?? 0
            #expect(worst <= 1e-6, "\(g.name): gradient off by \(worst)")
        }
    }

    /// A NaN logit makes the value NaN (the test can fail).
    @Test func nonFiniteLogitIsReported() {
        guard let g = Self.cases.first else { return }
        var logits = Self.decode(g.logits, as: Float.self)
        logits[5] = .nan
        let labels = Self.decode(g.labels, as: Int32.self)
        var gradient = [Float](repeating: 0, count: logits.count)
        let value = cref_cross_entropy(
            logits, labels, Int32(g.shape.images), Int32(g.shape.classes), g.shape.height * g.shape.width, 0.9, 0.1, 255,
            &gradient, 1)
        #expect(value.isNaN)
    }
}
