import HardPixelMiningKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Scratch memory for the objective, O(N · H · W), reused across calls so that a
/// steady-state call allocates nothing.
///
/// A workspace grows to the largest shape it has served and never shrinks. It is a
/// reference type and not thread-safe: give each training thread its own. Growing it
/// never traps: an allocation the system refuses throws ``HardPixelMiningError/tooLarge(argument:dimensions:requirement:)``.
public final class ObjectiveWorkspace {
    private(set) var pixelCapacity = 0
    private(set) var tableCapacity = 0
    private(set) var chunkCapacity = 0
    private(set) var tileScratchCapacity = 0
    private(set) var columnCapacity = 0

    // Per pixel (N · H · W each). The statistics pass's four Float outputs on 64-byte lines,
    // so that it can stream them (``Kernels/statistics(logits:labels:plane:range:targets:layout:out:exponentials:scratch:)``).
    private(set) var maximum: UnsafeMutablePointer<Float> = Scratch.empty()
    private(set) var logSum: UnsafeMutablePointer<Float> = Scratch.empty()
    private(set) var loss: UnsafeMutablePointer<Float> = Scratch.empty()
    private(set) var wrong: UnsafeMutablePointer<UInt8> = Scratch.empty()
    private(set) var residual: UnsafeMutablePointer<Double> = Scratch.empty()
    private(set) var hasDepth: UnsafeMutablePointer<UInt8> = Scratch.empty()
    private(set) var segmentationError: UnsafeMutablePointer<Float> = Scratch.empty()
    private(set) var coefficient: UnsafeMutablePointer<Float> = Scratch.empty()
    private(set) var selection: UnsafeMutablePointer<Float> = Scratch.empty()
    private(set) var regionKey: UnsafeMutablePointer<Int> = Scratch.empty()
    private(set) var labelLogProbability: UnsafeMutablePointer<Float> = Scratch.empty()
    // Per pixel, with a modulated loss (focal, PolyLoss-1): its loss, factor, label factor and
    // the gradient's label coefficient.
    private(set) var modulatedLoss: UnsafeMutablePointer<Float> = Scratch.empty()
    private(set) var modulator: UnsafeMutablePointer<Float> = Scratch.empty()
    private(set) var labelFactor: UnsafeMutablePointer<Float> = Scratch.empty()
    private(set) var labelCoefficient: UnsafeMutablePointer<Float> = Scratch.empty()
    // Per image: one band of the region table (columns × bins, in `RegionTable.copies` copies):
    // each region's pixels and errors packed, then its quotient.
    private(set) var regionCount: UnsafeMutablePointer<UInt64> = Scratch.empty()
    private(set) var regionErrors: UnsafeMutablePointer<Int32> = Scratch.empty()
    // Per worker thread: the kernels' tile (C × T floats) and its per-pixel state.
    private(set) var tileScratch: UnsafeMutablePointer<Float> = Scratch.empty()
    // Per image column: its grid column.
    private(set) var columnCell: UnsafeMutablePointer<Int> = Scratch.empty()
    // Per work item of the statistics pass: whether its logits were all finite.
    private(set) var chunkFinite: UnsafeMutablePointer<Bool> = Scratch.empty()
    // Per work item of the statistics pass with depth: its share of the image's depth sums.
    private(set) var chunkDepth: UnsafeMutablePointer<DepthPass.ChunkSums> = Scratch.empty()
    // Per image: the radix select's histogram.
    private(set) var histograms: UnsafeMutablePointer<Int> = Scratch.empty()
    private(set) var histogramImages = 0
    // Per work item of the one-pass cross-entropy: its Σ w · ce.
    private(set) var chunkSums: UnsafeMutablePointer<Double> = Scratch.empty()
    private(set) var chunkSumCapacity = 0
    // The per-image results, kept so that their storage is reused.
    var imageSums: [ImageSums] = []

    /// An empty workspace; it grows on first use.
    public init() {}

    /// A workspace already large enough for `shape` with the paper's 8 × 8 grid and two threads.
    ///
    /// - Throws: ``HardPixelMiningError`` for an invalid shape, or `tooLarge` when the system
    ///   cannot provide the memory.
    public convenience init(reservingFor shape: BatchShape) throws {
        try shape.validate()
        self.init()
        try reserve(
            pixels: shape.pixelCount, table: shape.images * 8 * DepthBinning.paper.binCount,
            chunks: shape.images * ((shape.pixelsPerImage + ObjectiveEngine.chunkPixels - 1) / ObjectiveEngine.chunkPixels),
            columns: shape.width, tile: TileLayout(shape), workers: 2, images: shape.images)
    }

    deinit {
        Scratch.release(maximum); Scratch.release(logSum); Scratch.release(loss); Scratch.release(wrong)
        Scratch.release(residual); Scratch.release(hasDepth); Scratch.release(segmentationError)
        Scratch.release(coefficient); Scratch.release(selection); Scratch.release(regionKey)
        Scratch.release(labelLogProbability); Scratch.release(modulatedLoss); Scratch.release(modulator)
        Scratch.release(labelFactor); Scratch.release(labelCoefficient); Scratch.release(regionCount); Scratch.release(regionErrors)
        Scratch.release(tileScratch); Scratch.release(chunkSums); Scratch.release(histograms); Scratch.release(columnCell); Scratch.release(chunkFinite)
        Scratch.release(chunkDepth)
    }

    /// Grows every buffer to at least the given counts. Throws (and keeps the old buffers)
    /// when the system refuses an allocation.
    func reserve(
        pixels: Int, table: Int = 0, chunks: Int = 0, columns: Int = 0, tile: TileLayout? = nil, workers: Int = 1,
        images: Int = 0
    ) throws {
        if images > histogramImages {
            try Scratch.grow(&histograms, to: images * Selection.histogramCount)
            histogramImages = images
        }
        let tileFloats = workers * (tile?.scratchFloats ?? 0)
        if tileFloats > tileScratchCapacity {
            try Scratch.grow(&tileScratch, to: tileFloats)
            tileScratchCapacity = tileFloats
        }
        if columns > columnCapacity {
            try Scratch.grow(&columnCell, to: columns)
            columnCapacity = columns
        }
        if pixels > pixelCapacity {
            try Scratch.grow(&maximum, to: pixels, lineAligned: true)
            try Scratch.grow(&logSum, to: pixels, lineAligned: true)
            try Scratch.grow(&loss, to: pixels, lineAligned: true)
            try Scratch.grow(&wrong, to: pixels)
            try Scratch.grow(&residual, to: pixels)
            try Scratch.grow(&hasDepth, to: pixels)
            try Scratch.grow(&segmentationError, to: pixels)
            try Scratch.grow(&coefficient, to: pixels)
            try Scratch.grow(&selection, to: pixels)
            try Scratch.grow(&regionKey, to: pixels)
            try Scratch.grow(&labelLogProbability, to: pixels, lineAligned: true)
            try Scratch.grow(&modulatedLoss, to: pixels)
            try Scratch.grow(&modulator, to: pixels)
            try Scratch.grow(&labelFactor, to: pixels)
            try Scratch.grow(&labelCoefficient, to: pixels)
            pixelCapacity = pixels
        }
        if table > tableCapacity {
            try Scratch.grow(&regionCount, to: table)
            try Scratch.grow(&regionErrors, to: table)
            tableCapacity = table
        }
        if chunks > chunkCapacity {
            try Scratch.grow(&chunkFinite, to: chunks)
            try Scratch.grow(&chunkDepth, to: chunks)
            chunkCapacity = chunks
        }
    }

    /// The image columns a pass over `shape` reserves: its width, or none for a batch without
    /// pixels (a data-parallel rank without images, whose width may be any the shape allows the
    /// other ranks' images).
    static func columns(of shape: PixelMapShape) -> Int { shape.pixelCount > 0 ? shape.width : 0 }

    /// Writes each of ``columns(of:)``'s image columns its column of the DSE grid,
    /// `x · gridColumns / width`.
    func mapColumns(of shape: PixelMapShape, toGridColumns gridColumns: Int) {
        for x in 0..<Self.columns(of: shape) { columnCell[x] = x * gridColumns / shape.width }
    }

    /// Image `k`'s histogram for ``Selection`` (reserved by ``reserve(pixels:table:chunks:columns:tile:workers:images:)``).
    func histogram(image k: Int) -> UnsafeMutablePointer<Int> { histograms + k * Selection.histogramCount }

    func reserveChunkSums(_ chunks: Int) throws {
        if chunks > chunkSumCapacity {
            try Scratch.grow(&chunkSums, to: chunks)
            chunkSumCapacity = chunks
        }
    }

    var statistics: PixelStatistics {
        PixelStatistics(
            maximum: maximum, logSum: logSum, loss: loss, wrong: wrong, labelLogProbability: labelLogProbability)
    }
}

/// Uninitialised scratch of trivial types from `malloc`, so that an allocation the system
/// refuses becomes a typed error instead of a trap.
enum Scratch {
    static func empty<T>() -> UnsafeMutablePointer<T> {
        // A one-element allocation never fails in practice; it keeps every pointer non-nil.
        UnsafeMutableRawPointer(malloc(MemoryLayout<T>.stride)!).bindMemory(to: T.self, capacity: 1)
    }

    /// `count` elements, on a 64-byte line with `lineAligned` (else as `malloc` gives them).
    static func allocate<T>(_ type: T.Type, count: Int, lineAligned: Bool = false) throws -> UnsafeMutablePointer<T> {
        let (bytes, overflow) = Swift.max(count, 1).multipliedReportingOverflow(by: MemoryLayout<T>.stride)
        var raw: UnsafeMutableRawPointer? = nil
        if !overflow && lineAligned {
            if posix_memalign(&raw, 64, bytes) != 0 { raw = nil }
        } else if !overflow {
            raw = malloc(bytes)
        }
        guard let raw else {
            throw HardPixelMiningError.tooLarge(
                argument: "workspace", dimensions: [count, MemoryLayout<T>.stride],
                requirement: "an allocation the system can provide")
        }
        return raw.bindMemory(to: T.self, capacity: Swift.max(count, 1))
    }

    static func grow<T>(_ p: inout UnsafeMutablePointer<T>, to count: Int, lineAligned: Bool = false) throws {
        let new = try allocate(T.self, count: count, lineAligned: lineAligned)
        release(p)
        p = new
    }

    static func release<T>(_ p: UnsafeMutablePointer<T>) { free(p) }
}
