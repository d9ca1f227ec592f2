// Checks the data-parallel losses on Open MPI against one process:
//
//     mpirun --allow-run-as-root --oversubscribe -n R .build/release/hpm-distributed-check
//
// Every rank builds the same batch (a fixed seed) and evaluates it whole, as one process
// would; then each rank evaluates its own images with `DataParallel(MPICollective())`, for
// several splits of the batch (uneven ones, and ranks with no image), and checks that its
// result is the whole batch's and its gradients its slice of the whole batch's, bitwise.
// Rank 0 prints `N passed, M failed` (the checks of every rank); the exit status is 1 if any
// failed. `--measure` instead times L_T on the NYU-v2 batch (8 × 40 × 480 × 640) split over
// the ranks, with the bytes and the time of the collectives.
import Dispatch
import HardPixelMining
import MPICollective

#if canImport(Glibc)
import Glibc
#endif

MPICollective.initialize()
let world = MPICollective()
let ranks = world.rankCount, rank = world.rank

/// SplitMix64, as the package's tests use.
struct Random {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

struct Batch {
    var logits: [Float], labels: [Int32], predicted: [Float], depth: [Float], weights: [Float]
    var shape: BatchShape

    init(shape: BatchShape, seed: UInt64) {
        var random = Random(state: seed)
        self.shape = shape
        logits = (0..<shape.logitCount).map { _ in Float(random.uniform() * 6 - 3) }
        labels = (0..<shape.pixelCount).map { _ in random.uniform() < 0.1 ? 255 : Int32(random.next() % UInt64(shape.classes)) }
        depth = (0..<shape.pixelCount).map { _ in
            let u = random.uniform()
            return u < 0.05 ? 0 : Float(1 + random.uniform() * 255)
        }
        predicted = depth.map { d in Float(d >= 1 ? log(Double(d)) : 2) + Float(random.uniform() - 0.5) }
        weights = (0..<shape.pixelCount).map { _ in random.uniform() < 0.3 ? 0 : Float(0.5 + random.uniform() * 1.5) }
    }

    /// Images `images` as a batch of their own.
    init(_ whole: Batch, images: Range<Int>) {
        let s = whole.shape, plane = s.pixelsPerImage, perImageLogits = s.classes * plane
        func cut<T>(_ a: [T], _ width: Int) -> [T] { Array(a[(images.lowerBound * width)..<(images.upperBound * width)]) }
        logits = cut(whole.logits, perImageLogits)
        labels = cut(whole.labels, plane)
        predicted = cut(whole.predicted, plane)
        depth = cut(whole.depth, plane)
        weights = cut(whole.weights, plane)
        shape = BatchShape(images: images.count, classes: s.classes, height: s.height, width: s.width, logitLayout: s.logitLayout)
    }
}

nonisolated(unsafe) var passed = 0, failed = 0
func expect(_ condition: Bool, _ what: @autoclosure () -> String) {
    if condition {
        passed += 1
    } else {
        failed += 1
        print("rank \(rank): FAILED \(what())")
    }
}

/// The splits of `images` images over the ranks: even, uneven, everything on the last rank.
func splits(of images: Int) -> [[Int]] {
    var out: [[Int]] = []
    out.append((0..<ranks).map { r in images / ranks + (r < images % ranks ? 1 : 0) })
    if ranks > 1 {
        var uneven = [Int](repeating: 0, count: ranks)
        uneven[0] = 0
        var left = images
        for r in 1..<ranks {
            uneven[r] = r == ranks - 1 ? left : Swift.min(left, r)
            left -= uneven[r]
        }
        out.append(uneven)
        out.append((0..<ranks).map { $0 == ranks - 1 ? images : 0 })
    }
    return out
}

/// What an evaluation returns: its result and both gradients.
struct Outcome {
    var result: String
    var logitGradient: [Float]
    var depthGradient: [Float]
}

/// `evaluate` whole, then split every way: each rank's result is the whole batch's.
func checkSplits(_ name: String, _ whole: Batch, _ evaluate: (Batch, DataParallel?) throws -> Outcome) {
    guard let alone = try? evaluate(whole, nil) else {
        expect(false, "\(name): one process threw")
        return
    }
    let plane = whole.shape.pixelsPerImage, perImageLogits = whole.shape.classes * plane
    for split in splits(of: whole.shape.images) {
        let first = split[..<rank].reduce(0, +)
        let images = first..<(first + split[rank])
        do {
            let part = try evaluate(Batch(whole, images: images), DataParallel(world))
            func slice(_ g: [Float], _ width: Int) -> [UInt32] {
                g.isEmpty ? [] : g[(images.lowerBound * width)..<(images.upperBound * width)].map(\.bitPattern)
            }
            expect(part.result == alone.result, "\(name) \(split): the whole batch's result")
            expect(part.logitGradient.map(\.bitPattern) == slice(alone.logitGradient, perImageLogits), "\(name) \(split): logit gradient")
            expect(part.depthGradient.map(\.bitPattern) == slice(alone.depthGradient, plane), "\(name) \(split): depth gradient")
        } catch {
            expect(false, "\(name) \(split): \(error)")
        }
    }
}

func checkLosses() {
    let batch = Batch(shape: BatchShape(images: 7, classes: 4, height: 6, width: 7), seed: 2026)
    let crossEntropies: [(String, LabelSmoothedCrossEntropy, Bool)] = [
        ("CE per-image mean", LabelSmoothedCrossEntropy(), false),
        ("CE pooled mean, class weights", LabelSmoothedCrossEntropy(
            smoothing: .pytorch(epsilon: 0.1), classWeights: [1, 2, 0.5, 0], reduction: .mean), true),
        ("CE sum, focal", LabelSmoothedCrossEntropy(reduction: .sum, focal: FocalModulation(focusing: 2)), false),
        ("CE per-image top 30%", LabelSmoothedCrossEntropy(mining: .topFraction(0.3)), false),
        ("DeepLab batch top 95% (ties)", LabelSmoothedCrossEntropy(smoothing: .none, mining: .batchTopFraction(0.95)), true),
        ("DeepLab batch top 20%", LabelSmoothedCrossEntropy(smoothing: .none, mining: .batchTopFraction(0.2)), false),
        ("OHEM threshold", LabelSmoothedCrossEntropy(
            smoothing: .none, mining: .ohem(threshold: 0.7, minimumKept: 3, averageNonIgnored: false)), false),
        ("OHEM losses", LabelSmoothedCrossEntropy(
            smoothing: .none, mining: .ohem(threshold: nil, minimumKept: 20, averageNonIgnored: true)), true),
    ]
    for (name, ce, weighted) in crossEntropies {
        checkSplits(name, batch) { b, dp in
            var g = [Float](repeating: .nan, count: b.shape.logitCount)
            let r = try ce.evaluate(
                logits: b.logits, labels: b.labels, shape: b.shape, pixelWeights: weighted ? b.weights : nil, gradient: &g,
                dataParallel: dp)
            return Outcome(result: "\(r)", logitGradient: g, depthGradient: [])
        }
    }
    checkSplits("SILog (BTS) alone", batch) { b, dp in
        var g = [Float](repeating: .nan, count: b.shape.pixelCount)
        let r = try SILogDepthLoss(.bts).evaluate(
            predictedLogDepth: b.predicted, groundTruthDepth: b.depth, shape: b.shape.pixelMap, gradient: &g, dataParallel: dp)
        return Outcome(result: "\(r)", logitGradient: [], depthGradient: g)
    }
    var silog = ObjectiveConfiguration.paperPaced(totalEpochs: 20)
    silog.depthTerm = .silog(.adaBins)
    silog.reduction = .mean
    silog.classWeights = [1, 2, 0.5, 1]
    let rows: [(String, ObjectiveConfiguration)] = AblationRow.allCases.map {
        ("Table II \($0)", ObjectiveConfiguration.ablation($0, totalEpochs: 20))
    }
        + [("L_T with SILog as its depth term, pooled mean", silog)]
    for (name, configuration) in rows {
        let objective = HardPixelMiningObjective(configuration)
        checkSplits(name, batch) { b, dp in
            var gx = [Float](repeating: .nan, count: b.shape.logitCount), gd = [Float](repeating: .nan, count: b.shape.pixelCount)
            let r = try objective.evaluate(
                logits: b.logits, labels: b.labels, predictedLogDepth: b.predicted, groundTruthDepth: b.depth,
                shape: b.shape, epoch: 12, logitGradient: &gx, depthGradient: &gd, dataParallel: dp)
            return Outcome(result: "\(r)", logitGradient: gx, depthGradient: gd)
        }
    }

    // A bad label on the last rank: every rank throws that error, and writes nothing.
    let split = splits(of: 7)[0]
    let first = split[..<rank].reduce(0, +)
    var mine = Batch(batch, images: first..<(first + split[rank]))
    if rank == ranks - 1 && !mine.labels.isEmpty { mine.labels[0] = 9 }
    var gx = [Float](repeating: 7, count: mine.shape.logitCount), gd = [Float](repeating: 7, count: mine.shape.pixelCount)
    do {
        _ = try HardPixelMiningObjective(.paperPaced(totalEpochs: 20)).evaluate(
            logits: mine.logits, labels: mine.labels, predictedLogDepth: mine.predicted, groundTruthDepth: mine.depth,
            shape: mine.shape, epoch: 12, logitGradient: &gx, depthGradient: &gd, dataParallel: DataParallel(world))
        expect(false, "a bad label on the last rank: no error")
    } catch let error as HardPixelMiningError {
        expect(error == .labelOutOfRange(argument: "labels", index: 0, value: 9, classCount: 4, ignoreLabel: 255),
               "a bad label on the last rank: every rank throws it (\(error))")
        expect(gx.allSatisfy { $0 == 7 } && gd.allSatisfy { $0 == 7 }, "a bad label on the last rank: outputs untouched")
    } catch {
        expect(false, "a bad label: \(error)")
    }

    // Settings that differ between ranks: every rank refuses.
    mine = Batch(batch, images: first..<(first + split[rank]))
    do {
        let ce = LabelSmoothedCrossEntropy(smoothing: rank == 0 ? .paperDefault : .none)
        _ = try ce.evaluate(logits: mine.logits, labels: mine.labels, shape: mine.shape, gradient: &gx, dataParallel: DataParallel(world))
        expect(ranks == 1, "settings that differ: no error")
    } catch let error as HardPixelMiningError {
        expect(ranks > 1 && error.argument == "dataParallel", "settings that differ: \(error)")
    } catch {
        expect(false, "settings that differ: \(error)")
    }

    // A collective that throws (on every rank, at its second call): named, outputs untouched.
    do {
        var g = [Float](repeating: 7, count: mine.shape.pixelCount)
        _ = try SILogDepthLoss().evaluate(
            predictedLogDepth: mine.predicted, groundTruthDepth: mine.depth, shape: mine.shape.pixelMap, gradient: &g,
            dataParallel: DataParallel(FailingCollective(base: world, failingCall: 1)))
        expect(false, "a failing collective: no error")
    } catch let error as HardPixelMiningError {
        expect(error == .collectiveFailed(operation: "allGather", message: "MPI_Allgather returned 99"), "a failing collective: \(error)")
    } catch {
        expect(false, "a failing collective: \(error)")
    }

    // Per-rank semantics: each rank's own loss, as DDP computes it.
    do {
        let ce = LabelSmoothedCrossEntropy(mining: .batchTopFraction(0.3))
        var g = [Float](repeating: 0, count: mine.shape.logitCount), h = g
        let ranked = try ce.evaluate(
            logits: mine.logits, labels: mine.labels, shape: mine.shape, gradient: &g,
            dataParallel: DataParallel(world, semantics: .perRank))
        if mine.shape.images > 0 {
            let alone = try ce.evaluate(logits: mine.logits, labels: mine.labels, shape: mine.shape, gradient: &h)
            expect(ranked == alone && g == h, "per-rank semantics: the rank's own loss")
        }
    } catch {
        expect(false, "per-rank semantics: \(error)")
    }
}

/// `world`, except that call `failingCall` throws (on every rank, so that none waits).
final class FailingCollective: BatchCollective {
    let base: MPICollective
    let failingCall: Int
    var calls = 0
    init(base: MPICollective, failingCall: Int) { (self.base, self.failingCall) = (base, failingCall) }
    var rank: Int { base.rank }
    var rankCount: Int { base.rankCount }
    func allGather(_ values: [Double]) throws -> [[Double]] {
        defer { calls += 1 }
        if calls == failingCall { throw MPICollective.Failure(call: "MPI_Allgather", code: 99) }
        return try base.allGather(values)
    }
    func allReduceSum(_ counts: [UInt64]) throws -> [UInt64] {
        defer { calls += 1 }
        if calls == failingCall { throw MPICollective.Failure(call: "MPI_Allreduce", code: 99) }
        return try base.allReduceSum(counts)
    }
}

/// The collective of `world`, timed, with the bytes each call sends.
final class TimedCollective: BatchCollective {
    let base: MPICollective
    var seconds = 0.0, calls = 0, bytes = 0
    init(_ base: MPICollective) { self.base = base }
    var rank: Int { base.rank }
    var rankCount: Int { base.rankCount }
    func allGather(_ values: [Double]) throws -> [[Double]] {
        let t = DispatchTime.now().uptimeNanoseconds
        defer { seconds += Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9; calls += 1; bytes += 8 * values.count }
        return try base.allGather(values)
    }
    func allReduceSum(_ counts: [UInt64]) throws -> [UInt64] {
        let t = DispatchTime.now().uptimeNanoseconds
        defer { seconds += Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9; calls += 1; bytes += 8 * counts.count }
        return try base.allReduceSum(counts)
    }
}

/// L_T on the NYU-v2 batch split over the ranks: the loss's time, and the collectives'.
func measure() throws {
    let whole = BatchShape(images: 8, classes: 40, height: 480, width: 640)
    let split = splits(of: whole.images)[0]
    let first = split[..<rank].reduce(0, +)
    let mine = Batch(Batch(shape: BatchShape(images: split[rank], classes: 40, height: 480, width: 640), seed: 7 + UInt64(rank)),
                     images: 0..<split[rank])
    _ = first
    var gx = [Float](repeating: 0, count: mine.shape.logitCount), gd = [Float](repeating: 0, count: mine.shape.pixelCount)
    let ws = try ObjectiveWorkspace(reservingFor: mine.shape)
    for (name, configuration, ce) in [("L_T", ObjectiveConfiguration.paperPaced(totalEpochs: 40), false),
                                      ("CE pooled mean", ObjectiveConfiguration.segmentationOnly, true)] {
        var loss: [Double] = [], collective: [Double] = [], alone: [Double] = [], calls = 0, bytes = 0
        for round in 0..<12 {
            let timed = TimedCollective(world)
            let split = round % 2 == 1
            let dataParallel = split ? DataParallel(timed) : nil
            let t = DispatchTime.now().uptimeNanoseconds
            if ce {
                _ = try LabelSmoothedCrossEntropy(reduction: .mean).evaluate(
                    logits: mine.logits, labels: mine.labels, shape: mine.shape, gradient: &gx, workspace: ws,
                    dataParallel: dataParallel)
            } else {
                _ = try HardPixelMiningObjective(configuration).evaluate(
                    logits: mine.logits, labels: mine.labels, predictedLogDepth: mine.predicted, groundTruthDepth: mine.depth,
                    shape: mine.shape, epoch: 20, logitGradient: &gx, depthGradient: &gd, workspace: ws,
                    dataParallel: dataParallel)
            }
            let total = Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9
            let slowest = world.maximum(total) * 1e3, waiting = world.maximum(timed.seconds) * 1e3
            if round > 1 {
                if split {
                    loss.append(slowest)
                    collective.append(waiting)
                } else {
                    alone.append(slowest)
                }
            }
            if split { (calls, bytes) = (timed.calls, timed.bytes) }
        }
        let median = { (a: [Double]) in a.sorted()[a.count / 2] }
        if rank == 0 {
            print("\(name), \(whole.images) images over \(ranks) ranks (\(split)): global batch \(String(format2: median(loss))) ms, "
                  + "each rank alone \(String(format2: median(alone))) ms (slowest rank, medians of 5, interleaved); "
                  + "collectives \(String(format2: median(collective))) ms in \(calls) calls, \(bytes) bytes sent per rank")
        }
    }
}

extension String {
    init(format2 value: Double) { self = String(Double(Int(value * 100)) / 100) }
}

if CommandLine.arguments.contains("--measure") {
    do { try measure() } catch { print("rank \(rank): \(error)") }
    MPICollective.finalize()
    exit(0)
}
checkLosses()
let totals = (try? world.allReduceSum([UInt64(passed), UInt64(failed)])) ?? [UInt64(passed), UInt64(failed) + 1]
if rank == 0 { print("Distributed checks on \(ranks) ranks: \(totals[0]) passed, \(totals[1]) failed") }
MPICollective.finalize()
exit(totals[1] == 0 ? 0 : 1)
