import HardPixelMining
import HardPixelMiningTestSupport
import Testing

/// Properties the losses must have whatever the input, each on several seeds.
@Suite struct PropertyTests {
    static let shape = BatchShape(images: 3, classes: 7, height: 11, width: 13)
    static let seeds: [UInt64] = [1, 2, 3, 4, 5]

    static func batch(_ seed: UInt64) -> (logits: [Float], labels: [Int32], predicted: [Float], depth: [Float]) {
        var random = TestRandom(seed: seed)
        return random.batch(shape)
    }

    /// L_dep with ρ = 1 does not change when a constant is added to every predicted log-depth
    /// of an image (a global scale of depth).
    @Test(arguments: seeds)
    func scaleInvariantDepthLossIgnoresAGlobalScale(seed: UInt64) throws {
        let b = Self.batch(seed)
        let loss = ScaleInvariantDepthLoss(scaleInvariance: 1)
        var g = [Float](repeating: 0, count: Self.shape.pixelCount)
        let before = try loss.evaluate(predictedLogDepth: b.predicted, groundTruthDepth: b.depth, shape: Self.shape.pixelMap, gradient: &g)
        let shifted = b.predicted.map { $0 + 0.75 }
        let after = try loss.evaluate(predictedLogDepth: shifted, groundTruthDepth: b.depth, shape: Self.shape.pixelMap, gradient: &g)
        for (x, y) in zip(before.images, after.images) {
            #expect(abs(x - y) <= 1e-5 * Swift.max(1, abs(x)), "\(x) vs \(y)")
        }
        // And with ρ = 0.5 it does change (the property is not vacuous).
        let half = ScaleInvariantDepthLoss(scaleInvariance: 0.5)
        let a = try half.evaluate(predictedLogDepth: b.predicted, groundTruthDepth: b.depth, shape: Self.shape.pixelMap, gradient: &g)
        let c = try half.evaluate(predictedLogDepth: shifted, groundTruthDepth: b.depth, shape: Self.shape.pixelMap, gradient: &g)
        #expect(abs(a.value - c.value) > 1e-3)
    }

    /// Cross-entropy (value and gradient) does not change when a constant is added to all
    /// logits of one pixel.
    @Test(arguments: seeds)
    func crossEntropyIgnoresAPerPixelShift(seed: UInt64) throws {
        let b = Self.batch(seed)
        var random = TestRandom(seed: seed &+ 100)
        let hw = Self.shape.pixelsPerImage
        var shifted = b.logits
        for k in 0..<Self.shape.images {
            for p in 0..<hw {
                let delta = Float(random.uniform(-20...20).rounded())  // exact in Float for |x| < 32
                for c in 0..<Self.shape.classes { shifted[(k * Self.shape.classes + c) * hw + p] += delta }
            }
        }
        let ce = LabelSmoothedCrossEntropy()
        var g1 = [Float](repeating: 0, count: Self.shape.logitCount), g2 = g1
        let r1 = try ce.evaluate(logits: b.logits, labels: b.labels, shape: Self.shape, gradient: &g1)
        let r2 = try ce.evaluate(logits: shifted, labels: b.labels, shape: Self.shape, gradient: &g2)
        #expect(Tolerance.lossMatches(r2.value, r1.value))
        #expect(Tolerance.firstGradientMismatch(g2, g1) == nil)
    }

    /// Permuting the images of a batch permutes the per-image terms and leaves the batch value.
    @Test(arguments: seeds)
    func permutingImagesPermutesTerms(seed: UInt64) throws {
        let b = Self.batch(seed)
        let order = [2, 0, 1]
        let hw = Self.shape.pixelsPerImage, chw = Self.shape.classes * hw
        func permute<T>(_ a: [T], _ size: Int) -> [T] { order.flatMap { a[($0 * size)..<(($0 + 1) * size)] } }
        let objective = HardPixelMiningObjective(.paperPaced(totalEpochs: 10))
        let r = try objective.evaluate(
            logits: b.logits, labels: b.labels, predictedLogDepth: b.predicted, groundTruthDepth: b.depth,
            shape: Self.shape, epoch: 4)
        let p = try objective.evaluate(
            logits: permute(b.logits, chw), labels: permute(b.labels, hw), predictedLogDepth: permute(b.predicted, hw),
            groundTruthDepth: permute(b.depth, hw), shape: Self.shape, epoch: 4)
        for (i, k) in order.enumerated() {
            #expect(p.images[i] == r.images[k])
            #expect(p.sums[i] == r.sums[k])
        }
        #expect(Tolerance.lossMatches(p.value, r.value))
    }

    /// 0 ≤ Z ≤ 1 on every region and every pixel's wZ, for every grid.
    @Test(arguments: seeds)
    func segmentationErrorIsARatio(seed: UInt64) throws {
        let b = Self.batch(seed)
        let predictions = try DepthAwareSegmentationError.predictedClasses(logits: b.logits, shape: Self.shape)
        for grid in [RegionGrid.paper, .global, .perPixel, .cells(rows: 3, columns: 20)] {
            let dse = DepthAwareSegmentationError(grid: grid)
            let w = try dse.weights(predictions: predictions, labels: b.labels, groundTruthDepth: b.depth, shape: Self.shape)
            #expect(w.allSatisfy { $0 >= 0 && $0 <= 1 })
            #expect(w.contains { $0 > 0 })
            for t in try dse.tables(predictions: predictions, labels: b.labels, groundTruthDepth: b.depth, shape: Self.shape) {
                #expect(t.regions.allSatisfy { $0.count > 0 && $0.errors >= 0 && $0.errors <= $0.count })
            }
        }
    }

    /// The pacing mask only grows with the epoch.
    @Test(arguments: seeds)
    func pacingMaskGrowsWithTheEpoch(seed: UInt64) throws {
        var random = TestRandom(seed: seed)
        let weights = (0..<500).map { _ in Float(random.uniform(0...3)).rounded(.toNearestOrEven) / 3 + Float(random.int(3)) }
        let eligible = (0..<500).map { _ in random.uniform() < 0.8 }
        let pacing = SelfPacedPacing(totalEpochs: 30)
        var previous = [Bool](repeating: false, count: 500)
        for epoch in stride(from: 0.0, through: 30.0, by: 2.5) {
            let mask = try pacing.mask(weights: weights, eligible: eligible, epoch: epoch)
            #expect(zip(previous, mask).allSatisfy { !$0.0 || $0.1 }, "epoch \(epoch) dropped a pixel")
            #expect(zip(mask, eligible).allSatisfy { !$0.0 || $0.1 })
            previous = mask
        }
        #expect(previous.contains(true))
    }

    /// The fused objective's paced masks also grow: L̂_R and L̂_Z never shrink with the epoch
    /// (their pixels only get added, and every added term is non-negative).
    @Test(arguments: seeds)
    func pacedTermsGrowWithTheEpoch(seed: UInt64) throws {
        let b = Self.batch(seed)
        var c = ObjectiveConfiguration.paperPaced(totalEpochs: 20)
        c.depthPredictionErrorWeight = .constant(10)
        var last = (r: -1.0, z: -1.0)
        for epoch in stride(from: 0.0, through: 20.0, by: 4) {
            let r = try HardPixelMiningObjective(c).evaluate(
                logits: b.logits, labels: b.labels, predictedLogDepth: b.predicted, groundTruthDepth: b.depth,
                shape: Self.shape, epoch: epoch)
            #expect(r.batch.depthPredictionError >= last.r && r.batch.segmentationError >= last.z)
            last = (r.batch.depthPredictionError, r.batch.segmentationError)
        }
    }

    /// Results are identical for 1 and 2 threads (and the gradient too), on every seed.
    @Test(arguments: seeds)
    func oneAndTwoThreadsAgreeBitwise(seed: UInt64) throws {
        let b = Self.batch(seed)
        var g1 = [Float](repeating: 0, count: Self.shape.logitCount), g2 = g1
        var d1 = [Float](repeating: 0, count: Self.shape.pixelCount), d2 = d1
        let r1 = try HardPixelMiningObjective(.paper, threadCount: 1).evaluate(
            logits: b.logits, labels: b.labels, predictedLogDepth: b.predicted, groundTruthDepth: b.depth,
            shape: Self.shape, epoch: 11, logitGradient: &g1, depthGradient: &d1)
        let r2 = try HardPixelMiningObjective(.paper, threadCount: 2).evaluate(
            logits: b.logits, labels: b.labels, predictedLogDepth: b.predicted, groundTruthDepth: b.depth,
            shape: Self.shape, epoch: 11, logitGradient: &g2, depthGradient: &d2)
        #expect(r1 == r2)
        #expect(g1.map(\.bitPattern) == g2.map(\.bitPattern) && d1.map(\.bitPattern) == d2.map(\.bitPattern))
    }
}

/// The radix select behind pacing and mining against sorting: lower median and maximum of
/// arrays with duplicates, negatives, zeros of both signs, subnormals and huge values.
@Suite struct SelectionTests {
    @Test(arguments: [1, 2, 3, 7, 64, 1000, 4097])
    func learningPaceAtEpochZeroIsTheSortedLowerMedian(count: Int) throws {
        var random = TestRandom(seed: UInt64(count))
        let specials: [Float] = [0, -0.0, 1e-42, -1e-42, 3.4e38, -3.4e38, 1, 1, 1]
        let values = (0..<count).map { i -> Float in
            random.uniform() < 0.2 ? specials[i % specials.count] : Float(random.uniform(-5...5)).rounded() / 4
        }
        let pacing = SelfPacedPacing(totalEpochs: 10)
        let sorted = values.sorted()
        let median = try #require(try pacing.learningPace(of: values, epoch: 0))
        #expect(median == Double(sorted[(count - 1) / 2]))
        let maximum = try #require(try pacing.learningPace(of: values, epoch: 10))
        #expect(maximum == Double(sorted[count - 1]))
    }
}

/// The engine's paces select among the eligible pixels as they compact them: the mask of
/// ``SelfPacedPacing/mask(weights:eligible:epoch:)`` (the same path) against sorting the
/// eligible weights, with bunched values (many candidates share the first digit), zeros of
/// both signs, negatives, subnormals, huge values and ineligible NaNs.
@Suite struct MaskedSelectionTests {
    @Test(arguments: [1, 2, 5, 64, 1000, 4099])
    func maskIsTheSortedEligibleLowerMedian(count: Int) throws {
        var random = TestRandom(seed: UInt64(100 + count))
        let specials: [Float] = [0, -0.0, 1e-42, -1e-42, 3.4e38, -3.4e38, 0.5]
        // Bunched around 0.5 (sharing the first digit, 11 bits, and differing in the second),
        // spread over neighbouring first digits, and special.
        var weights = (0..<count).map { i -> Float in
            let u = random.uniform()
            return u < 0.15 ? specials[i % specials.count]
                : u < 0.6 ? 0.5 + Float(random.uniform(0...1)) * 1e-3 : Float(random.uniform(0.4...0.7))
        }
        var eligible = (0..<count).map { _ in random.uniform() < 0.7 }
        eligible[count / 2] = true
        for i in weights.indices where !eligible[i] && i % 3 == 0 { weights[i] = .nan }
        let chosen = weights.indices.filter { eligible[$0] }.map { weights[$0] }.sorted()
        let pacing = SelfPacedPacing(totalEpochs: 10)
        for (epoch, pace) in [(0.0, chosen[(chosen.count - 1) / 2]), (10.0, chosen[chosen.count - 1])] {
            let mask = try pacing.mask(weights: weights, eligible: eligible, epoch: epoch)
            #expect(mask == weights.indices.map { eligible[$0] && weights[$0] < pace }, "epoch \(epoch)")
        }
        #expect(try pacing.mask(weights: weights, eligible: eligible.map { _ in false }, epoch: 0) == eligible.map { _ in false })
    }
}
