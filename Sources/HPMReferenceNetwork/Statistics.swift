/// Means and two-sided 95% confidence intervals from Student's t distribution, for the
/// ablation's seeds (independent runs) and paired differences (the same seeds in two rows).
public struct Interval: Sendable, Hashable {
    public var mean: Double
    /// The half-width: the interval is `mean ± halfWidth`.
    public var halfWidth: Double
    public var count: Int

    public var low: Double { mean - halfWidth }
    public var high: Double { mean + halfWidth }
    /// Whether the interval excludes 0 (for a paired difference: significant at the 5% level).
    public var excludesZero: Bool { count > 1 && (low > 0 || high < 0) }

    /// The t interval of `values`: `mean ± t(0.975, n − 1) · s / √n`; half-width 0 for one value.
    public init(_ values: [Double]) {
        count = values.count
        mean = values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
        guard values.count > 1 else {
            halfWidth = 0
            return
        }
        let m = mean
        let variance = values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count - 1)
        halfWidth = Self.tQuantile(degreesOfFreedom: values.count - 1) * (variance / Double(values.count)).squareRoot()
    }

    /// t(0.975, df), the two-sided 95% quantile of Student's t distribution (table values to
    /// three decimals for df 1…30; 1.96, the normal quantile, beyond).
    public static func tQuantile(degreesOfFreedom df: Int) -> Double {
        let table: [Double] = [
            12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
            2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
            2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
        ]
        return df >= 1 && df <= 30 ? table[df - 1] : 1.96
    }
}
