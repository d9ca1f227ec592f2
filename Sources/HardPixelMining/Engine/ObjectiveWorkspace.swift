/// Scratch memory for the objective, O(N · H · W), reused across calls so that a
/// steady-state call allocates nothing.
///
/// A workspace grows to the largest shape it has served and never shrinks. It is a
/// reference type and not thread-safe: give each training thread its own.
public final class ObjectiveWorkspace {
    private(set) var pixelCapacity = 0
    private(set) var tableCapacity = 0
    private(set) var chunkCapacity = 0

    // Per pixel (N · H · W each).
    private(set) var maximum = UnsafeMutablePointer<Float>.allocate(capacity: 0)
    private(set) var logSum = UnsafeMutablePointer<Float>.allocate(capacity: 0)
    private(set) var loss = UnsafeMutablePointer<Float>.allocate(capacity: 0)
    private(set) var wrong = UnsafeMutablePointer<UInt8>.allocate(capacity: 0)
    private(set) var residual = UnsafeMutablePointer<Float>.allocate(capacity: 0)
    private(set) var hasDepth = UnsafeMutablePointer<UInt8>.allocate(capacity: 0)
    private(set) var segmentationError = UnsafeMutablePointer<Float>.allocate(capacity: 0)
    private(set) var coefficient = UnsafeMutablePointer<Float>.allocate(capacity: 0)
    private(set) var selection = UnsafeMutablePointer<Float>.allocate(capacity: 0)
    private(set) var regionKey = UnsafeMutablePointer<Int32>.allocate(capacity: 0)
    private(set) var labelLogProbability = UnsafeMutablePointer<Float>.allocate(capacity: 0)
    // Per image: one band of the region table (columns × bins), counts and errors.
    private(set) var regionCount = UnsafeMutablePointer<Int32>.allocate(capacity: 0)
    private(set) var regionErrors = UnsafeMutablePointer<Int32>.allocate(capacity: 0)
    // Per worker thread: the kernels' tile state.
    private(set) var tileState = UnsafeMutablePointer<FloatVector>.allocate(capacity: 0)
    private(set) var tileStateCapacity = 0
    // Per image column: its grid column.
    private(set) var columnCell = UnsafeMutablePointer<Int32>.allocate(capacity: 0)
    private(set) var columnCapacity = 0
    // Per work item of the statistics pass: whether its logits were all finite.
    private(set) var chunkFinite = UnsafeMutablePointer<Bool>.allocate(capacity: 0)
    // The per-image results, kept so that their storage is reused.
    var imageSums: [ImageSums] = []

    /// An empty workspace; it grows on first use.
    public init() {}

    /// A workspace already large enough for `shape` with the paper's 8 × 8 grid.
    public convenience init(reservingFor shape: BatchShape) {
        self.init()
        reserve(
            pixels: shape.pixelCount, table: shape.images * 8 * DepthBinning.paper.binCount,
            chunks: shape.images * ((shape.pixelsPerImage + ObjectiveEngine.chunkPixels - 1) / ObjectiveEngine.chunkPixels),
            columns: shape.width, workers: 2)
    }

    deinit {
        for p in [maximum, logSum, loss, residual, segmentationError, coefficient, selection] { p.deallocate() }
        wrong.deallocate()
        hasDepth.deallocate()
        regionKey.deallocate()
        labelLogProbability.deallocate()
        regionCount.deallocate()
        regionErrors.deallocate()
        chunkFinite.deallocate()
        columnCell.deallocate()
        tileState.deallocate()
    }

    private static func grow<T>(_ p: inout UnsafeMutablePointer<T>, to capacity: Int) {
        p.deallocate()
        p = .allocate(capacity: capacity)
    }

    func reserve(pixels: Int, table: Int, chunks: Int, columns: Int = 0, workers: Int = 1) {
        if workers * Kernels.tileStateVectors > tileStateCapacity {
            Self.grow(&tileState, to: workers * Kernels.tileStateVectors)
            tileStateCapacity = workers * Kernels.tileStateVectors
        }
        if columns > columnCapacity {
            Self.grow(&columnCell, to: columns)
            columnCapacity = columns
        }
        if pixels > pixelCapacity {
            Self.grow(&maximum, to: pixels)
            Self.grow(&logSum, to: pixels)
            Self.grow(&loss, to: pixels)
            Self.grow(&wrong, to: pixels)
            Self.grow(&residual, to: pixels)
            Self.grow(&hasDepth, to: pixels)
            Self.grow(&segmentationError, to: pixels)
            Self.grow(&coefficient, to: pixels)
            Self.grow(&selection, to: pixels)
            Self.grow(&regionKey, to: pixels)
            Self.grow(&labelLogProbability, to: pixels)
            pixelCapacity = pixels
        }
        if table > tableCapacity {
            Self.grow(&regionCount, to: table)
            Self.grow(&regionErrors, to: table)
            tableCapacity = table
        }
        if chunks > chunkCapacity {
            Self.grow(&chunkFinite, to: chunks)
            chunkCapacity = chunks
        }
    }

    var statistics: PixelStatistics {
        PixelStatistics(
            maximum: maximum, logSum: logSum, loss: loss, wrong: wrong, labelLogProbability: labelLogProbability)
    }
}
