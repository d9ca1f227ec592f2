import HardPixelMining
import HardPixelMiningReference
import HardPixelMiningTestSupport
import Testing

/// The cross-entropy's Float NCHW gradient is streamed to memory with non-temporal stores that
/// need aligned addresses, and with ordinary head and tail vectors where a class row starts or
/// ends elsewhere. Wherever the caller's buffer lies, the gradient is the same, it matches the
/// Float64 scalar reference, and not one element around it is touched.
@Suite struct GradientAlignmentTests {
    /// H·W of 7·9 = 63 (a single short row), 20·20 = 400 and 37·41 = 1517 (rows of many
    /// vectors, neither a multiple of 16), and 2·8 = 16 (exactly one vector of 16).
    static let shapes = [
        BatchShape(images: 2, classes: 3, height: 7, width: 9),
        BatchShape(images: 2, classes: 4, height: 20, width: 20),
        BatchShape(images: 1, classes: 3, height: 37, width: 41),
        BatchShape(images: 3, classes: 5, height: 2, width: 8),
    ]
    static let guardValue: Float = -12345

    /// The gradient written at `offset` floats past a 64-byte boundary, with guard values around it.
    static func gradient(
        at offset: Int, _ loss: LabelSmoothedCrossEntropy, _ logits: [Float], _ labels: [Int32], _ shape: BatchShape
    ) throws -> (gradient: [Float], guardsIntact: Bool) {
        let count = shape.logitCount, margin = 32
        let raw = UnsafeMutableRawPointer.allocate(byteCount: (count + 2 * margin) * 4, alignment: 64)
        defer { raw.deallocate() }
        let all = UnsafeMutableBufferPointer(start: raw.bindMemory(to: Float.self, capacity: count + 2 * margin), count: count + 2 * margin)
        all.initialize(repeating: guardValue)
        let start = margin - 16 + offset
        _ = try logits.withUnsafeBufferPointer { x in
            try labels.withUnsafeBufferPointer { y in
                try loss.evaluate(
                    logits: x, labels: y, shape: shape,
                    gradient: UnsafeMutableBufferPointer(rebasing: all[start..<(start + count)]))
            }
        }
        let guardsIntact = all[..<start].allSatisfy { $0 == guardValue } && all[(start + count)...].allSatisfy { $0 == guardValue }
        return (Array(all[start..<(start + count)]), guardsIntact)
    }

    @Test(arguments: shapes, [1, 2])
    func gradientIsTheSameAtEveryAlignment(shape: BatchShape, threads: Int) throws {
        var random = TestRandom(seed: 77)
        let b = random.batch(shape)
        let loss = LabelSmoothedCrossEntropy(threadCount: threads)
        let reference = ScalarReference.evaluate(
            logits: b.logits.map(Double.init), labels: b.labels, predictedLogDepth: [], groundTruthDepth: [], shape: shape,
            configuration: .segmentationOnly, epoch: 0)
        let aligned = try Self.gradient(at: 0, loss, b.logits, b.labels, shape)
        #expect(aligned.guardsIntact)
        #expect(Tolerance.firstGradientMismatch(aligned.gradient, reference.logitGradient) == nil)
        for offset in 1..<16 {
            let shifted = try Self.gradient(at: offset, loss, b.logits, b.labels, shape)
            #expect(shifted.guardsIntact, "offset \(offset)")
            #expect(shifted.gradient == aligned.gradient, "offset \(offset)")
        }
    }
}
