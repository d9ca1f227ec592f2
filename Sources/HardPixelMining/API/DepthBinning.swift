/// Which ground-truth depths count, and how they are binned into depth ranges.
///
/// A ground-truth depth `D*` is valid when `minimum <= D* <= maximum`; any other
/// value (0, negative, NaN, infinite, too far) means "no depth here" and is not
/// an error. Valid depths fall into `binCount = ceil((maximum - minimum) / binWidth)`
/// bins of width `binWidth`: `bin = min(floor((D* - minimum) / binWidth), binCount - 1)`.
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

    /// The paper's range 1...256 with bins of width 10 (26 bins).
    public static let paper = DepthBinning()

    /// `B = max(1, ceil((maximum - minimum) / binWidth))`.
    public var binCount: Int {
        let b = ((Double(maximum) - Double(minimum)) / Double(binWidth)).rounded(.up)
        return Swift.max(1, Int(b))
    }

    /// Whether `depth` is a usable ground-truth depth.
    @inline(__always)
    public func isValid(_ depth: Float) -> Bool { depth >= minimum && depth <= maximum }

    /// The bin of a valid depth, computed in Double so that it agrees with any float64 reference.
    /// (For a valid depth the quotient is non-negative, so truncation is the floor; `rounded(.down)`
    /// would call libm's `floor` per pixel in a baseline x86-64 build.)
    @inline(__always)
    public func bin(of depth: Float) -> Int {
        let b = Int((Double(depth) - Double(minimum)) / Double(binWidth))
        return Swift.min(b, binCount - 1)
    }

    func validate(argument: @autoclosure () -> String = "depthBinning") throws {
        try Check.parameter(Double(minimum), "\(argument()).minimum", "finite and > 0", { $0 > 0 })
        try Check.parameter(Double(maximum), "\(argument()).maximum", "finite and >= minimum", { $0 >= Double(minimum) })
        try Check.parameter(Double(binWidth), "\(argument()).binWidth", "finite and > 0", { $0 > 0 })
        if binCount > 1 << 20 {
            throw HardPixelMiningError.invalidParameter(
                argument: "\(argument()).binWidth", value: Double(binWidth),
                requirement: "wide enough for at most 2^20 bins")
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
