/// Order statistics in O(n) for self-paced pacing.
enum Selection {
    /// The lower median (element `(n - 1) / 2` of the sorted order, as `torch.median`)
    /// and the maximum of `values`, which must be non-empty. Reorders `values`.
    ///
    /// ``smallest(_:_:)`` is a radix select: O(n) in every case.
    static func lowerMedianAndMaximum(
        _ values: UnsafeMutableBufferPointer<Float>, histogram: UnsafeMutablePointer<Int>
    ) -> (median: Float, maximum: Float) {
        precondition(!values.isEmpty)
        var maximum = values[0]
        for v in values where v > maximum { maximum = v }
        return (smallest(values, (values.count - 1) / 2, histogram: histogram), maximum)
    }

    /// Ints of scratch ``smallest(_:_:histogram:)`` needs.
    static let histogramCount = 2048

    /// The element of rank `k` (0-based) in ascending order of non-empty `values`, NaN-free.
    ///
    /// Radix select on the floats' order-preserving keys (the bit pattern, with the sign bit
    /// flipped for positives and every bit for negatives): three passes that count 11, 11 and
    /// 10 bits of the keys among the candidates left, each a branch-free histogram in the
    /// caller's `histogram` (``histogramCount`` Ints). O(n), no data movement, no allocation;
    /// `values` is left as it was.
    static func smallest(_ values: UnsafeMutableBufferPointer<Float>, _ k: Int, histogram: UnsafeMutablePointer<Int>) -> Float {
        precondition(k >= 0 && k < values.count)
        @inline(__always) func key(_ v: Float) -> UInt32 {
            let bits = v.bitPattern
            return bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
        }
        do {
            var prefix: UInt32 = 0  // the key bits fixed so far
            var rank = k
            for (shift, width) in [(21, 11), (10, 11), (0, 10)] as [(UInt32, UInt32)] {
                let buckets = 1 << Int(width)
                histogram.update(repeating: 0, count: buckets)
                let fixedMask: UInt32 = shift + width >= 32 ? 0 : ~((1 << (shift + width)) - 1)
                let digitMask = UInt32(buckets - 1)
                for v in values {
                    let kv = key(v)
                    // Candidates agree with the prefix on the bits fixed so far.
                    let candidate = (kv & fixedMask) == prefix ? 1 : 0
                    histogram[Int((kv >> shift) & digitMask)] &+= candidate
                }
                var digit = 0
                while rank >= histogram[digit] {
                    rank -= histogram[digit]
                    digit += 1
                }
                prefix |= UInt32(digit) << shift
            }
            let bits = prefix & 0x8000_0000 != 0 ? prefix & 0x7FFF_FFFF : ~prefix
            return Float(bitPattern: bits)
        }
    }
}
