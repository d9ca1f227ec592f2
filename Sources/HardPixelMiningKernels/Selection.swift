/// Order statistics in O(n) for self-paced pacing.
package enum Selection {
    /// The lower median (element `(n - 1) / 2` of the sorted order, as `torch.median`)
    /// and the maximum of `values`, which must be non-empty. Reorders `values`.
    ///
    /// ``smallest(_:_:)`` is a radix select: O(n) in every case.
    package static func lowerMedianAndMaximum(
        _ values: UnsafeMutableBufferPointer<Float>, histogram: UnsafeMutablePointer<Int>
    ) -> (median: Float, maximum: Float) {
        precondition(!values.isEmpty)
        var maximum = values[0]
        for v in values where v > maximum { maximum = v }
        return (smallest(values, (values.count - 1) / 2, histogram: histogram), maximum)
    }

    /// Ints of scratch ``smallest(_:_:histogram:)`` needs: four histograms of 2^11 buckets.
    package static let histogramCount = 4 * 2048

    /// The element of rank `k` (0-based) in ascending order of non-empty `values`, NaN-free.
    ///
    /// Radix select on the floats' order-preserving keys (the bit pattern, with the sign bit
    /// flipped for positives and every bit for negatives): three passes that count 11, 11 and
    /// 10 bits of the keys among the candidates left, each a branch-free histogram in the
    /// caller's `histogram` (``histogramCount`` Ints). O(n), no data movement, no allocation;
    /// `values` is left as it was. Each pass counts into four histograms in turn, summed at the
    /// end: weights bunched in a few buckets (wZ in [0, 1], say) would otherwise make every
    /// increment wait for the previous one's store.
    ///
    /// With `combine`, `values` are one part of a set spread over several processes and `k` is
    /// a rank in the whole set: after each pass `combine` replaces the part's histogram (its
    /// first 2^width counts) with the whole set's, so that every part picks the same digits
    /// and returns the whole set's element of rank `k` (a part may be empty).
    package static func smallest(
        _ values: UnsafeMutableBufferPointer<Float>, _ k: Int, histogram: UnsafeMutablePointer<Int>,
        combine: ((UnsafeMutableBufferPointer<Int>) throws -> Void)? = nil
    ) rethrows -> Float {
        precondition(k >= 0 && (combine != nil || k < values.count))
        @inline(__always) func key(_ v: Float) -> UInt32 {
            let bits = v.bitPattern
            return bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
        }
        do {
            var prefix: UInt32 = 0  // the key bits fixed so far
            var rank = k
            for (shift, width) in [(21, 11), (10, 11), (0, 10)] as [(UInt32, UInt32)] {
                let buckets = 1 << Int(width)
                histogram.update(repeating: 0, count: 4 * buckets)
                let fixedMask: UInt32 = shift + width >= 32 ? 0 : ~((1 << (shift + width)) - 1)
                let digitMask = UInt32(buckets - 1)
                // Candidates agree with the prefix on the bits fixed so far.
                @inline(__always) func count(_ v: Float, into h: UnsafeMutablePointer<Int>) {
                    let kv = key(v)
                    h[Int((kv >> shift) & digitMask)] &+= (kv & fixedMask) == prefix ? 1 : 0
                }
                let n = values.count
                var j = 0
                while j + 4 <= n {
                    count(values[j], into: histogram)
                    count(values[j + 1], into: histogram + buckets)
                    count(values[j + 2], into: histogram + 2 * buckets)
                    count(values[j + 3], into: histogram + 3 * buckets)
                    j += 4
                }
                while j < n {
                    count(values[j], into: histogram)
                    j += 1
                }
                for b in 0..<buckets {
                    histogram[b] &+= histogram[buckets + b] &+ histogram[2 * buckets + b] &+ histogram[3 * buckets + b]
                }
                try combine?(UnsafeMutableBufferPointer(start: histogram, count: buckets))
                var digit = 0
                while digit < buckets - 1 && rank >= histogram[digit] {
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
