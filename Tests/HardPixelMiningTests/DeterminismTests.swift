import Foundation
import HardPixelMining
import HardPixelMiningTestSupport
import Testing

/// SPEC §4: bitwise identical from run to run and for any thread count, and a
/// data-parallel reduction of per-image sums that reproduces the batch value exactly.
@Suite struct DeterminismTests {
    // Several work items per image (> 8192 pixels) and a tail block.
    static let shape = BatchShape(images: 3, classes: 6, height: 97, width: 101)

    static func run(_ c: ObjectiveConfiguration, threads: Int, workspace: ObjectiveWorkspace? = nil)
        throws -> (ObjectiveResult, [Float], [Float])
    {
        var random = TestRandom(seed: 99)
        let b = random.batch(shape)
        var gx = [Float](repeating: 0, count: shape.logitCount)
        var gd = [Float](repeating: 0, count: shape.pixelCount)
        let r = try HardPixelMiningObjective(c, threadCount: threads).evaluate(
            logits: b.logits, labels: b.labels, predictedLogDepth: b.predicted, groundTruthDepth: b.depth,
            shape: shape, epoch: 15, logitGradient: &gx, depthGradient: &gd, workspace: workspace)
        return (r, gx, gd)
    }

    @Test(arguments: [1, 2, 3, 8])
    func threadCountDoesNotChangeAnyBit(threads: Int) throws {
        for c in [ObjectiveConfiguration.paper, .paperPaced(totalEpochs: 20)] {
            let (r1, gx1, gd1) = try Self.run(c, threads: 1)
            let (r2, gx2, gd2) = try Self.run(c, threads: threads)
            #expect(r1 == r2)
            #expect(r1.value.bitPattern == r2.value.bitPattern)
            #expect(gx1.map(\.bitPattern) == gx2.map(\.bitPattern))
            #expect(gd1.map(\.bitPattern) == gd2.map(\.bitPattern))
        }
    }

    /// Several threads calling at once, each with two threads of its own: the package's pool
    /// runs one call's parallel regions, the others find it busy and run theirs on Dispatch.
    /// Every call gives the one-thread bits.
    @Test func concurrentCallersGetTheOneThreadBits() throws {
        let c = ObjectiveConfiguration.paperPaced(totalEpochs: 20)
        let (r1, gx1, gd1) = try Self.run(c, threads: 1)
        // Plain threads (not the cooperative pool), so that the calls truly overlap.
        let outcomes = ConcurrentOutcomes(count: 4)
        let threads = (0..<4).map { i in
            Thread {
                let outcome = Result { try Self.run(c, threads: 2) }
                outcomes.set(i, outcome.map { r, gx, gd in
                    r == r1 && gx.map(\.bitPattern) == gx1.map(\.bitPattern) && gd.map(\.bitPattern) == gd1.map(\.bitPattern)
                })
            }
        }
        threads.forEach { $0.start() }
        let results = outcomes.wait()
        #expect(results.count == 4)
        for r in results { #expect(try r.get()) }
    }

    @Test func reusedWorkspaceGivesTheSameBits() throws {
        let workspace = ObjectiveWorkspace()
        let first = try Self.run(.paper, threads: 2, workspace: workspace)
        _ = try Self.run(.paperPaced(totalEpochs: 20), threads: 1, workspace: workspace)
        let again = try Self.run(.paper, threads: 2, workspace: workspace)
        #expect(first.0 == again.0)
        #expect(first.1.map(\.bitPattern) == again.1.map(\.bitPattern))
    }

    /// Two workers each evaluate part of the batch; concatenating their per-image sums
    /// reproduces the single-machine value bit for bit. Each worker's gradient, scaled by
    /// its share of the batch, equals the single-machine gradient.
    @Test func dataParallelReductionIsExact() throws {
        let c = ObjectiveConfiguration.paperPaced(totalEpochs: 20)
        let shape = Self.shape
        var random = TestRandom(seed: 99)
        let b = random.batch(shape)
        let whole = try HardPixelMiningObjective(c).evaluate(
            logits: b.logits, labels: b.labels, predictedLogDepth: b.predicted, groundTruthDepth: b.depth,
            shape: shape, epoch: 15)
        var parts: [ImageSums] = []
        for images in [0..<1, 1..<3] {
            let part = BatchShape(images: images.count, classes: shape.classes, height: shape.height, width: shape.width)
            let hw = shape.pixelsPerImage, chw = shape.classes * hw
            let r = try HardPixelMiningObjective(c).evaluate(
                logits: Array(b.logits[(images.lowerBound * chw)..<(images.upperBound * chw)]),
                labels: Array(b.labels[(images.lowerBound * hw)..<(images.upperBound * hw)]),
                predictedLogDepth: Array(b.predicted[(images.lowerBound * hw)..<(images.upperBound * hw)]),
                groundTruthDepth: Array(b.depth[(images.lowerBound * hw)..<(images.upperBound * hw)]),
                shape: part, epoch: 15)
            parts += r.sums
        }
        let combined = try ObjectiveResult(combining: parts, configuration: c, epoch: 15)
        #expect(combined.value.bitPattern == whole.value.bitPattern)
        #expect(combined == whole)
    }

    /// Gathered sums are validated: finite but inconsistent sums (a squared-residual sum of
    /// Double.greatestFiniteMagnitude in two images gave ±Inf) throw, naming the sum.
    @Test func combiningValidatesTheSums() throws {
        var s = ImageSums()
        s.labelledPixels = 4
        s.depthPixels = 4
        s.eligiblePixels = 4
        s.crossEntropySum = 2
        s.squaredResidualSum = .greatestFiniteMagnitude
        s.residualSum = 1
        #expect(throws: HardPixelMiningError.invalidParameter(
            argument: "sums[0].squaredResidualSum", value: .greatestFiniteMagnitude, requirement: "finite, in 0...1e100")) {
            _ = try ObjectiveResult(combining: [s, s], configuration: .paper, epoch: 12)
        }
        s.squaredResidualSum = 3
        var bad = s
        bad.eligiblePixels = 5
        #expect(throws: HardPixelMiningError.self) { _ = try ObjectiveResult(combining: [s, bad], configuration: .paper, epoch: 12) }
        bad = s
        bad.crossEntropySum = .nan
        #expect(throws: HardPixelMiningError.self) { _ = try ObjectiveResult(combining: [bad], configuration: .paper, epoch: 12) }
        bad = s
        bad.labelledPixels = -1
        #expect(throws: HardPixelMiningError.self) { _ = try ObjectiveResult(combining: [bad], configuration: .paper, epoch: 12) }
        #expect(throws: HardPixelMiningError.self) { _ = try ObjectiveResult(combining: [s], configuration: .paper, epoch: -1) }
        let r = try ObjectiveResult(combining: [s, s], configuration: .paper, epoch: 12)
        #expect(r.value.isFinite)
    }
}

/// Results of plain threads, collected under a lock; `wait()` returns them once all are in.
final class ConcurrentOutcomes: @unchecked Sendable {
    private let condition = NSCondition()
    private var values: [Int: Result<Bool, any Error>] = [:]
    private let count: Int
    init(count: Int) { self.count = count }
    func set(_ i: Int, _ value: Result<Bool, any Error>) {
        condition.lock()
        values[i] = value
        condition.broadcast()
        condition.unlock()
    }
    func wait() -> [Result<Bool, any Error>] {
        condition.lock()
        while values.count < count { condition.wait() }
        defer { condition.unlock() }
        return (0..<count).map { values[$0]! }
    }
}
