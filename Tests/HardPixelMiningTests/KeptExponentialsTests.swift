import HardPixelMining
import HardPixelMiningTestSupport
import Testing

/// The statistics pass keeps exp(x − m) in an overwritten Float NCHW logit gradient (in builds
/// where that pays: the default, baseline one, which the tests run in) and the gradient pass
/// reads them back instead of the logits; every other gradient (accumulated, half
/// precision, channels-last, a data-parallel global batch) recomputes them from the logits. The
/// two paths compute the same operations, so accumulating onto zeros gives the overwritten
/// gradient exactly — for tiles shorter than a vector, planes whose rows are not aligned for
/// non-temporal stores, and a gradient buffer that starts off a cache line.
@Suite struct KeptExponentialsTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let shape: BatchShape
        let configuration: ObjectiveConfiguration
        let threads: Int
        var testDescription: String { "\(name), \(threads) thread(s)" }
    }

    static let cases: [Case] = {
        var weighted = ObjectiveConfiguration.paperPaced(totalEpochs: 20)
        weighted.classWeights = [0.5, 2, 1, 0.25, 3]
        var focal = ObjectiveConfiguration.paper
        focal.focal = FocalModulation()
        return [
            // 2 chunks per image: the second is 5 pixels, shorter than any vector.
            Case(name: "a 5-pixel tile", shape: BatchShape(images: 2, classes: 3, height: 1, width: 8197),
                 configuration: .paperPaced(totalEpochs: 20), threads: 2),
            // 35 pixels: class rows 140 bytes apart, head, aligned and tail columns.
            Case(name: "unaligned class rows", shape: BatchShape(images: 2, classes: 5, height: 5, width: 7),
                 configuration: weighted, threads: 1),
            Case(name: "focal", shape: BatchShape(images: 2, classes: 5, height: 16, width: 33),
                 configuration: focal, threads: 2),
            Case(name: "40 classes", shape: BatchShape(images: 1, classes: 40, height: 24, width: 40),
                 configuration: .paperPaced(totalEpochs: 20), threads: 1),
        ]
    }()

    /// The objective's logit gradient, overwritten into a buffer that starts `offset` Floats
    /// after a 64-byte boundary, or accumulated onto zeros; with `oneRank`, as a one-rank
    /// global batch.
    static func gradient(_ c: Case, _ output: GradientOutput, offset: Int, oneRank: Bool = false) throws -> [Float] {
        var random = TestRandom(seed: 41)
        let b = random.batch(c.shape)
        let count = c.shape.logitCount
        let storage = UnsafeMutableRawPointer.allocate(byteCount: (count + 16) * 4, alignment: 64)
        defer { storage.deallocate() }
        let g = UnsafeMutableBufferPointer(start: storage.bindMemory(to: Float.self, capacity: count + 16) + offset, count: count)
        g.initialize(repeating: output.mode == .overwrite ? 7 : 0)
        var depthGradient = [Float](repeating: 0, count: c.shape.pixelCount)
        try b.logits.withUnsafeBufferPointer { x in
            try b.labels.withUnsafeBufferPointer { y in
                try b.predicted.withUnsafeBufferPointer { d in
                    try b.depth.withUnsafeBufferPointer { z in
                        try depthGradient.withUnsafeMutableBufferPointer { gd in
                            _ = try HardPixelMiningObjective(c.configuration, threadCount: c.threads).evaluate(
                                logits: x, labels: y, predictedLogDepth: d, groundTruthDepth: z, shape: c.shape, epoch: 12,
                                logitGradient: g, depthGradient: gd, gradientOutput: output,
                                dataParallel: oneRank ? DataParallel(SingleRankCollective()) : nil)
                        }
                    }
                }
            }
        }
        return Array(g)
    }

    @Test(arguments: cases)
    func keptExponentialsGiveTheRecomputedGradient(_ c: Case) throws {
        let recomputed = try Self.gradient(c, .accumulate, offset: 0)
        #expect(recomputed.contains { $0 != 0 })
        for offset in [0, 1, 5] {
            let kept = try Self.gradient(c, .overwrite, offset: offset)
            #expect(kept == recomputed, "gradient offset by \(offset) Floats")
        }
    }

    /// An overwritten Float NCHW gradient recomputed from the logits, in every build (a global
    /// batch keeps no exponentials): without class weights the logits are read again row by row
    /// (`Kernels.gradient(rowsOf:…)`), streamed from each row's first aligned element; the
    /// accumulated gradient goes by columns through the tile. The two agree bitwise, for rows
    /// whose starts fall anywhere in a cache line.
    @Test(arguments: cases)
    func rowWiseRecomputationGivesTheColumnGradient(_ c: Case) throws {
        let columns = try Self.gradient(c, .accumulate, offset: 0)
        for offset in [0, 1, 5, 8] {
            let rows = try Self.gradient(c, .overwrite, offset: offset, oneRank: true)
            let differing = zip(rows, columns).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(differing == 0, "gradient offset by \(offset) Floats")
        }
    }

    /// Mined cross-entropy takes the same two passes.
    @Test(arguments: [1, 2])
    func minedCrossEntropyKeepsTheRecomputedGradient(threads: Int) throws {
        let shape = BatchShape(images: 2, classes: 3, height: 1, width: 8197)
        var random = TestRandom(seed: 42)
        let b = random.batch(shape)
        let loss = LabelSmoothedCrossEntropy(mining: .topFifth, threadCount: threads)
        var overwritten = [Float](repeating: 7, count: shape.logitCount)
        var accumulated = [Float](repeating: 0, count: shape.logitCount)
        let first = try loss.evaluate(logits: b.logits, labels: b.labels, shape: shape, gradient: &overwritten)
        let second = try loss.evaluate(
            logits: b.logits, labels: b.labels, shape: shape, gradient: &accumulated, gradientOutput: .accumulate)
        #expect(first == second)
        #expect(overwritten == accumulated && overwritten.contains { $0 != 0 })
    }
}
