#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HardPixelMining

/// How well a per-pixel score ranks the pixels a network gets wrong: the measures of the
/// ablation's premise check.
public enum ErrorRanking {
    /// The ROC AUC of `scores` for the `positives`: the probability that a random positive
    /// scores above a random negative, ties counted half (the Mann–Whitney U statistic over
    /// P·N, from average ranks). nil without a positive or without a negative. O(n log n).
    public static func areaUnderCurve(scores: [Double], positives: [Bool]) -> Double? {
        precondition(scores.count == positives.count)
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        let p = positives.count { $0 }, n = positives.count - p
        guard p > 0 && n > 0 else { return nil }
        var positiveRankSum = 0.0
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
            let averageRank = Double(i + j) / 2 + 1  // ranks from 1
            for k in i...j where positives[order[k]] { positiveRankSum += averageRank }
            i = j + 1
        }
        let u = positiveRankSum - Double(p) * Double(p + 1) / 2
        return u / (Double(p) * Double(n))
    }

    /// The fraction of positives among the `⌈fraction · n⌉` pixels with the largest scores;
    /// pixels tied with the last one taken count in proportion (the expectation over a random
    /// order of the ties). nil for no pixels.
    public static func precisionAtTop(_ fraction: Double, scores: [Double], positives: [Bool]) -> Double? {
        precondition(scores.count == positives.count && fraction > 0 && fraction <= 1)
        guard !scores.isEmpty else { return nil }
        let k = Swift.max(1, Int((fraction * Double(scores.count)).rounded(.up)))
        let threshold = scores.sorted(by: >)[k - 1]
        var above = 0, positivesAbove = 0, tied = 0, positivesTied = 0
        for (s, positive) in zip(scores, positives) {
            if s > threshold {
                above += 1
                if positive { positivesAbove += 1 }
            } else if s == threshold {
                tied += 1
                if positive { positivesTied += 1 }
            }
        }
        let fromTies = Double(k - above) * Double(positivesTied) / Double(tied)
        return (Double(positivesAbove) + fromTies) / Double(k)
    }
}

/// A depth prediction's quality on the pixels with a valid ground truth (the binning's range).
public struct DepthQuality: Sendable, Hashable {
    /// Mean |D − D*| / D*.
    public var absoluteRelativeError: Double
    /// The fraction of pixels with max(D/D*, D*/D) < 1.25 (δ₁).
    public var withinRatio125: Double

    /// From predicted log-depth and ground-truth depth; pixels outside `binning`'s range are
    /// skipped. Both 0 without a valid pixel.
    public init(predictedLogDepth: [Float], groundTruthDepth: [Float], binning: DepthBinning = .paper) {
        precondition(predictedLogDepth.count == groundTruthDepth.count)
        var count = 0, relative = 0.0, within = 0
        for (logD, truth) in zip(predictedLogDepth, groundTruthDepth) where binning.isValid(truth) {
            let d = Double(logD).exponentiated(), t = Double(truth)
            count += 1
            relative += abs(d - t) / t
            if Swift.max(d / t, t / d) < 1.25 { within += 1 }
        }
        absoluteRelativeError = count > 0 ? relative / Double(count) : 0
        withinRatio125 = count > 0 ? Double(within) / Double(count) : 0
    }
}

extension Double {
    fileprivate func exponentiated() -> Double {
        #if canImport(Glibc)
        Glibc.exp(self)
        #elseif canImport(Darwin)
        Darwin.exp(self)
        #endif
    }
}

/// The depth branch's quality on the `split` scenes of the run with `seed`.
public func depthQuality(_ network: ReferenceNetwork, on split: HeldOutSplit, settings s: TrainingSettings, seed: UInt64) throws
    -> DepthQuality
{
    let set = split.scenes(settings: s, seed: seed)
    let a = network.forward(set.rgb, images: split.count(s), height: s.height, width: s.width)
    return DepthQuality(predictedLogDepth: a.logDepth, groundTruthDepth: set.depth)
}

/// Fits the depth branch (layers 4 and 5) of `network` on its run's training scenes with
/// L_dep alone (ρ = 0.5), every other layer frozen, so that the segmentation network stays
/// exactly as it is. SGD with momentum at `settings.learningRate`, clipped as in training.
public func fittingDepthBranch(
    of network: ReferenceNetwork, settings s: TrainingSettings, seed: UInt64, epochs: Int
) throws -> ReferenceNetwork {
    let set = trainingScenes(settings: s, seed: seed)
    var network = network
    var sgd = MomentumSGD(for: network, learningRate: s.learningRate)
    let plane = s.height * s.width
    let loss = ScaleInvariantDepthLoss()
    let shape = PixelMapShape(images: s.batch, height: s.height, width: s.width)
    let noLogitGradient = [Float](repeating: 0, count: s.batch * network.classes * plane)
    var depthGradient = [Float](repeating: 0, count: s.batch * plane)
    for _ in 0..<epochs {
        for b in 0..<(s.trainImages / s.batch) {
            let images = (b * s.batch)..<((b + 1) * s.batch)
            let rgb = Array(set.rgb[(images.lowerBound * 3 * plane)..<(images.upperBound * 3 * plane)])
            let depth = Array(set.depth[(images.lowerBound * plane)..<(images.upperBound * plane)])
            let a = network.forward(rgb, images: s.batch, height: s.height, width: s.width)
            _ = try loss.evaluate(predictedLogDepth: a.logDepth, groundTruthDepth: depth, shape: shape, gradient: &depthGradient)
            let g = network.backward(
                a, logitGradient: noLogitGradient, depthGradient: depthGradient, images: s.batch, height: s.height, width: s.width)
            sgd.step(&network, gradient: g, maximumNorm: s.gradientClip, layers: [4, 5])
        }
    }
    return network
}

/// The scores the premise check ranks pixels by.
public enum PremiseScore: String, Sendable, CaseIterable {
    /// wR = |R| from the network's own depth branch.
    case depthPredictionError = "wR (DPE)"
    /// wZ, the DSE weight of the network's predictions (8 × 8 grid, bins of 10).
    case segmentationError = "wZ (DSE)"
    /// The per-pixel label-smoothed cross-entropy (what OHEM and top-k mine).
    case pixelLoss = "per-pixel loss"
    /// The ground-truth depth itself.
    case depth = "depth D*"
    /// A score that ranks at random (AUC 0.5; precision the error rate).
    case chance = "chance"
}

/// The premise check of one seed: how well each score ranks the pixels a network gets wrong,
/// on the pixels with a valid label and a valid depth of held-out scenes.
public struct PremiseMeasurement: Sendable {
    /// ROC AUC per score.
    public var areaUnderCurve: [PremiseScore: Double]
    /// Precision among the 10% of pixels with the largest scores, per score.
    public var precisionAtTop10: [PremiseScore: Double]
    /// The fraction of the scored pixels the network gets wrong.
    public var errorRate: Double
    /// The pixels scored, and the wrong pixels outside them (labelled, without a valid depth).
    public var scoredPixels: Int, wrongPixelsWithoutDepth: Int, pixelsWithoutDepth: Int
    /// The quality of the depth branch wR came from, on the same scenes.
    public var depth: DepthQuality

    /// Measures the premise for `network` (whose depth branch gives wR) on the `split` scenes
    /// of the run with `seed`.
    public init(_ network: ReferenceNetwork, on split: HeldOutSplit, settings s: TrainingSettings, seed: UInt64) throws {
        let set = split.scenes(settings: s, seed: seed)
        let n = split.count(s)
        let shape = BatchShape(images: n, classes: network.classes, height: s.height, width: s.width)
        let a = network.forward(set.rgb, images: n, height: s.height, width: s.width)
        let predictions = ReferenceNetwork.predictions(a.logits, classes: network.classes, images: n, plane: s.height * s.width)
        let wR = try DepthPredictionError().weights(
            predictedLogDepth: a.logDepth, groundTruthDepth: set.depth, labels: set.labels, shape: shape)
        let wZ = try DepthAwareSegmentationError().weights(
            predictions: predictions, labels: set.labels, groundTruthDepth: set.depth, shape: shape)
        let losses = try LabelSmoothedCrossEntropy().pixelLosses(logits: a.logits, labels: set.labels, shape: shape)
        let binning = DepthBinning.paper
        var scores: [PremiseScore: [Double]] = [:]
        var wrong: [Bool] = []
        var withoutDepth = 0, wrongWithoutDepth = 0
        for i in 0..<shape.pixelCount where set.labels[i] != 255 {
            let isWrong = predictions[i] != set.labels[i]
            guard binning.isValid(set.depth[i]) else {
                withoutDepth += 1
                if isWrong { wrongWithoutDepth += 1 }
                continue
            }
            wrong.append(isWrong)
            scores[.depthPredictionError, default: []].append(Double(wR[i]))
            scores[.segmentationError, default: []].append(Double(wZ[i]))
            scores[.pixelLoss, default: []].append(Double(losses[i]))
            scores[.depth, default: []].append(Double(set.depth[i]))
        }
        errorRate = wrong.isEmpty ? 0 : Double(wrong.count { $0 }) / Double(wrong.count)
        var auc: [PremiseScore: Double] = [.chance: 0.5], precision: [PremiseScore: Double] = [.chance: errorRate]
        for (score, values) in scores {
            auc[score] = ErrorRanking.areaUnderCurve(scores: values, positives: wrong) ?? 0.5
            precision[score] = ErrorRanking.precisionAtTop(0.1, scores: values, positives: wrong) ?? 0
        }
        areaUnderCurve = auc
        precisionAtTop10 = precision
        scoredPixels = wrong.count
        pixelsWithoutDepth = withoutDepth
        wrongPixelsWithoutDepth = wrongWithoutDepth
        depth = DepthQuality(predictedLogDepth: a.logDepth, groundTruthDepth: set.depth)
    }
}
