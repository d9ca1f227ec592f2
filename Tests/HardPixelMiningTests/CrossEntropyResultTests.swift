import HardPixelMining
import HardPixelMiningTestSupport
import Testing

/// `CrossEntropyResult` and `LabelSmoothedCrossEntropy.result(combining:)`: what the
/// cross-entropy returns, and that per-image sums gathered from parts of a batch combine to
/// the whole batch's result, bitwise.
@Suite struct CrossEntropyResultTests {
    static let shape = BatchShape(images: 4, classes: 5, height: 6, width: 7)

    /// The batch's images `range` as a batch of their own.
    static func part(_ b: (logits: [Float], labels: [Int32]), _ range: Range<Int>) -> (logits: [Float], labels: [Int32], shape: BatchShape) {
        let s = shape, logitsPerImage = s.classes * s.pixelsPerImage
        return (
            Array(b.logits[(range.lowerBound * logitsPerImage)..<(range.upperBound * logitsPerImage)]),
            Array(b.labels[(range.lowerBound * s.pixelsPerImage)..<(range.upperBound * s.pixelsPerImage)]),
            BatchShape(images: range.count, classes: s.classes, height: s.height, width: s.width))
    }

    static let losses: [LabelSmoothedCrossEntropy] = [
        LabelSmoothedCrossEntropy(),
        LabelSmoothedCrossEntropy(smoothing: .pytorch(epsilon: 0.1), classWeights: [1, 2, 0.5, 0, 3], reduction: .mean),
        LabelSmoothedCrossEntropy(reduction: .sum, focal: FocalModulation(focusing: 2)),
        LabelSmoothedCrossEntropy(mining: .topFraction(0.3)),
    ]

    @Test(arguments: 0..<losses.count)
    func gatheredSumsCombineToTheWholeBatch(loss index: Int) throws {
        let loss = Self.losses[index]
        var random = TestRandom(seed: 7 + UInt64(index))
        let b = random.batch(Self.shape)
        var g = [Float](repeating: 0, count: Self.shape.logitCount)
        let whole = try loss.evaluate(logits: b.logits, labels: b.labels, shape: Self.shape, gradient: &g)
        // Three workers: images 0, 1...2 and none, then 3.
        var gathered: [CrossEntropySums] = []
        for range in [0..<1, 1..<3, 3..<4] {
            let p = Self.part((b.logits, b.labels), range)
            var gp = [Float](repeating: 0, count: p.shape.logitCount)
            gathered += try loss.evaluate(logits: p.logits, labels: p.labels, shape: p.shape, gradient: &gp).sums
        }
        let combined = try loss.result(combining: gathered)
        #expect(combined == whole, "\(loss)")
        #expect(combined.value.bitPattern == whole.value.bitPattern)
        #expect(whole.images.count == 4 && whole.sums.count == 4)
    }

    /// The batch value is the mean of the images' losses per image, and their sum (the shares)
    /// with a batch-wide divisor.
    @Test func valueIsTheMeanOrTheSumOfTheImages() throws {
        var random = TestRandom(seed: 3)
        let b = random.batch(Self.shape)
        var g = [Float](repeating: 0, count: Self.shape.logitCount)
        let perImage = try LabelSmoothedCrossEntropy().evaluate(logits: b.logits, labels: b.labels, shape: Self.shape, gradient: &g)
        #expect(abs(perImage.value - perImage.images.reduce(0, +) / 4) <= 1e-12)
        #expect(perImage.sums.allSatisfy { $0.pooledDivisor == nil })
        let pooled = try LabelSmoothedCrossEntropy(reduction: .mean).evaluate(logits: b.logits, labels: b.labels, shape: Self.shape, gradient: &g)
        #expect(abs(pooled.value - pooled.images.reduce(0, +)) <= 1e-12)
        let n = Double(pooled.sums.reduce(0) { $0 + $1.labelledPixels })
        #expect(pooled.sums.allSatisfy { $0.pooledDivisor == n })
    }

    @Test func badSumsAreNamed() throws {
        let loss = LabelSmoothedCrossEntropy()
        var negative = CrossEntropySums()
        negative.labelledPixels = -1
        #expect(throws: HardPixelMiningError.invalidDimension(argument: "sums[1].labelledPixels", value: -1, requirement: "in 0...\(Int.max)")) {
            try loss.result(combining: [CrossEntropySums(), negative])
        }
        var nan = CrossEntropySums()
        nan.labelledPixels = 3
        nan.crossEntropySum = .nan
        #expect(throws: HardPixelMiningError.self) { try loss.result(combining: [nan]) }
        var mined = CrossEntropySums()
        mined.labelledPixels = 2
        mined.minedPixels = 3
        #expect(throws: HardPixelMiningError.invalidDimension(argument: "sums[0].minedPixels", value: 3, requirement: "in 0...2")) {
            try loss.result(combining: [mined])
        }
        #expect(try loss.result(combining: []).value == 0)
    }
}
