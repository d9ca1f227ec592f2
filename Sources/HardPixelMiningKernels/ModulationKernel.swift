/// The per-pixel modulators of a labelled pixel's loss, as the kernels read them: focal's
/// `α_label (1 − p_t)^γ` and PolyLoss-1's `ε (1 − p_t)` (see ``Kernels/modulate(loss:labelLogProbability:alpha:_:)``).
package struct Modulation {
    /// γ, focal's focusing parameter (0: no focusing).
    package var focusing: Float = 0
    /// Whether the gradient goes through `(1 − p_t)^γ` (else the factor is held constant).
    package var throughFactor = true
    /// ε, PolyLoss-1's coefficient (0: none).
    package var polyEpsilon: Float = 0
    /// Focal's per-class α (C values), or nil for 1.
    package var classAlpha: UnsafePointer<Float>? = nil

    package init(focusing: Float = 0, throughFactor: Bool = true, polyEpsilon: Float = 0, classAlpha: UnsafePointer<Float>? = nil) {
        self.focusing = focusing
        self.throughFactor = throughFactor
        self.polyEpsilon = polyEpsilon
        self.classAlpha = classAlpha
    }
}

extension Kernels {
    /// One vector of pixels' modulated loss, from each pixel's loss `ce` (0 where the label is
    /// not valid), `log p_t` (the label's log-probability) and `α_label`:
    ///
    ///     q      = 1 − p_t                                  (−expm1(log p_t), accurate near p_t = 1)
    ///     ℓ      = ce + ε q                                  (PolyLoss-1)
    ///     factor = α q^γ                                     (focal; 1 without it)
    ///     loss   = factor · ℓ
    ///     labelFactor = p_t (factor ε + [through] ℓ α γ q^(γ−1))
    ///
    /// so that `∂loss/∂x_j = factor · ∂ce/∂x_j + labelFactor · (p_j − [j = label])`. Where
    /// `q = 0` (p_t rounds to 1), `q^(γ−1)` is 0 for γ > 1, 1 for γ = 1, and for γ < 1 (where the
    /// exact derivative has no bound) Float's largest finite value: `labelFactor` is finite for
    /// every finite input, and the callers saturate what they multiply it by.
    ///
    /// Float arithmetic: for a whole γ, q^γ by products; otherwise `exp(γ log q)` with the vector
    /// exp and log (relative error about 2e-7 each), within about `γ |log q| · 1.2e-7` relative.
    @inline(__always)
    static func modulate<V: FloatLanes>(
        loss ce: V, labelLogProbability lp: V, alpha a: V, _ m: Modulation
    ) -> (loss: V, factor: V, labelFactor: V) {
        let one = V(repeating: 1), zero = V(repeating: 0)
        let p = VectorMath.exp(lp)
        // −expm1(lp): a series where 1 − p would cancel (|lp| < 1/4: the first term left out is
        // below 5e-8 relative), 1 − p elsewhere (q > 0.22 there).
        var series = V(repeating: 1.0 / 720).plusProduct(lp, V(repeating: 1.0 / 5040))
        series = V(repeating: 1.0 / 120).plusProduct(series, lp)
        series = V(repeating: 1.0 / 24).plusProduct(series, lp)
        series = V(repeating: 1.0 / 6).plusProduct(series, lp)
        series = V(repeating: 0.5).plusProduct(series, lp)
        series = one.plusProduct(series, lp)
        let q = (one - p).with(zero - lp * series, where: lp .> V(repeating: -0.25))
        let base = m.polyEpsilon == 0 ? ce : ce.plusProduct(V(repeating: m.polyEpsilon), q)
        guard m.focusing != 0 else {
            let labelFactor = m.polyEpsilon == 0 ? zero : p * a * V(repeating: m.polyEpsilon)
            return (a * base, a, labelFactor)
        }
        let gamma = V(repeating: m.focusing)
        var powered: V, reduced: V
        let whole = Int(exactly: m.focusing) ?? 0
        if whole >= 1 {
            // A whole γ (2, the focal paper's, the common case): q^(γ−1) and q^γ by products,
            // exact to rounding and without the exp and log (q^0 = 1 where q = 0, as above).
            reduced = one
            for _ in 1..<whole { reduced = reduced * q }
            powered = reduced * q
        } else {
            let positive = q .> zero
            let safeQ = one.with(q, where: positive)
            powered = zero.with(VectorMath.exp(gamma * VectorMath.log(safeQ)), where: positive)
            // q^(γ − 1) where q = 0: see above.
            let atZero: Float = m.focusing > 1 ? 0 : .greatestFiniteMagnitude
            reduced = V(repeating: atZero).with(powered / safeQ, where: positive)
        }
        let factor = a * powered
        var labelFactor = m.polyEpsilon == 0 ? zero : factor * V(repeating: m.polyEpsilon)
        if m.throughFactor {
            // (ℓ a γ) · q^(γ − 1), with ℓ a γ >= 0: a product past Float's range saturates.
            let through = (base * a * gamma) * reduced
            let big = V(repeating: .greatestFiniteMagnitude)
            labelFactor = labelFactor + through.with(big, where: through .> big)
        }
        labelFactor = p * labelFactor
        let big = V(repeating: .greatestFiniteMagnitude)
        return (factor * base, factor, labelFactor.with(big, where: labelFactor .> big))
    }

    /// The label's α for one vector of pixels, from their labels as Floats (−1 where not valid,
    /// which gets 1; only the valid ones are used).
    @inline(__always)
    static func classAlpha<V: FloatLanes>(_ alpha: UnsafePointer<Float>?, labels: V) -> V {
        guard let alpha else { return V(repeating: 1) }
        var a = V(repeating: 1)
        for l in 0..<V.laneCount where labels[l] >= 0 { a[l] = alpha[Int(labels[l])] }
        return a
    }

    /// ``modulate(loss:labelLogProbability:alpha:_:)`` over `count` pixels of one image (the
    /// objective's weighing): the modulated loss, its factor and its label factor, each 0 where
    /// the label is `ignoreLabel`.
    package static func modulatePixels(
        count: Int, labels: UnsafePointer<Int32>, ignoreLabel: Int32, loss: UnsafePointer<Float>,
        labelLogProbability: UnsafePointer<Float>, modulation: Modulation,
        modulatedLoss: UnsafeMutablePointer<Float>, factor: UnsafeMutablePointer<Float>,
        labelFactor: UnsafeMutablePointer<Float>
    ) {
        typealias V = SIMD8<Float>
        var p = 0
        while p < count {
            let n = Swift.min(V.laneCount, count - p)
            var labelIndex = V(repeating: -1)
            for l in 0..<n where labels[p + l] != ignoreLabel { labelIndex[l] = Float(labels[p + l]) }
            let r = modulate(
                loss: V.load(loss + p, count: n, padding: 0),
                labelLogProbability: V.load(labelLogProbability + p, count: n, padding: 0),
                alpha: classAlpha(modulation.classAlpha, labels: labelIndex), modulation)
            let valid = labelIndex .> V(repeating: -1)
            let zero = V(repeating: 0)
            zero.with(r.loss, where: valid).store(to: modulatedLoss + p, count: n)
            zero.with(r.factor, where: valid).store(to: factor + p, count: n)
            zero.with(r.labelFactor, where: valid).store(to: labelFactor + p, count: n)
            p += n
        }
    }
}
