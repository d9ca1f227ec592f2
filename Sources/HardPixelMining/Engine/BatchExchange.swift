import HardPixelMiningKernels

/// The engine's side of a caller's ``BatchCollective`` during one call: the whole batch's
/// image count and this rank's place in it, and the exchanges that make a split batch's
/// values bitwise those of one process. No floating-point sum crosses ranks: per-image values
/// are all-gathered and added in global image order, as one process adds them; selection
/// histograms are integer counts, all-reduced.
final class BatchExchange {
    let collective: any BatchCollective
    /// N, the images of the whole batch, and the global index of this rank's first image.
    private(set) var images = 0
    private(set) var firstImage = 0

    init(_ collective: any BatchCollective) {
        self.collective = collective
    }

    func allGather(_ values: [Double]) throws -> [[Double]] {
        let gathered = try call("allGather") { try collective.allGather(values) }
        guard gathered.count == collective.rankCount else {
            throw HardPixelMiningError.collectiveFailed(
                operation: "allGather", message: "returned \(gathered.count) ranks' values, not rankCount \(collective.rankCount)")
        }
        return gathered
    }

    func allReduceSum(_ counts: [UInt64]) throws -> [UInt64] {
        let reduced = try call("allReduceSum") { try collective.allReduceSum(counts) }
        guard reduced.count == counts.count else {
            throw HardPixelMiningError.collectiveFailed(
                operation: "allReduceSum", message: "returned \(reduced.count) counts, not \(counts.count)")
        }
        return reduced
    }

    /// One collective operation, with what it throws as ``HardPixelMiningError/collectiveFailed(operation:message:)``.
    private func call<T>(_ operation: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw HardPixelMiningError.collectiveFailed(operation: operation, message: "\(error)")
        }
    }

    /// The first exchange of every call, before any output is written: each rank's verdict on
    /// its inputs (the first error it found, or none), the fingerprint of its shape and
    /// settings, and its image count. Every rank then throws the same error — the lowest
    /// rank's own, or a fingerprint mismatch — or learns N and its first image.
    func agree(fingerprint: String, images localImages: Int, error: (any Error)?) throws {
        let rank = collective.rank, ranks = collective.rankCount
        if ranks < 1 || rank < 0 || rank >= ranks {
            throw HardPixelMiningError.invalidDimension(
                argument: "dataParallel.collective.rank", value: rank, requirement: "in 0..<rankCount (\(ranks))")
        }
        var message: [Double] = [Double(localImages)]
        message += DoubleCoding.hash(fingerprint)
        if let error {
            let typed = error as? HardPixelMiningError
                ?? .invalidSetting(argument: "input", value: "\(error)", requirement: "valid")
            message += DoubleCoding.encode(typed)
        }
        let all = try allGather(message)
        for (r, m) in all.enumerated() where m.count > 3 {
            throw (try? DoubleCoding.decode(Array(m[3...])))
                ?? HardPixelMiningError.collectiveFailed(operation: "allGather", message: "rank \(r)'s error did not decode")
        }
        for (r, m) in all.enumerated() where m.count != 3 || Array(m[1...2]) != Array(message[1...2]) {
            throw HardPixelMiningError.invalidSetting(
                argument: "dataParallel", value: "rank \(r)'s shape or settings differ from rank \(rank)'s",
                requirement: "the same classes, height, width, layout, precision and settings on every rank")
        }
        images = 0
        for (r, m) in all.enumerated() {
            if r == rank { firstImage = images }
            images += Int(m[0])
        }
    }

    /// Runs `body`, a step that may find an error only a pass over the data reveals (a
    /// non-finite logit), then exchanges every rank's outcome: every rank throws the lowest
    /// rank's error, or none. Called before any output is written.
    func settle(_ body: () throws -> Void) throws {
        var message: [Double] = []
        do { try body() } catch {
            let typed = error as? HardPixelMiningError
                ?? .invalidSetting(argument: "input", value: "\(error)", requirement: "valid")
            message = DoubleCoding.encode(typed)
        }
        for (r, m) in try allGather(message).enumerated() where !m.isEmpty {
            throw (try? DoubleCoding.decode(m))
                ?? HardPixelMiningError.collectiveFailed(operation: "allGather", message: "rank \(r)'s error did not decode")
        }
    }

    /// Each image's `width` values from every rank, in global image order.
    func gatherImages(_ local: [Double], width: Int) throws -> [[Double]] {
        let all = try allGather(local)
        var images: [[Double]] = []
        for m in all {
            var i = 0
            while i + width <= m.count {
                images.append(Array(m[i..<(i + width)]))
                i += width
            }
        }
        return images
    }

    /// Every image's sums, in global image order.
    func gatherSums(_ sums: [ImageSums]) throws -> [ImageSums] {
        try gatherImages(sums.flatMap(\.record), width: ImageSums.recordWidth).map(ImageSums.init(record:))
    }
}

extension ImageSums {
    static let recordWidth = ImageSums().record.count

    /// The sums as Doubles, exactly (counts below 2^53; optionals as a flag and a value).
    var record: [Double] {
        func optional(_ x: Double?) -> [Double] { x.map { [1, $0] } ?? [0, 0] }
        return [Double(labelledPixels), Double(depthPixels)] + optional(labelWeightSum)
            + [Double(eligiblePixels), crossEntropySum] + optional(minedPixels.map(Double.init))
            + optional(pooledDivisor) + [residualSum, squaredResidualSum, depthPredictionErrorSum, segmentationErrorSum]
            + optional(depthPredictionErrorPace) + optional(segmentationErrorPace) + optional(segmentationPace)
            + [Double(countedDepthPredictionErrorPixels), Double(countedSegmentationErrorPixels), pixelWeightMapSum]
            + optional(largestValidDepth.map(Double.init)) + optional(pixelWeightMapPace)
            + [Double(countedPixelWeightMapPixels)]
    }

    init(record r: [Double]) {
        var i = 0
        func next() -> Double { defer { i += 1 }; return r[i] }
        func optional() -> Double? { let present = next(), value = next(); return present != 0 ? value : nil }
        self.init()
        labelledPixels = Int(next()); depthPixels = Int(next()); labelWeightSum = optional()
        eligiblePixels = Int(next()); crossEntropySum = next(); minedPixels = optional().map { Int($0) }
        pooledDivisor = optional(); residualSum = next(); squaredResidualSum = next()
        depthPredictionErrorSum = next(); segmentationErrorSum = next()
        depthPredictionErrorPace = optional(); segmentationErrorPace = optional(); segmentationPace = optional()
        countedDepthPredictionErrorPixels = Int(next()); countedSegmentationErrorPixels = Int(next())
        pixelWeightMapSum = next(); largestValidDepth = optional().map { Float($0) }; pixelWeightMapPace = optional()
        countedPixelWeightMapPixels = Int(next())
    }
}

/// Errors and fingerprints as Doubles, exactly: an Int or a Double's bits as two 32-bit
/// halves, a string as its length and UTF-8 bytes.
enum DoubleCoding {
    /// FNV-1a of the text, as two 32-bit halves.
    static func hash(_ text: String) -> [Double] {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            h ^= UInt64(byte)
            h = h &* 0x0000_0100_0000_01B3
        }
        return [Double(h >> 32), Double(h & 0xFFFF_FFFF)]
    }

    static func encode(_ error: HardPixelMiningError) -> [Double] {
        var out: [Double] = []
        func int(_ x: Int) { let b = UInt64(bitPattern: Int64(x)); out += [Double(b >> 32), Double(b & 0xFFFF_FFFF)] }
        func double(_ x: Double) { let b = x.bitPattern; out += [Double(b >> 32), Double(b & 0xFFFF_FFFF)] }
        func string(_ s: String) { let bytes = Array(s.utf8); int(bytes.count); out += bytes.map(Double.init) }
        switch error {
        case .wrongCount(let a, let e, let v): out.append(0); string(a); int(e); int(v)
        case .invalidDimension(let a, let v, let q): out.append(1); string(a); int(v); string(q)
        case .labelOutOfRange(let a, let i, let v, let c, let g): out.append(2); string(a); int(i); int(Int(v)); int(c); int(Int(g))
        case .nonFiniteValue(let a, let i, let v): out.append(3); string(a); int(i); double(Double(v))
        case .invalidParameter(let a, let v, let q): out.append(4); string(a); double(v); string(q)
        case .invalidSetting(let a, let v, let q): out.append(5); string(a); string(v); string(q)
        case .tooLarge(let a, let d, let q): out.append(6); string(a); int(d.count); d.forEach(int); string(q)
        case .collectiveFailed(let o, let m): out.append(7); string(o); string(m)
        }
        return out
    }

    struct Malformed: Error {}

    static func decode(_ m: [Double]) throws -> HardPixelMiningError {
        var i = 0
        func next() throws -> Double {
            guard i < m.count else { throw Malformed() }
            defer { i += 1 }
            return m[i]
        }
        func bits() throws -> UInt64 {
            let hi = try next(), lo = try next()
            guard hi >= 0, hi < 4_294_967_296, lo >= 0, lo < 4_294_967_296 else { throw Malformed() }
            return UInt64(hi) << 32 | UInt64(lo)
        }
        func int() throws -> Int { Int(Int64(bitPattern: try bits())) }
        func double() throws -> Double { Double(bitPattern: try bits()) }
        func string() throws -> String {
            let n = try int()
            guard n >= 0, n <= m.count else { throw Malformed() }
            var bytes: [UInt8] = []
            for _ in 0..<n {
                let b = try next()
                guard b >= 0, b < 256 else { throw Malformed() }
                bytes.append(UInt8(b))
            }
            return String(decoding: bytes, as: UTF8.self)
        }
        switch try next() {
        case 0: return .wrongCount(argument: try string(), expected: try int(), actual: try int())
        case 1: return .invalidDimension(argument: try string(), value: try int(), requirement: try string())
        case 2:
            return .labelOutOfRange(
                argument: try string(), index: try int(), value: Int32(truncatingIfNeeded: try int()), classCount: try int(),
                ignoreLabel: Int32(truncatingIfNeeded: try int()))
        case 3: return .nonFiniteValue(argument: try string(), index: try int(), value: Float(try double()))
        case 4: return .invalidParameter(argument: try string(), value: try double(), requirement: try string())
        case 5: return .invalidSetting(argument: try string(), value: try string(), requirement: try string())
        case 6:
            let a = try string(), n = try int()
            guard n >= 0, n <= m.count else { throw Malformed() }
            var d: [Int] = []
            for _ in 0..<n { d.append(try int()) }
            return .tooLarge(argument: a, dimensions: d, requirement: try string())
        case 7: return .collectiveFailed(operation: try string(), message: try string())
        default: throw Malformed()
        }
    }
}

extension BatchExchange {
    /// With a pooled `reduction`, the divisor over every rank's images (their Σ w_label or n,
    /// added in global image order), set in each of this rank's image sums.
    func poolDivisor(_ reduction: Reduction, _ sums: inout [ImageSums]) throws {
        guard reduction != .perImageMean else { return }
        let counts = try gatherImages(sums.map(\.segmentationCount), width: 1).map { $0[0] }
        let divisor = Reduction.pooledDivisor(reduction, counts)
        for k in sums.indices { sums[k].pooledDivisor = divisor }
    }

    /// nd, Σ R and Σ R² over every rank's images, added in global image order.
    func pooledDepth(_ local: [DepthSums]) throws -> DepthSums {
        let all = try gatherImages(local.flatMap { [Double($0.depthPixels), $0.residualSum, $0.squaredResidualSum] }, width: 3)
        return DepthSums.pooled(all.map { r in
            var s = DepthSums()
            (s.depthPixels, s.residualSum, s.squaredResidualSum) = (Int(r[0]), r[1], r[2])
            return s
        })
    }
}

/// The start of a call that may be part of a data-parallel batch.
enum DataParallelCall {
    /// Runs the call's checks; without `dataParallel` they throw as usual and the call is one
    /// process's. With it, a failure is held back, every rank's verdict and fingerprint are
    /// exchanged (``BatchExchange/agree(fingerprint:images:error:)``), and every rank throws the
    /// same error or none; the exchange is returned for ``DataParallel/Semantics/globalBatch``.
    static func begin(
        _ dataParallel: DataParallel?, fingerprint: () -> String, images: Int, validate: () throws -> Void
    ) throws -> BatchExchange? {
        guard let dataParallel else {
            try validate()
            return nil
        }
        var failure: (any Error)? = nil
        do { try validate() } catch { failure = error }
        let exchange = BatchExchange(dataParallel.collective)
        try exchange.agree(fingerprint: fingerprint(), images: images, error: failure)
        return dataParallel.semantics == .globalBatch ? exchange : nil
    }

    /// The smallest count of images a shape may have: 0 for a rank of a data-parallel call.
    static func minimumImages(_ dataParallel: DataParallel?) -> Int { dataParallel == nil ? 1 : 0 }

    /// A stand-in address for an empty buffer (a rank with no image): never read or written.
    nonisolated(unsafe) static let placeholder = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)

    static func address<T>(_ buffer: UnsafeBufferPointer<T>) -> UnsafePointer<T> {
        buffer.baseAddress ?? UnsafePointer(placeholder.assumingMemoryBound(to: T.self))
    }

    static func address<T>(_ buffer: UnsafeMutableBufferPointer<T>) -> UnsafeMutablePointer<T> {
        buffer.baseAddress ?? placeholder.assumingMemoryBound(to: T.self)
    }
}

extension ObjectiveWorkspace {
    /// Every buffer a call over `shape` may use, reserved before a data-parallel call's
    /// agreement, so that no rank fails to allocate once the exchanges have begun.
    func reserveForBatch(_ shape: BatchShape, table: Int, threads: Int) throws {
        let items = ObjectiveEngine.WorkItems(shape)
        try reserve(
            pixels: shape.pixelCount, table: table, chunks: items.count, columns: Self.columns(of: shape.pixelMap),
            tile: .reserved(for: shape), workers: threads, images: Swift.max(1, shape.images))
        try reserveChunkSums(items.count)
    }
}
