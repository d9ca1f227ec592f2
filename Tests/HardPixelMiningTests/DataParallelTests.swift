import HardPixelMining
import HardPixelMiningTestSupport
import Testing

/// `DataParallel`: a batch split over ranks (threads of this process here; Tests/Distributed
/// runs the same on Open MPI) gives, on every rank, the whole batch's result bitwise, and each
/// rank's gradients are bitwise its slice of the whole batch's; bad input on one rank makes
/// every rank throw the same error with its outputs untouched.
@Suite struct DataParallelTests {
    static let shape = BatchShape(images: 5, classes: 4, height: 6, width: 7)
    /// R = 1, 2, 3, 4 ranks; uneven, and ranks with no image.
    static let splits: [[Int]] = [[5], [2, 3], [3, 0, 2], [1, 1, 2, 1], [0, 4, 1, 0]]

    struct Batch: Sendable {
        var logits: [Float], labels: [Int32], predicted: [Float], depth: [Float], weights: [Float]
    }

    static let batch: Batch = {
        var random = TestRandom(seed: 2026)
        let b = random.batch(shape)
        // Pixel weights with zeros, so that batch top-k has ties at 0 to resolve across ranks.
        let weights = (0..<shape.pixelCount).map { _ in random.uniform() < 0.3 ? Float(0) : Float(random.uniform(0.5...2)) }
        return Batch(logits: b.logits, labels: b.labels, predicted: b.predicted, depth: b.depth, weights: weights)
    }()

    /// Images `images` of the batch as a batch of their own.
    static func part(_ images: Range<Int>) -> (batch: Batch, shape: BatchShape) {
        let s = shape, plane = s.pixelsPerImage, logits = s.classes * plane
        func cut<T>(_ a: [T], _ width: Int) -> [T] { Array(a[(images.lowerBound * width)..<(images.upperBound * width)]) }
        let b = batch
        return (Batch(logits: cut(b.logits, logits), labels: cut(b.labels, plane), predicted: cut(b.predicted, plane),
                      depth: cut(b.depth, plane), weights: cut(b.weights, plane)),
                BatchShape(images: images.count, classes: s.classes, height: s.height, width: s.width))
    }

    /// What one evaluation returns: its result and both gradients.
    struct Outcome: Equatable, Sendable {
        var result: String
        var logitGradient: [UInt32]
        var depthGradient: [UInt32]
    }

    /// `evaluate` on the whole batch in one process, then on every split, each rank on its
    /// images: every rank's result is the whole batch's, its gradients the whole batch's slice.
    static func expectSplitsMatchOneProcess(
        _ name: String, _ evaluate: @escaping @Sendable (Batch, BatchShape, DataParallel?) throws -> (String, [Float], [Float])
    ) throws {
        let whole = try evaluate(batch, shape, nil)
        let plane = shape.pixelsPerImage, logits = shape.classes * plane
        for split in splits {
            let starts = split.indices.map { split[..<$0].reduce(0, +) }
            let outcomes = ThreadCollective.run(ranks: split.count) { collective in
                let r = collective.rank
                let p = part(starts[r]..<(starts[r] + split[r]))
                return try evaluate(p.batch, p.shape, DataParallel(collective))
            }
            for (r, outcome) in outcomes.enumerated() {
                let images = starts[r]..<(starts[r] + split[r])
                switch outcome {
                case .failure(let error):
                    Issue.record("\(name) \(split) rank \(r): \(error)")
                case .success(let (result, gx, gd)):
                    #expect(result == whole.0, "\(name) \(split) rank \(r): the whole batch's result")
                    func slice(_ g: [Float], _ width: Int) -> [UInt32] {
                        g.isEmpty ? [] : g[(images.lowerBound * width)..<(images.upperBound * width)].map(\.bitPattern)
                    }
                    #expect(gx.map(\.bitPattern) == slice(whole.1, logits), "\(name) \(split) rank \(r): logit gradient")
                    #expect(gd.map(\.bitPattern) == slice(whole.2, plane), "\(name) \(split) rank \(r): depth gradient")
                }
            }
        }
    }

    static let crossEntropies: [(String, LabelSmoothedCrossEntropy, Bool)] = [
        ("per-image mean", LabelSmoothedCrossEntropy(), false),
        ("pooled mean, class weights", LabelSmoothedCrossEntropy(
            smoothing: .pytorch(epsilon: 0.1), classWeights: [1, 2, 0.5, 0], reduction: .mean), true),
        ("sum, focal", LabelSmoothedCrossEntropy(reduction: .sum, focal: FocalModulation(focusing: 2)), false),
        ("per-image top 30%", LabelSmoothedCrossEntropy(mining: .topFraction(0.3)), false),
        ("DeepLab batch top 95%", LabelSmoothedCrossEntropy(smoothing: .none, mining: .batchTopFraction(0.95)), true),
        ("DeepLab batch top 20%", LabelSmoothedCrossEntropy(smoothing: .none, mining: .batchTopFraction(0.2)), false),
        ("OHEM threshold", LabelSmoothedCrossEntropy(
            smoothing: .none, mining: .ohem(threshold: 0.7, minimumKept: 3, averageNonIgnored: false)), false),
        ("OHEM losses", LabelSmoothedCrossEntropy(
            smoothing: .none, mining: .ohem(threshold: nil, minimumKept: 20, averageNonIgnored: true)), true),
    ]

    @Test(arguments: 0..<crossEntropies.count)
    func crossEntropyOverRanksIsTheWholeBatch(index: Int) throws {
        let (name, ce, weighted) = Self.crossEntropies[index]
        try Self.expectSplitsMatchOneProcess(name) { b, shape, dp in
            var g = [Float](repeating: .nan, count: shape.logitCount)
            let r = try ce.evaluate(
                logits: b.logits, labels: b.labels, shape: shape, pixelWeights: weighted ? b.weights : nil, gradient: &g,
                dataParallel: dp)
            return ("\(r)", g, [])
        }
    }

    @Test func silogOverRanksPoolsEveryRanksPixels() throws {
        try Self.expectSplitsMatchOneProcess("SILog") { b, shape, dp in
            var g = [Float](repeating: .nan, count: shape.pixelCount)
            let r = try SILogDepthLoss(.bts).evaluate(
                predictedLogDepth: b.predicted, groundTruthDepth: b.depth, shape: shape.pixelMap, gradient: &g, dataParallel: dp)
            return ("\(r)", [], g)
        }
    }

    static let objectives: [(String, ObjectiveConfiguration)] = {
        var silog = ObjectiveConfiguration.paperPaced(totalEpochs: 20)
        silog.depthTerm = .silog(.adaBins)
        silog.reduction = .mean
        silog.classWeights = [1, 2, 0.5, 1]
        var map = ObjectiveConfiguration.paper
        map.pixelWeightMap = PixelWeightMapTerm(coefficient: 0.5, paced: true)
        map.pacing = SelfPacedPacing(totalEpochs: 20)
        return [("L_T paced", .paperPaced(totalEpochs: 20)), ("L_HPM", .paper), ("L_seg", .segmentationOnly),
                ("SILog depth term, pooled mean", silog), ("a paced caller's map", map)]
    }()

    @Test(arguments: 0..<objectives.count)
    func objectiveOverRanksIsTheWholeBatch(index: Int) throws {
        let (name, configuration) = Self.objectives[index]
        let objective = HardPixelMiningObjective(configuration)
        try Self.expectSplitsMatchOneProcess(name) { b, shape, dp in
            var gx = [Float](repeating: .nan, count: shape.logitCount), gd = [Float](repeating: .nan, count: shape.pixelCount)
            let r = try objective.evaluate(
                logits: b.logits, labels: b.labels, predictedLogDepth: b.predicted, groundTruthDepth: b.depth,
                shape: shape, epoch: 12, logitGradient: &gx, depthGradient: &gd,
                pixelWeightMap: configuration.pixelWeightMap == nil ? nil : b.weights, dataParallel: dp)
            return ("\(r)", gx, gd)
        }
    }

    /// A bad label on rank 1 of 3: every rank throws rank 1's error, no output written.
    @Test func badInputOnOneRankMakesEveryRankThrowIt() throws {
        let split = [2, 2, 1]
        let outcomes = ThreadCollective.run(ranks: 3) { collective -> [Float] in
            let r = collective.rank
            var p = Self.part([0..<2, 2..<4, 4..<5][r])
            if r == 1 { p.batch.labels[3] = 9 }
            var gx = [Float](repeating: 7, count: p.shape.logitCount), gd = [Float](repeating: 7, count: p.shape.pixelCount)
            do {
                _ = try HardPixelMiningObjective(.paperPaced(totalEpochs: 20)).evaluate(
                    logits: p.batch.logits, labels: p.batch.labels, predictedLogDepth: p.batch.predicted,
                    groundTruthDepth: p.batch.depth, shape: p.shape, epoch: 12, logitGradient: &gx, depthGradient: &gd,
                    dataParallel: DataParallel(collective))
            } catch {
                #expect(gx.allSatisfy { $0 == 7 } && gd.allSatisfy { $0 == 7 }, "rank \(r): outputs untouched")
                throw error
            }
            return gx
        }
        #expect(outcomes.count == split.count)
        for outcome in outcomes {
            #expect(throws: HardPixelMiningError.labelOutOfRange(argument: "labels", index: 3, value: 9, classCount: 4, ignoreLabel: 255)) {
                try outcome.get()
            }
        }
    }

    /// A NaN logit on the last rank, in the one-pass cross-entropy: no rank writes.
    @Test func nonFiniteLogitOnOneRankLeavesEveryRankUntouched() throws {
        let outcomes = ThreadCollective.run(ranks: 2) { collective -> Void in
            let r = collective.rank
            var p = Self.part([0..<3, 3..<5][r])
            if r == 1 { p.batch.logits[10] = .nan }
            var g = [Float](repeating: 7, count: p.shape.logitCount)
            do {
                _ = try LabelSmoothedCrossEntropy().evaluate(
                    logits: p.batch.logits, labels: p.batch.labels, shape: p.shape, gradient: &g, dataParallel: DataParallel(collective))
            } catch {
                #expect(g.allSatisfy { $0 == 7 }, "rank \(r): gradient untouched")
                throw error
            }
        }
        for outcome in outcomes {
            #expect(throws: HardPixelMiningError.self) { try outcome.get() }
            if case .failure(let error as HardPixelMiningError) = outcome { #expect(error.argument == "logits") }
        }
    }

    /// Ranks with different settings or shapes refuse together.
    @Test func settingsThatDifferBetweenRanksAreRefused() throws {
        let outcomes = ThreadCollective.run(ranks: 2) { collective -> Void in
            let r = collective.rank
            let p = Self.part([0..<3, 3..<5][r])
            var g = [Float](repeating: 7, count: p.shape.logitCount)
            let ce = LabelSmoothedCrossEntropy(smoothing: r == 0 ? .paperDefault : .none)
            _ = try ce.evaluate(logits: p.batch.logits, labels: p.batch.labels, shape: p.shape, gradient: &g, dataParallel: DataParallel(collective))
            #expect(Bool(false), "no rank returns")
        }
        for outcome in outcomes {
            if case .failure(let error as HardPixelMiningError) = outcome {
                #expect(error.argument == "dataParallel")
            } else {
                Issue.record("expected an error, got \(outcome)")
            }
        }
    }

    /// A collective that throws is named in the error; outputs stay untouched.
    @Test(arguments: [0, 1, 2])
    func failingCollectiveIsNamed(call: Int) throws {
        let outcomes = ThreadCollective.run(ranks: 2, failingCall: call) { collective -> Void in
            let r = collective.rank
            let p = Self.part([0..<3, 3..<5][r])
            var g = [Float](repeating: 7, count: p.shape.pixelCount)
            do {
                _ = try SILogDepthLoss().evaluate(
                    predictedLogDepth: p.batch.predicted, groundTruthDepth: p.batch.depth, shape: p.shape.pixelMap,
                    gradient: &g, dataParallel: DataParallel(collective))
            } catch {
                if call < 2 { #expect(g.allSatisfy { $0 == 7 }, "untouched when the exchange before the gradient fails") }
                throw error
            }
        }
        for outcome in outcomes {
            #expect(throws: HardPixelMiningError.collectiveFailed(operation: "allGather", message: "the network is down")) {
                try outcome.get()
            }
        }
    }

    /// A rank may hold no image, but its shape must still describe images the other ranks can
    /// hold: one image of more than 2^40 elements is refused, naming the shape (a product of
    /// its sizes wrapped and trapped before; found by the fuzzer). The objective, the
    /// cross-entropy and SILog, on a one-rank collective.
    @Test func aRankWithoutImagesStillChecksTheSizeOfAnImage() throws {
        let huge = BatchShape(images: 0, classes: 3, height: 1 << 32, width: 1 << 31)
        var g: [Float] = [], gd: [Float] = []
        let errors: [() throws -> Void] = [
            { _ = try LabelSmoothedCrossEntropy().evaluate(
                logits: [Float](), labels: [], shape: huge, gradient: &g, dataParallel: DataParallel(SingleRankCollective())) },
            { _ = try HardPixelMiningObjective(.paperPaced(totalEpochs: 4)).evaluate(
                logits: [Float](), labels: [], predictedLogDepth: [], groundTruthDepth: [], shape: huge, epoch: 1,
                logitGradient: &g, depthGradient: &gd, dataParallel: DataParallel(SingleRankCollective())) },
            { _ = try SILogDepthLoss().evaluate(
                predictedLogDepth: [], groundTruthDepth: [], shape: huge.pixelMap, gradient: &gd,
                dataParallel: DataParallel(SingleRankCollective())) },
        ]
        for call in errors {
            do {
                try call()
                Issue.record("no error for \(huge)")
            } catch let e as HardPixelMiningError {
                #expect(e.argument == "shape", "\(e)")
            }
        }
        // The same sizes with one image were already refused.
        #expect(throws: HardPixelMiningError.self) {
            try LabelSmoothedCrossEntropy().evaluate(
                logits: [Float](), labels: [], shape: BatchShape(images: 1, classes: 3, height: 1 << 32, width: 1 << 31),
                gradient: &g)
        }
    }

    /// A rank without images reserves nothing sized by an image: a width of 2^39 columns
    /// (4 TiB of column cells) or 2^31 − 1 classes (a tile of hundreds of GiB) is a shape the
    /// other ranks may hold, and this rank's call succeeds without asking for that memory
    /// (found by the fuzzer: a 16 GiB request). The cross-entropy and the DSE objective, whose
    /// weighing maps each column to its grid cell, on a one-rank collective.
    @Test func aRankWithoutImagesReservesNothingSizedByAnImage() throws {
        let shapes = [
            BatchShape(images: 0, classes: 2, height: 1, width: 1 << 39),
            BatchShape(images: 0, classes: Int(Int32.max), height: 1, width: 1),
        ]
        for shape in shapes {
            var g: [Float] = [], gd: [Float] = []
            let ce = try LabelSmoothedCrossEntropy().evaluate(
                logits: [Float](), labels: [], shape: shape, gradient: &g, dataParallel: DataParallel(SingleRankCollective()))
            #expect(ce.value == 0, "\(shape)")
            let objective = try HardPixelMiningObjective(.paperPaced(totalEpochs: 4)).evaluate(
                logits: [Float](), labels: [], predictedLogDepth: [], groundTruthDepth: [], shape: shape, epoch: 3,
                logitGradient: &g, depthGradient: &gd, dataParallel: DataParallel(SingleRankCollective()))
            #expect(objective.value == 0, "\(shape)")
        }
    }

    /// Per-rank semantics: each rank's own loss, as without a collective (DDP's).
    @Test func perRankSemanticsIsEachRanksOwnLoss() throws {
        let ce = LabelSmoothedCrossEntropy(mining: .batchTopFraction(0.3))
        let outcomes = ThreadCollective.run(ranks: 2) { collective -> Bool in
            let p = Self.part([0..<3, 3..<5][collective.rank])
            var g = [Float](repeating: 0, count: p.shape.logitCount), h = g
            let ranked = try ce.evaluate(
                logits: p.batch.logits, labels: p.batch.labels, shape: p.shape, gradient: &g,
                dataParallel: DataParallel(collective, semantics: .perRank))
            let alone = try ce.evaluate(logits: p.batch.logits, labels: p.batch.labels, shape: p.shape, gradient: &h)
            return ranked == alone && g == h
        }
        for outcome in outcomes { #expect(try outcome.get()) }
    }
}
