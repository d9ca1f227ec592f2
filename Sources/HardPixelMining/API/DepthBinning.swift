/// Which ground-truth depths count, and how they are binned into depth ranges.
///
/// A ground-truth depth `D*` is valid when `minimum <= D* <= maximum`; any other
/// value (0, negative, NaN, infinite, too far) means "no depth here" and is not
/// an error. Valid depths fall into `binCount = ceil((maximum - minimum) / binWidth)`
/// bins of width `binWidth`: `bin = min(floor((D* - minimum) / binWidth), binCount - 1)`.
///
/// **Units.** The limits and the width are in the units of your ground-truth depth. The
/// paper's convention (``paper``) is the datasets' 8-bit depth maps, values 1…256 — not
/// metres: given depth in metres, ``paper`` would call every pixel nearer than 1 m invalid
/// and put the rest in one bin. For metric depth use ``metric`` (0.1…10 m, bins of 0.4 m:
/// 25 bins, the paper's resolution over an indoor range) or your own range. The predicted
/// log-depth must be the log of the same units.
public struct DepthBinning: Sendable, Hashable {
    /// `dMin`, the smallest valid depth (the paper: 1). Must be positive.
    public var minimum: Float
    /// `dMax`, the largest valid depth (the paper: 256).
    public var maximum: Float
    /// `d`, the width of a depth bin (the paper: 10).
    public var binWidth: Float

    public init(minimum: Float = 1, maximum: Float = 256, binWidth: Float = 10) {
        self.minimum = minimum
        self.maximum = maximum
        self.binWidth = binWidth
    }

    /// The paper's range 1...256 with bins of width 10 (26 bins): depth as in 8-bit depth maps.
    public static let paper = DepthBinning()

    /// Metric indoor depth: 0.1...10 m with bins of 0.4 m (25 bins).
    public static let metric = DepthBinning(minimum: 0.1, maximum: 10, binWidth: 0.4)

    /// `B = max(1, ceil((maximum - minimum) / binWidth))`.
    ///
    /// Never traps: for a binning that fails validation (a NaN, zero or negative width, a
    /// reversed range) the count is clamped to `1...2^40`.
    public var binCount: Int {
        let q = (Double(maximum) - Double(minimum)) / Double(binWidth)
        guard q > 1 else { return 1 }  // also NaN
        return Int(Swift.min(q.rounded(.up), Double(Self.countLimit)))
    }

    static let countLimit = 1 << 40
    /// The most bins a valid binning may have.
    public static let maximumBinCount = 1 << 20

    /// Whether `depth` is a usable ground-truth depth.
    @inline(__always)
    public func isValid(_ depth: Float) -> Bool { depth >= minimum && depth <= maximum }

    /// The bin of `depth`, or nil when it is not a valid depth (NaN, infinite, out of range)
    /// or the binning itself fails validation (a minimum that is not > 0, a maximum below it, a
    /// width that is not > 0 or makes more than 2^20 bins, anything non-finite). Never traps.
    public func bin(of depth: Float) -> Int? {
        guard (try? validate()) != nil else { return nil }
        return validatedBin(of: depth)
    }

    /// ``bin(of:)`` for a binning already validated (the engine's per-pixel use).
    func validatedBin(of depth: Float) -> Int? {
        guard isValid(depth) else { return nil }
        let q = (Double(depth) - Double(minimum)) / Double(binWidth)
        guard q >= 0 else { return nil }  // also NaN
        return Int(Swift.min(q, Double(binCount - 1)))
    }

    /// The bin of a depth already known valid, `Int((depth − minimum) / binWidth)` given
    /// `offset = depth − minimum`, for a validated binning, computed in Double so that it agrees
    /// with any float64 reference. For a valid depth the quotient is in `0...2^20`, so truncation
    /// is the floor; the caller clamps it to `binCount − 1`.
    ///
    /// Neither `rounded(.down)` (a call to libm's `floor` per pixel in a baseline x86-64 build)
    /// nor `Int(_:)` (its trap check keeps the loop scalar): the quotient is rounded to the
    /// nearest integer by adding 2^52, and one is taken off where that rounded up.
    @inline(__always)
    static func validBin(offset: Double, width: Double) -> Int {
        let q = offset / width
        let magic: Double = 0x1p52
        let shifted = q + magic
        return Int(truncatingIfNeeded: shifted.bitPattern &- magic.bitPattern) &- (shifted - magic > q ? 1 : 0)
    }

    func validate(argument: @autoclosure () -> String = "depthBinning") throws {
        try Check.parameter(Double(minimum), "\(argument()).minimum", "finite and > 0", { $0 > 0 })
        try Check.parameter(Double(maximum), "\(argument()).maximum", "finite and >= minimum", { $0 >= Double(minimum) })
        try Check.parameter(Double(binWidth), "\(argument()).binWidth", "finite and > 0", { $0 > 0 })
        if binCount > Self.maximumBinCount {
            throw HardPixelMiningError.invalidParameter(
                argument: "\(argument()).binWidth", value: Double(binWidth),
                requirement: "wide enough for at most 2^20 bins over \(minimum)...\(maximum)")
        }
    }
}

/// The spatial grid of the Depth-dependent Local Regions.
///
/// Pixel (row `y`, column `x`) of an `H × W` image lies in cell
/// `(floor(y · rows / H), floor(x · columns / W))`.
public enum RegionGrid: Sendable, Hashable {
    /// A fixed `rows × columns` grid (the paper: 8 × 8).
    case cells(rows: Int, columns: Int)
    /// One cell per pixel (`rows = H`, `columns = W`): the paper's `m = w × h` row.
    case perPixel

    /// The paper's 8 × 8 grid.
    public static let paper = RegionGrid.cells(rows: 8, columns: 8)
    /// One cell for the whole image: the paper's `m = 1` row.
    public static let global = RegionGrid.cells(rows: 1, columns: 1)

    /// `(rows, columns)` for an image of `height × width`.
    public func dimensions(height: Int, width: Int) -> (rows: Int, columns: Int) {
        switch self {
        case .cells(let rows, let columns): return (rows, columns)
        case .perPixel: return (height, width)
        }
    }

    /// Checks the grid, and that one band of its regions (grid columns × depth bins, what the
    /// engine keeps per image) is bounded by the image: at most `max(H · W, 65536)` regions.
    func validate(
        binning: DepthBinning, height: Int, width: Int, argument: @autoclosure () -> String = "grid"
    ) throws {
        try validate(argument: argument())
        let columns = dimensions(height: height, width: width).columns
        let bins = binning.binCount
        let limit = Swift.max(saturatingProduct([height, width]), 1 << 16)
        _ = try Check.product(
            columns, bins, limit: limit, argument(),
            "at most max(H · W, 65536) = \(limit) regions per band (grid columns × depth bins)")
    }

    func validate(argument: @autoclosure () -> String = "grid") throws {
        if case .cells(let rows, let columns) = self {
            if rows < 1 || rows > 1 << 16 {
                throw HardPixelMiningError.invalidDimension(argument: "\(argument()).rows", value: rows, requirement: "in 1...65536")
            }
            if columns < 1 || columns > 1 << 16 {
                throw HardPixelMiningError.invalidDimension(argument: "\(argument()).columns", value: columns, requirement: "in 1...65536")
            }
        }
    }
}
