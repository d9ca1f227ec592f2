/// Order statistics in O(n) for self-paced pacing.
package enum Selection {
    /// The lower median (element `(n - 1) / 2` of the sorted order, as `torch.median`) and the
    /// maximum of the n values `source.value(i)` of those `i` in `0..<count` that
    /// `source.counts(i)`, or nil if none does; values finite.
    ///
    /// The radix select of ``smallest(_:_:histogram:combine:)`` (the same digits, four
    /// interleaved histograms) on their compaction, in fewer passes: the compaction into
    /// `scratch` (`count` Floats) also takes the maximum and counts the first digit; the second
    /// pass counts the second digit among the candidates left and moves them to the front, so
    /// that the third reads only those. Branch-free: which pixels count is at random. O(count).
    /// Generic, specialised here for each entry point's source (closures, or a generic across
    /// modules, stay indirect calls per pixel).
    static func lowerMedianAndMaximum<Source: SelectionSource>(
        count: Int, of source: Source, scratch: UnsafeMutablePointer<Float>, histogram: UnsafeMutablePointer<Int>
    ) -> (median: Float, maximum: Float)? {
        @inline(__always) func digit(_ buckets: Int, _ rank: inout Int) -> UInt32 {
            Selection.digit(histogram, buckets: buckets, copies: 4, rank: &rank)
        }
        let wide = 2048
        histogram.update(repeating: 0, count: 4 * wide)
        // Pass 1: compaction, maximum, first digit (key bits 21...31).
        var m = 0
        // Four maxima, one per histogram copy (pixel i into copy i mod 4), so that consecutive
        // pixels do not wait on each other's compare; the maximum is the same in any order.
        var maxima = (-Float.infinity, -Float.infinity, -Float.infinity, -Float.infinity)
        @inline(__always) func step(_ i: Int, _ copy: Int, _ maximum: inout Float) {
            let v = source.value(i), c = source.counts(i)
            scratch[m] = v
            let one = c ? 1 : 0
            m &+= one
            maximum = c && v > maximum ? v : maximum
            histogram[copy &* wide &+ Int(truncatingIfNeeded: key(v) >> 21)] &+= one
        }
        var i = 0
        while i &+ 4 <= count {
            step(i, 0, &maxima.0)
            step(i &+ 1, 1, &maxima.1)
            step(i &+ 2, 2, &maxima.2)
            step(i &+ 3, 3, &maxima.3)
            i &+= 4
        }
        while i < count {
            step(i, i & 3, &maxima.0)
            i &+= 1
        }
        guard m > 0 else { return nil }
        let maximum = Swift.max(Swift.max(maxima.0, maxima.1), Swift.max(maxima.2, maxima.3))
        var rank = (m - 1) / 2
        let first = digit(wide, &rank)
        // Pass 2: the candidates (first digit) moved to the front, their second digit (bits 10...20).
        histogram.update(repeating: 0, count: 4 * wide)
        var n = 0, j = 0
        while j < m {
            let v = scratch[j], k = key(v)
            let one = k >> 21 == first ? 1 : 0
            scratch[n] = v
            n &+= one
            histogram[(j & 3) &* wide &+ Int(truncatingIfNeeded: (k >> 10) & 0x7FF)] &+= one
            j &+= 1
        }
        let second = digit(wide, &rank)
        // Pass 3: among those, the candidates of the second digit; their last digit (bits 0...9).
        let narrow = 1024
        histogram.update(repeating: 0, count: 4 * narrow)
        let prefix = first << 11 | second
        j = 0
        while j < n {
            let k = key(scratch[j])
            histogram[(j & 3) &* narrow &+ Int(truncatingIfNeeded: k & 0x3FF)] &+= k >> 10 == prefix ? 1 : 0
            j &+= 1
        }
        let last = digit(narrow, &rank)
        return (value(ofKey: prefix << 10 | last), maximum)
    }

    /// The lower median and the maximum of a multiset given as pairs, `pairs[i]` holding a
    /// value's Float bits in its high 32 bits and its multiplicity (> 0) in its low 32: exactly
    /// ``lowerMedianAndMaximum(count:of:scratch:histogram:)`` of the values repeated, the same
    /// radix select with each value counted by its multiplicity. Reorders `pairs`; nil if
    /// `count` is 0. O(count), for wZ's pace over a region table (each region's quotient
    /// repeated by its pixels).
    package static func lowerMedianAndMaximum(
        pairs: UnsafeMutablePointer<UInt64>, count: Int, histogram: UnsafeMutablePointer<Int>
    ) -> (median: Float, maximum: Float)? {
        guard count > 0 else { return nil }
        @inline(__always) func pair(_ i: Int) -> (key: UInt32, n: Int) {
            (key(Float(bitPattern: UInt32(truncatingIfNeeded: pairs[i] >> 32))), Int(truncatingIfNeeded: pairs[i] & 0xFFFF_FFFF))
        }
        let wide = 2048, narrow = 1024
        histogram.update(repeating: 0, count: wide)
        var m = 0, maximum = -Float.infinity
        for i in 0..<count {
            let (k, n) = pair(i)
            m += n
            let v = Float(bitPattern: UInt32(truncatingIfNeeded: pairs[i] >> 32))
            maximum = v > maximum ? v : maximum
            histogram[Int(k >> 21)] += n
        }
        var rank = (m - 1) / 2
        let first = digit(histogram, buckets: wide, copies: 1, rank: &rank)
        histogram.update(repeating: 0, count: wide)
        var candidates = 0
        for i in 0..<count {
            let (k, n) = pair(i)
            guard k >> 21 == first else { continue }
            pairs[candidates] = pairs[i]
            candidates += 1
            histogram[Int((k >> 10) & 0x7FF)] += n
        }
        let second = digit(histogram, buckets: wide, copies: 1, rank: &rank)
        histogram.update(repeating: 0, count: narrow)
        let prefix = first << 11 | second
        for i in 0..<candidates {
            let (k, n) = pair(i)
            if k >> 10 == prefix { histogram[Int(k & 0x3FF)] += n }
        }
        let last = digit(histogram, buckets: narrow, copies: 1, rank: &rank)
        return (value(ofKey: prefix << 10 | last), maximum)
    }

    /// A Float's order-preserving key: its bit pattern with the sign bit flipped for positives
    /// and every bit for negatives.
    @inline(__always)
    static func key(_ v: Float) -> UInt32 {
        let bits = v.bitPattern
        return bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
    }

    /// The Float whose ``key(_:)`` is `key`.
    @inline(__always)
    static func value(ofKey key: UInt32) -> Float {
        Float(bitPattern: key & 0x8000_0000 != 0 ? key & 0x7FFF_FFFF : ~key)
    }

    /// The `copies` interleaved histograms of `buckets` summed into the first; then the digit
    /// of rank `rank` in it (``digit(_:buckets:rank:)``).
    @inline(__always)
    static func digit(_ histogram: UnsafeMutablePointer<Int>, buckets: Int, copies: Int, rank: inout Int) -> UInt32 {
        sumCopies(histogram, buckets: buckets, copies: copies)
        return digit(histogram, buckets: buckets, rank: &rank)
    }

    /// The `copies` interleaved histograms of `buckets` summed into the first.
    @inline(__always)
    static func sumCopies(_ histogram: UnsafeMutablePointer<Int>, buckets: Int, copies: Int) {
        var d = 0
        while d < buckets {
            var copy = 1
            while copy < copies {
                histogram[d] &+= histogram[copy &* buckets &+ d]
                copy &+= 1
            }
            d &+= 1
        }
    }

    /// The digit of rank `rank` in a histogram of `buckets`, `rank` made relative to that
    /// digit's bucket.
    @inline(__always)
    static func digit(_ histogram: UnsafeMutablePointer<Int>, buckets: Int, rank: inout Int) -> UInt32 {
        var d = 0
        while d < buckets - 1 && rank >= histogram[d] {
            rank -= histogram[d]
            d &+= 1
        }
        return UInt32(d)
    }

    /// Ints of scratch a select needs: four histograms of 2^11 buckets.
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
                sumCopies(histogram, buckets: buckets, copies: 4)
                try combine?(UnsafeMutableBufferPointer(start: histogram, count: buckets))
                prefix |= digit(histogram, buckets: buckets, rank: &rank) << shift
            }
            return value(ofKey: prefix)
        }
    }
}

/// The values a selection reads, and which of them count (``Selection/lowerMedianAndMaximum(count:of:scratch:histogram:)``).
protocol SelectionSource {
    /// Whether value `i` is one of the set.
    func counts(_ i: Int) -> Bool
    /// Value `i` (read whether or not it counts: finite where it counts).
    func value(_ i: Int) -> Float
}

/// wZ on the eligible pixels: a label other than `ignore` and valid depth.
struct EligibleFloats: SelectionSource {
    let values: UnsafePointer<Float>, labels: UnsafePointer<Int32>, hasDepth: UnsafePointer<UInt8>, ignore: Int32
    @inline(__always) func counts(_ i: Int) -> Bool { (labels[i] != ignore ? 1 : 0) & (hasDepth[i] != 0 ? 1 : 0) != 0 }
    @inline(__always) func value(_ i: Int) -> Float { values[i] }
}

extension Selection {
    /// Buckets of ``lowerMedianAndMaximum(count:residualMagnitudes:labels:hasDepth:ignoreLabel:scratch:histogram:)``'s
    /// histogram: 0 for the pixels that do not count, then 2,047 over `[0, maximum]`.
    static let magnitudeBuckets = 2048

    /// wR's lower median and maximum: those of `Float(|R_i|)` over the eligible pixels (a label
    /// other than `ignoreLabel` and valid depth), or nil if none is; the same two values as
    /// ``lowerMedianAndMaximum(count:of:scratch:histogram:)`` would select (the exact order
    /// statistic, element `(n − 1) / 2`), in passes that are vector code but for one increment
    /// per pixel (the radix select of the compacted values took 1.3× its time here, native).
    ///
    /// 1. Eight pixels at a time: wR where eligible, −1 elsewhere, into `scratch` (`count`
    ///    Floats), with the eligible pixels' number and maximum.
    /// 2. A histogram of the values' buckets, `round(wR · 2046 / maximum) + 1` (0 for −1), in
    ///    four interleaved copies: rounding is monotone, so the bucket holding the median is the
    ///    one where the counts pass its rank.
    /// 3. That bucket's values moved to the front of `scratch` (eight buckets compared at a
    ///    time; few vectors hold one), and the element of the rank left among them by
    ///    ``smallest(_:_:histogram:combine:)``.
    ///
    /// Every product `wR · scale` is finite and at most 2046.5 (`scale ≤ 2046 / maximum`), so
    /// the buckets are 1 … 2047, whatever the finite wR. O(count).
    package static func lowerMedianAndMaximum(
        count: Int, residualMagnitudes residual: UnsafePointer<Double>, labels: UnsafePointer<Int32>,
        hasDepth: UnsafePointer<UInt8>, ignoreLabel: Int32, scratch: UnsafeMutablePointer<Float>,
        histogram: UnsafeMutablePointer<Int>
    ) -> (median: Float, maximum: Float)? {
        typealias F = SIMD8<Float>
        typealias I = SIMD8<Int32>
        @inline(__always) func magnitude(_ r: Double) -> Float { Float(Double(bitPattern: r.bitPattern & 0x7FFF_FFFF_FFFF_FFFF)) }
        // Pass 1.
        let ignore = I(repeating: ignoreLabel), none = I()
        var counted = I(), maxima = F(repeating: -1)
        var i = 0
        while i &+ 8 <= count {
            let bits = UnsafeRawPointer(residual + i).loadUnaligned(as: SIMD8<UInt64>.self) & SIMD8(repeating: 0x7FFF_FFFF_FFFF_FFFF)
            let w = F(narrowing: unsafeBitCast(bits, to: SIMD8<Double>.self))
            let labelled = I(allOnesWhere: UnsafeRawPointer(labels + i).loadUnaligned(as: I.self) .!= ignore)
            let valid = I(allOnesWhere: I(flags: UnsafeRawPointer(hasDepth + i).loadUnaligned(as: SIMD8<UInt8>.self)) .!= none)
            let eligible = labelled & valid
            let v = F(repeating: -1).replacing(with: w, where: eligible .!= none)
            UnsafeMutableRawPointer(scratch + i).storeBytes(of: v, as: F.self)
            counted &-= eligible
            maxima = maxima.replacing(with: v, where: v .> maxima)
            i &+= 8
        }
        var m = counted.total, maximum = maxima.max()
        while i < count {
            let eligible = labels[i] != ignoreLabel && hasDepth[i] != 0
            let v: Float = eligible ? magnitude(residual[i]) : -1
            scratch[i] = v
            m &+= eligible ? 1 : 0
            maximum = v > maximum ? v : maximum
            i &+= 1
        }
        guard m > 0 else { return nil }
        var rank = (m - 1) / 2
        // Every eligible wR is +0: so is the median.
        guard maximum > 0 else { return (0, 0) }
        // Pass 2. A bucket from the magic number 2^23: adding it rounds a value in [0, 2047)
        // to the integer in its low mantissa bits.
        let buckets = magnitudeBuckets
        // At most the largest Float (a subnormal maximum would make it +∞, and 0 · ∞ NaN): then
        // every product stays below 2046.5, and the values merely share fewer buckets.
        let scale = Swift.min(Float(buckets - 2) / maximum, .greatestFiniteMagnitude)
        let magic = Float(8_388_608), magicBits = I(repeating: Int32(bitPattern: magic.bitPattern))
        @inline(__always) func bucket(_ v: F) -> I {
            let rounded = (v * scale + magic).bits &- magicBits &+ 1
            return rounded.replacing(with: 0, where: v .< F())
        }
        @inline(__always) func bucket(_ v: Float) -> Int {
            v < 0 ? 0 : Int(Int32(bitPattern: (v * scale + magic).bitPattern) &- Int32(bitPattern: magic.bitPattern)) &+ 1
        }
        histogram.update(repeating: 0, count: 4 * buckets)
        i = 0
        while i &+ 8 <= count {
            let b = bucket(UnsafeRawPointer(scratch + i).loadUnaligned(as: F.self))
            histogram[Int(b[0])] &+= 1
            histogram[buckets &+ Int(b[1])] &+= 1
            histogram[2 &* buckets &+ Int(b[2])] &+= 1
            histogram[3 &* buckets &+ Int(b[3])] &+= 1
            histogram[Int(b[4])] &+= 1
            histogram[buckets &+ Int(b[5])] &+= 1
            histogram[2 &* buckets &+ Int(b[6])] &+= 1
            histogram[3 &* buckets &+ Int(b[7])] &+= 1
            i &+= 8
        }
        while i < count {
            histogram[bucket(scratch[i])] &+= 1
            i &+= 1
        }
        sumCopies(histogram, buckets: buckets, copies: 4)
        // Bucket 0 holds the pixels that do not count.
        var median = 1
        while rank >= histogram[median] {
            rank -= histogram[median]
            median &+= 1
        }
        // Pass 3.
        let wanted = I(repeating: Int32(median))
        var n = 0
        i = 0
        while i &+ 8 <= count {
            let v = UnsafeRawPointer(scratch + i).loadUnaligned(as: F.self)
            let hits = bucket(v) .== wanted
            if any(hits) {
                for lane in 0..<8 where hits[lane] {
                    scratch[n] = v[lane]
                    n &+= 1
                }
            }
            i &+= 8
        }
        while i < count {
            let v = scratch[i]
            if bucket(v) == median {
                scratch[n] = v
                n &+= 1
            }
            i &+= 1
        }
        return (smallest(UnsafeMutableBufferPointer(start: scratch, count: n), rank, histogram: histogram), maximum)
    }
}

extension Selection {
    /// The lower median and maximum of `values` over the eligible pixels (a label other than
    /// `ignoreLabel` and valid depth): wZ's pace where the region table left no pairs.
    package static func lowerMedianAndMaximum(
        count: Int, eligibleValues values: UnsafePointer<Float>, labels: UnsafePointer<Int32>, hasDepth: UnsafePointer<UInt8>,
        ignoreLabel: Int32, scratch: UnsafeMutablePointer<Float>, histogram: UnsafeMutablePointer<Int>
    ) -> (median: Float, maximum: Float)? {
        lowerMedianAndMaximum(
            count: count, of: EligibleFloats(values: values, labels: labels, hasDepth: hasDepth, ignore: ignoreLabel),
            scratch: scratch, histogram: histogram)
    }

    /// The lower median and maximum of `values` over the labelled pixels (ce's and a map's paces).
    package static func lowerMedianAndMaximum(
        count: Int, labelledValues values: UnsafePointer<Float>, labels: UnsafePointer<Int32>, ignoreLabel: Int32,
        scratch: UnsafeMutablePointer<Float>, histogram: UnsafeMutablePointer<Int>
    ) -> (median: Float, maximum: Float)? {
        struct Source: SelectionSource {
            let values: UnsafePointer<Float>, labels: UnsafePointer<Int32>, ignore: Int32
            @inline(__always) func counts(_ i: Int) -> Bool { labels[i] != ignore }
            @inline(__always) func value(_ i: Int) -> Float { values[i] }
        }
        return lowerMedianAndMaximum(
            count: count, of: Source(values: values, labels: labels, ignore: ignoreLabel), scratch: scratch,
            histogram: histogram)
    }

    /// The lower median and maximum of `values` where `mask` is true (every value without one).
    package static func lowerMedianAndMaximum(
        count: Int, values: UnsafePointer<Float>, mask: UnsafePointer<Bool>?, scratch: UnsafeMutablePointer<Float>,
        histogram: UnsafeMutablePointer<Int>
    ) -> (median: Float, maximum: Float)? {
        struct Source: SelectionSource {
            let values: UnsafePointer<Float>, mask: UnsafePointer<Bool>?
            @inline(__always) func counts(_ i: Int) -> Bool { mask?[i] ?? true }
            @inline(__always) func value(_ i: Int) -> Float { values[i] }
        }
        return lowerMedianAndMaximum(count: count, of: Source(values: values, mask: mask), scratch: scratch, histogram: histogram)
    }
}
