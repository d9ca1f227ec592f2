import Foundation
import HardPixelMining

/// A real type the scalar reference can run in: Float or Double.
public protocol ReferenceReal: BinaryFloatingPoint, Sendable {
    static func exponential(_ x: Self) -> Self
    static func logarithm(_ x: Self) -> Self
}

extension Double: ReferenceReal {
    public static func exponential(_ x: Double) -> Double { Foundation.exp(x) }
    public static func logarithm(_ x: Double) -> Double { Foundation.log(x) }
}

extension Float: ReferenceReal {
    public static func exponential(_ x: Float) -> Float { Foundation.exp(x) }
    public static func logarithm(_ x: Float) -> Float { Foundation.log(x) }
}

/// The readable scalar implementation of SPEC §2–3: one pixel and one class at a
/// time, straight from the equations, generic over the real type so that tests can
/// run it in Float64 (finite differences) and compare the fast kernels against it.
public enum ScalarReference {
    /// x^y for x in 0...1 and y >= 0 (0^0 = 1), by exp and log.
    static func power<T: ReferenceReal>(_ x: T, _ y: T) -> T {
        if y == 0 { return 1 }
        return x > 0 ? T.exponential(y * T.logarithm(x)) : 0
    }

    public struct Output<T: ReferenceReal> {
        public var images: [ObjectiveTerms] = []
        public var batch = ObjectiveTerms()
        public var logitGradient: [T]
        public var depthGradient: [T]
        public var pixelLosses: [T]
        public var depthPredictionErrorWeights: [T]
        public var segmentationErrorWeights: [T]
    }

    public static func evaluate<T: ReferenceReal>(
        logits: [T], labels: [Int32], predictedLogDepth: [T], groundTruthDepth: [T], shape: BatchShape,
        configuration c: ObjectiveConfiguration, epoch: Double, pixelWeights: [T]? = nil, pixelWeightMap: [T]? = nil
    ) -> Output<T> {
        let (N, C, H, W) = (shape.images, shape.classes, shape.height, shape.width)
        let HW = H * W
        let (on, off) = c.smoothing.targets(classCount: C)
        let binning = c.depthBinning
        let (gh, gw) = c.grid.dimensions(height: H, width: W)
        let bins = binning.binCount
        let alpha = c.depthWeight, rho = c.scaleInvariance, gamma = c.segmentationErrorWeight
        let beta = c.depthPredictionErrorWeight.value(atEpoch: epoch)
        let usesDepth = alpha != 0
        let usesR = !c.depthPredictionErrorWeight.isAlwaysZero
        let usesZ = gamma != 0
        // Class weights c_j (1 without them); the segmentation terms divide by Σ c_label.
        func cw(_ j: Int) -> Double { c.classWeights.map { Double($0[j]) } ?? 1 }
        var labelWeights = [Double](repeating: 0, count: N)
        for k in 0..<N {
            for i in 0..<HW where labels[k * HW + i] != c.ignoreLabel { labelWeights[k] += cw(Int(labels[k * HW + i])) }
        }
        let pooled: Double? = switch c.reduction {
        case .perImageMean: nil
        case .mean: labelWeights.reduce(0, +)
        case .sum: 1
        }
        var out = Output<T>(
            logitGradient: Array(repeating: 0, count: shape.logitCount),
            depthGradient: Array(repeating: 0, count: shape.pixelCount),
            pixelLosses: Array(repeating: 0, count: shape.pixelCount),
            depthPredictionErrorWeights: Array(repeating: 0, count: shape.pixelCount),
            segmentationErrorWeights: Array(repeating: 0, count: shape.pixelCount))

        for k in 0..<N {
            func x(_ j: Int, _ i: Int) -> T { logits[(k * C + j) * HW + i] }
            var ce = [T](repeating: 0, count: HW)
            // Focal and PolyLoss-1: loss = a (1 − p_t)^γ (ce + ε (1 − p_t)); 1 and ce without them.
            var loss = [T](repeating: 0, count: HW), factor = [T](repeating: 1, count: HW)
            var labelFactor = [T](repeating: 0, count: HW)
            var logSumExp = [T](repeating: 0, count: HW)
            var labelled = [Bool](repeating: false, count: HW)
            var wrong = [Bool](repeating: false, count: HW)
            var hasDepth = [Bool](repeating: false, count: HW)
            var residual = [T](repeating: 0, count: HW)
            var s = ImageSums()
            for i in 0..<HW {
                let label = labels[k * HW + i]
                // Max-shifted log-sum-exp and the first index of the largest logit.
                var m = x(0, i), argmax = 0
                for j in 1..<C where x(j, i) > m { m = x(j, i); argmax = j }
                var sum: T = 0
                for j in 0..<C { sum += T.exponential(x(j, i) - m) }
                logSumExp[i] = m + T.logarithm(sum)
                if label != c.ignoreLabel {
                    labelled[i] = true
                    s.labelledPixels += 1
                    var sumLogP: T = 0
                    for j in 0..<C { sumLogP += T(cw(j)) * (x(j, i) - logSumExp[i]) }
                    let logPLabel = x(Int(label), i) - logSumExp[i]
                    ce[i] = -(T(off) * sumLogP + T((on - off) * cw(Int(label))) * logPLabel)
                    wrong[i] = argmax != Int(label)
                    let pt = T.exponential(logPLabel), q = 1 - pt, eps = T(c.polyEpsilon)
                    let ell = ce[i] + eps * q
                    let g = T(c.focal?.focusing ?? 0)
                    let a = T(c.focal?.classAlpha.map { Double($0[Int(label)]) } ?? 1)
                    factor[i] = c.focal == nil ? 1 : a * power(q, g)
                    loss[i] = factor[i] * ell
                    // ∂q/∂x_j = p_t (p_j − [j = label]).
                    labelFactor[i] = factor[i] * eps * pt
                    if let f = c.focal, f.gradient == .throughFactor, g != 0 {
                        labelFactor[i] += ell * a * g * power(q, g - 1) * pt
                    }
                }
                let d = groundTruthDepth.isEmpty ? T.nan : groundTruthDepth[k * HW + i]
                if d >= T(binning.minimum) && d <= T(binning.maximum) {
                    hasDepth[i] = true
                    s.depthPixels += 1
                    if !predictedLogDepth.isEmpty {
                        residual[i] = predictedLogDepth[k * HW + i] - T.logarithm(d)
                    }
                    s.residualSum += Double(residual[i])
                    s.squaredResidualSum += Double(residual[i] * residual[i])
                    if labelled[i] { s.eligiblePixels += 1 }
                }
            }
            let eligible = (0..<HW).map { labelled[$0] && hasDepth[$0] }
            let wR = (0..<HW).map { eligible[$0] ? abs(residual[$0]) : 0 }
            let wM: [T] = (0..<HW).map { pixelWeightMap?[k * HW + $0] ?? 0 }
            let usesM = c.pixelWeightMap != nil

            // Regions: (cell, bin) → (count, errors).
            var count = [Int: Int](), errors = [Int: Int]()
            func region(_ i: Int) -> Int {
                let (y, xx) = (i / W, i % W)
                let cell = (y * gh / H) * gw + xx * gw / W
                let d = groundTruthDepth[k * HW + i]
                let bin = Swift.min(Int(((Double(d) - Double(binning.minimum)) / Double(binning.binWidth)).rounded(.down)), bins - 1)
                return cell * bins + bin
            }
            for i in 0..<HW where eligible[i] {
                count[region(i), default: 0] += 1
                errors[region(i), default: 0] += wrong[i] ? 1 : 0
            }
            let wZ: [T] = (0..<HW).map { i in
                eligible[i] ? T(Double(errors[region(i)]!) / Double(count[region(i)]!)) : 0
            }

            // Pacing: η = u1 + e (u2 − u1) / E, with u1 the lower median (by sorting here).
            func pace(_ values: [T]) -> Double? {
                guard let pacing = c.pacing, !values.isEmpty else { return nil }
                let sorted = values.sorted()
                let u1 = Double(sorted[(sorted.count - 1) / 2]), u2 = Double(sorted.last!)
                return u1 + epoch * (u2 - u1) / pacing.totalEpochs
            }
            let paced = c.pacing != nil
            if paced {
                if usesR { s.depthPredictionErrorPace = pace((0..<HW).filter { eligible[$0] }.map { wR[$0] }) }
                if usesZ { s.segmentationErrorPace = pace((0..<HW).filter { eligible[$0] }.map { wZ[$0] }) }
                if c.pacesSegmentation { s.segmentationPace = pace((0..<HW).filter { labelled[$0] }.map { ce[$0] }) }
                if c.pixelWeightMap?.paced == true { s.pixelWeightMapPace = pace((0..<HW).filter { labelled[$0] }.map { wM[$0] }) }
            }
            func counts(_ w: T, _ eta: Double?, paced: Bool = paced) -> Bool {
                if !paced { return true }
                guard let eta else { return false }
                return Double(w) < eta
            }

            if c.classWeights != nil { s.labelWeightSum = labelWeights[k] }
            s.pooledDivisor = pooled
            let divisor = pooled ?? labelWeights[k], nd = Double(s.depthPixels)
            let scale = divisor > 0 ? (pooled != nil ? 1 / divisor : 1 / (Double(N) * divisor)) : 0
            let meanR = s.depthPixels > 0 ? s.residualSum / nd : 0
            for i in 0..<HW {
                var weight: Double = 0
                var dg: Double = 0
                if usesDepth && hasDepth[i] {
                    dg = alpha / Double(N) * 2 / nd * (Double(residual[i]) - rho * meanR)
                }
                if labelled[i] {
                    let pw = pixelWeights.map { Double($0[k * HW + i]) } ?? 1
                    if !c.pacesSegmentation || counts(ce[i], s.segmentationPace) {
                        weight += pw
                        s.crossEntropySum += pw * Double(loss[i])
                    }
                    if eligible[i] && usesR && counts(wR[i], s.depthPredictionErrorPace) {
                        s.depthPredictionErrorSum += Double(wR[i] * loss[i])
                        weight += beta * Double(wR[i])
                        if c.propagatesDepthPredictionErrorToDepth && residual[i] != 0 {
                            dg += beta * (residual[i] > 0 ? 1 : -1) * Double(loss[i]) * scale
                        }
                    }
                    if eligible[i] && usesZ && counts(wZ[i], s.segmentationErrorPace) {
                        s.segmentationErrorSum += Double(wZ[i] * loss[i])
                        weight += gamma * Double(wZ[i])
                    }
                    if usesM && counts(wM[i], s.pixelWeightMapPace, paced: c.pixelWeightMap!.paced) {
                        s.pixelWeightMapSum += Double(wM[i] * loss[i])
                        s.countedPixelWeightMapPixels += 1
                        weight += c.pixelWeightMap!.coefficient * Double(wM[i])
                    }
                    // ∂/∂x_ij = W (A p_ij − a_ij) · scale, a_ij = off c_j + (on − off) c_label [j = label],
                    // A = Σ_j a_ij (1 without class weights, when this is W (p − y) / (N n)).
                    let label = Int(labels[k * HW + i])
                    let a = (0..<C).map { j in off * cw(j) + (j == label ? (on - off) * cw(label) : 0) }
                    let sumA = a.reduce(0, +)
                    for j in 0..<C {
                        let p = T.exponential(x(j, i) - logSumExp[i])
                        let dLoss = factor[i] * (T(sumA) * p - T(a[j])) + labelFactor[i] * (p - (j == label ? 1 : 0))
                        out.logitGradient[(k * C + j) * HW + i] = T(weight * scale) * dLoss
                    }
                }
                out.depthGradient[k * HW + i] = T(dg)
                out.pixelLosses[k * HW + i] = ce[i]
                out.depthPredictionErrorWeights[k * HW + i] = wR[i]
                out.segmentationErrorWeights[k * HW + i] = wZ[i]
            }
            if !usesDepth && !usesR {
                s.residualSum = 0
                s.squaredResidualSum = 0
            }
            if !usesR { s.depthPredictionErrorSum = 0 }
            out.images.append(ObjectiveTerms(s, configuration: c, epoch: epoch))
        }
        var batch = ObjectiveTerms()
        // The per-image mean averages each term; a pooled reduction adds the shares of the
        // segmentation terms (the depth term stays a mean over images).
        let share = pooled == nil ? 1 / Double(N) : 1
        for t in out.images {
            batch.segmentation += t.segmentation * share
            batch.depth += t.depth / Double(N)
            batch.depthPredictionError += t.depthPredictionError * share
            batch.segmentationError += t.segmentationError * share
            batch.pixelWeightMap += t.pixelWeightMap * share
            batch.objective += t.objective / Double(N)
        }
        if pooled != nil {
            batch.objective = batch.segmentation + alpha * batch.depth + beta * batch.depthPredictionError
                + gamma * batch.segmentationError + (c.pixelWeightMap?.coefficient ?? 0) * batch.pixelWeightMap
        }
        out.batch = batch
        return out
    }
}

extension ScalarReference {
    /// One pixel's log-sum-exp, log p_label and smoothed ce from its logits `x(j)`.
    static func pixelCrossEntropy<T: ReferenceReal>(
        classes C: Int, label: Int, on: Double, off: Double, _ x: (Int) -> T
    ) -> (logSumExp: T, logPLabel: T, ce: T) {
        var m = x(0)
        for j in 1..<C where x(j) > m { m = x(j) }
        var sum: T = 0
        for j in 0..<C { sum += T.exponential(x(j) - m) }
        let lse = m + T.logarithm(sum)
        var sumLogP: T = 0
        for j in 0..<C { sumLogP += x(j) - lse }
        let logPLabel = x(label) - lse
        return (lse, logPLabel, -(T(off) * sumLogP + T(on - off) * logPLabel))
    }

    /// Cross-entropy over the mined pixels (the selection is made by sorting here) and its
    /// gradient, in any real type.
    public static func minedCrossEntropy<T: ReferenceReal>(
        logits: [T], labels: [Int32], shape: BatchShape, smoothing: LabelSmoothing, mining: PixelMining,
        ignoreLabel: Int32 = 255
    ) -> (value: Double, gradient: [T]) {
        let (N, C, HW) = (shape.images, shape.classes, shape.pixelsPerImage)
        let (on, off) = smoothing.targets(classCount: C)
        var gradient = [T](repeating: 0, count: shape.logitCount)
        var total = 0.0
        for k in 0..<N {
            func x(_ j: Int, _ i: Int) -> T { logits[(k * C + j) * HW + i] }
            var ce = [T](repeating: 0, count: HW), logPLabel = [T](repeating: 0, count: HW), lse = [T](repeating: 0, count: HW)
            let labelled = (0..<HW).filter { labels[k * HW + $0] != ignoreLabel }
            for i in labelled {
                (lse[i], logPLabel[i], ce[i]) = pixelCrossEntropy(
                    classes: C, label: Int(labels[k * HW + i]), on: on, off: off) { x($0, i) }
            }
            var chosen: [Int] = []
            if !labelled.isEmpty {
                switch mining {
                case .topFraction(let f):
                    let keep = Swift.min(labelled.count, Int((f * Double(labelled.count)).rounded(.up)))
                    chosen = Array(labelled.sorted { ce[$0] != ce[$1] ? ce[$0] > ce[$1] : $0 < $1 }.prefix(keep))
                case .probabilityBelow(let threshold, let minimumKept):
                    let p = labelled.map { T.exponential(logPLabel[$0]) }.sorted()
                    let limit = Swift.max(threshold, Double(p[Swift.min(minimumKept, p.count - 1)]))
                    chosen = labelled.filter { Double(T.exponential(logPLabel[$0])) < limit }
                case .batchTopFraction, .ohem:
                    return batchMinedCrossEntropy(
                        logits: logits, labels: labels, shape: shape, smoothing: smoothing, mining: mining,
                        ignoreLabel: ignoreLabel)
                }
            }
            guard !chosen.isEmpty else { continue }
            total += chosen.reduce(0.0) { $0 + Double(ce[$1]) } / Double(chosen.count) / Double(N)
            let scale = T(1 / (Double(N) * Double(chosen.count)))
            for i in chosen {
                for j in 0..<C {
                    let y = j == Int(labels[k * HW + i]) ? on : off
                    gradient[(k * C + j) * HW + i] = scale * (T.exponential(x(j, i) - lse[i]) - T(y))
                }
            }
        }
        return (total, gradient)
    }
}

extension ScalarReference {
    /// Cross-entropy with batch-wide mining (DeepLab's top-k, mmsegmentation's OHEM), the
    /// selection made by sorting all N·H·W pixels, and its gradient, in any real type.
    public static func batchMinedCrossEntropy<T: ReferenceReal>(
        logits: [T], labels: [Int32], shape: BatchShape, smoothing: LabelSmoothing, mining: PixelMining,
        pixelWeights: [T]? = nil, ignoreLabel: Int32 = 255
    ) -> (value: Double, gradient: [T]) {
        let (N, C, HW) = (shape.images, shape.classes, shape.pixelsPerImage)
        let total = N * HW
        let (on, off) = smoothing.targets(classCount: C)
        func x(_ p: Int, _ j: Int) -> T { logits[((p / HW) * C + j) * HW + p % HW] }
        var ce = [T](repeating: 0, count: total), logPLabel = [T](repeating: 0, count: total)
        var lse = [T](repeating: 0, count: total)
        let labelled = (0..<total).filter { labels[$0] != ignoreLabel }
        for p in labelled {
            (lse[p], logPLabel[p], ce[p]) = pixelCrossEntropy(classes: C, label: Int(labels[p]), on: on, off: off) { x(p, $0) }
        }
        func w(_ p: Int) -> T { pixelWeights?[p] ?? 1 }
        var chosen: [Int] = []
        var divisor = 0.0
        switch mining {
        case .batchTopFraction(let f):
            let k = Int((f * Double(total)).rounded(.down))
            let value = { (p: Int) -> T in labels[p] != ignoreLabel ? w(p) * ce[p] : 0 }
            chosen = Array((0..<total).sorted { value($0) != value($1) ? value($0) > value($1) : $0 < $1 }.prefix(k))
                .filter { labels[$0] != ignoreLabel }
            divisor = Double(k)
        case .ohem(let threshold, let minimumKept, let averageNonIgnored):
            let batchKept = minimumKept * N
            if let threshold {
                if !labelled.isEmpty {
                    let p = labelled.map { T.exponential(logPLabel[$0]) }.sorted()
                    let limit = Swift.max(threshold, Double(p[Swift.min(batchKept, p.count - 1)]))
                    chosen = labelled.filter { Double(T.exponential(logPLabel[$0])) < limit }
                }
            } else {
                chosen = Array(labelled.sorted { ce[$0] != ce[$1] ? ce[$0] > ce[$1] : $0 < $1 }.prefix(batchKept))
            }
            divisor = averageNonIgnored ? Double(labelled.count) : Double(total)
        case .topFraction, .probabilityBelow:
            preconditionFailure("per-image mining: use minedCrossEntropy")
        }
        var gradient = [T](repeating: 0, count: shape.logitCount)
        guard divisor > 0 else { return (0, gradient) }
        let value = chosen.reduce(0.0) { $0 + Double(w($1) * ce[$1]) } / divisor
        for p in chosen {
            let scale = w(p) / T(divisor)
            for j in 0..<C {
                let y = j == Int(labels[p]) ? on : off
                gradient[((p / HW) * C + j) * HW + p % HW] = scale * (T.exponential(x(p, j) - lse[p]) - T(y))
            }
        }
        return (value, gradient)
    }

    /// SILog over the batch's valid pixels (two-pass mean and centred sum) and its gradient.
    public static func silog<T: ReferenceReal>(
        predictedLogDepth: [T], depth: [Float], silog: SILog, binning: DepthBinning = .paper
    ) -> (value: T, gradient: [T]) {
        let valid = depth.indices.filter { binning.isValid(depth[$0]) }
        var gradient = [T](repeating: 0, count: depth.count)
        // No valid pixel, or AdaBins' sample variance of one (NaN in torch): 0.
        guard !valid.isEmpty, silog.variance == .population || valid.count > 1 else { return (0, gradient) }
        var d = [T](repeating: 0, count: depth.count)
        for i in valid { d[i] = predictedLogDepth[i] - T.logarithm(T(depth[i])) }
        let n = T(valid.count)
        let mean = valid.reduce(T(0)) { $0 + d[$1] } / n
        let centred = valid.reduce(T(0)) { $0 + (d[$1] - mean) * (d[$1] - mean) }
        let m = silog.variance == .population ? n : n - 1
        let lambda = T(silog.varianceFocus), s = T(silog.scale)
        let D = (m > 0 ? centred / m : 0) + (1 - lambda) * mean * mean
        guard D > 0 else { return (0, gradient) }
        let root = D.squareRoot()
        for i in valid {
            let dD = (m > 0 ? 2 * (d[i] - mean) / m : 0) + 2 * (1 - lambda) * mean / n
            gradient[i] = s / (2 * root) * dD
        }
        return (s * root, gradient)
    }
}
