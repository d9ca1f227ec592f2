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

    /// The hard-pixel objective's cases of Tests/Fixtures/objective.json (per-image mean, no
    /// class weights): each pixel's final weight W and ce, and the logit gradient, from the
    /// float64 reference.
    struct WeightedCase: Decodable {
        struct Config: Decodable {
            var smoothing: Case.Smoothing?
            var reduction: String?
            var class_weights: [Double]?
        }
        var name: String
        var shape: Case.Shape
        var config: Config
        var logits, labels, grad_logits, pixel_ce: String
        var pixel_weight: String?
    }

    static let weightedCases: [WeightedCase] = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        struct File: Decodable { var cases: [WeightedCase] }
        let data = try! Data(contentsOf: root.appendingPathComponent("Tests/Fixtures/objective.json"))
        return try! JSONDecoder().decode(File.self, from: data).cases.filter {
            $0.pixel_weight != nil && $0.config.class_weights == nil && ($0.config.reduction ?? "per_image_mean") == "per_image_mean"
                && ($0.config.smoothing?.kind ?? "paper") == "paper" && $0.config.smoothing?.value ?? 0.9 == 0.9
        }
    }()

    /// The two-pass kernel with the reference's weights W: the value
    /// (1/N) Σ_k (1/n_k) Σ W_i ce_i from the reference's W and ce within 1e-5 relative, and the
    /// reference's logit gradient within 1e-6 absolute, at 1 and 2 threads; among the cases,
    /// images of several work tiles (hpm_multichunk).
    @Test(arguments: [1, 2])
    func twoPassMatchesTheFloat64ObjectiveGradient(threads: Int) throws {
        #expect(Self.weightedCases.count >= 10 && Self.weightedCases.contains { $0.name == "hpm_multichunk" })
        for g in Self.weightedCases {
            let (n, c, plane) = (g.shape.images, g.shape.classes, g.shape.height * g.shape.width)
            let logits = Self.decode(g.logits, as: Float.self), labels = Self.decode(g.labels, as: Int32.self)
            let w = Self.decode(g.pixel_weight!, as: Double.self), ce = Self.decode(g.pixel_ce, as: Double.self)
            let expected = Self.decode(g.grad_logits, as: Double.self)
            var value = 0.0
            for k in 0..<n {
                let image = (k * plane)..<((k + 1) * plane)
                let labelled = image.filter { labels[$0] != 255 }
                if !labelled.isEmpty { value += labelled.map { w[$0] * ce[$0] }.reduce(0, +) / Double(labelled.count) }
            }
            value /= Double(n)
            var gradient = [Float](repeating: .nan, count: logits.count)
            var state = [Float](repeating: .nan, count: 3 * n * plane)
            let got = cref_two_pass(
                logits, labels, w.map { Float($0) }, Int32(n), Int32(c), plane, 0.9, Float(0.1 / Double(c - 1)), 255,
                &gradient, &state, Int32(threads))
            #expect(abs(got - value) <= 1e-5 * abs(value), "\(g.name): \(got) vs \(value)")
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
