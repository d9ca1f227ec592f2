/// Order statistics in O(n) for self-paced pacing.
enum Selection {
    /// The lower median (element `(n - 1) / 2` of the sorted order, as `torch.median`)
    /// and the maximum of `values`, which must be non-empty. Reorders `values`.
    ///
    /// ``smallest(_:_:)`` is introselect: quickselect with a median-of-three pivot and three-way
    /// partitioning (weight maps have many equal values), falling back to sorting
    /// the remaining range after 2·log2(n) rounds, so the worst case is O(n log n).
    static func lowerMedianAndMaximum(_ values: UnsafeMutableBufferPointer<Float>) -> (median: Float, maximum: Float) {
        precondition(!values.isEmpty)
        var maximum = values[0]
        for v in values where v > maximum { maximum = v }
        return (smallest(values, (values.count - 1) / 2), maximum)
    }

    /// The element of rank `k` (0-based) in ascending order of non-empty `values`. Reorders `values`.
    static func smallest(_ values: UnsafeMutableBufferPointer<Float>, _ k: Int) -> Float {
        precondition(k >= 0 && k < values.count)
        var lo = 0
        var hi = values.count  // the k-th element lies in lo..<hi
        var budget = 2 * (Int.bitWidth - values.count.leadingZeroBitCount) + 4
        while hi - lo > 16 {
            budget -= 1
            if budget == 0 {
                values[lo..<hi].sort()
                return values[k]
            }
            let a = values[lo], b = values[lo + (hi - lo) / 2], c = values[hi - 1]
            let pivot = max(min(a, b), min(max(a, b), c))
            // Dutch national flag: [lo, lt) < pivot, [lt, i) == pivot, (gt, hi) > pivot.
            var lt = lo, i = lo, gt = hi - 1
            while i <= gt {
                let v = values[i]
                if v < pivot {
                    values.swapAt(i, lt); lt += 1; i += 1
                } else if v > pivot {
                    values.swapAt(i, gt); gt -= 1
                } else {
                    i += 1
                }
            }
            if k < lt {
                hi = lt
            } else if k > gt {
                lo = gt + 1
            } else {
                return pivot
            }
        }
        values[lo..<hi].sort()
        return values[k]
    }
}
