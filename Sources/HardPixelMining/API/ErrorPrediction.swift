#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The error-prediction losses of Gong et al., "Erroneous pixel prediction for semantic
/// image segmentation": an error-prediction branch learns where the segmentation branch is
/// wrong, a detail branch is trained on those pixels, and the two are fused.
///
/// Per labelled pixel `i` of an image with `n` labelled pixels, with the segmentation
/// branch's first argmax `ŷ_i` and largest class probability `q_i = max_j p_ij`:
///
///     error map       E*_i = [ŷ_i ≠ y_i]
///     weights         w_i = w1 if E*_i and q_i ≤ ρ (easy error), w2 if E*_i and q_i > ρ (hard),
///                     w3 = (Σ E*) / n if correct
///     balanced BCE    L_ep = (1/n) Σ w_i · BCE(σ(z_i), E*_i)      ∂L/∂z_i = w_i (σ(z_i) − E*_i) / (N n)
///     binarised map   E_i = [σ(z_i) > t]                           (weights of the detail branch's CE)
///     fusion          P_f = E · P_db + (1 − E) · P_sb
///
/// Defaults: ρ = 0.95, w1 = 1.0, w2 = 1.5, t = 0.7. `z` is the error branch's logit (N·H·W).
/// The weights and maps are constants for differentiation. Batch values are means over images.
public struct ErrorPrediction: Sendable, Hashable {
    /// ρ: an erroneous pixel is hard when its largest class probability exceeds this.
    public var confidence: Double = 0.95
    /// w1, the weight of easy erroneous pixels.
    public var easyWeight: Double = 1.0
    /// w2, the weight of hard erroneous pixels.
    public var hardWeight: Double = 1.5
    /// t, the threshold that binarises the predicted error probability.
    public var threshold: Double = 0.7
    public var ignoreLabel: Int32 = 255

    public init() {}

    /// The balanced BCE per image and for the batch.
    public struct Loss: Sendable, Hashable {
        /// The batch value: the mean of `images`.
        public var value: Double
        /// Each image's L_ep (0 without labelled pixels).
        public var images: [Double]
        /// Each image's fraction of erroneous pixels (w3).
        public var errorFractions: [Double]
    }

    /// Error-pixel IoU and hard recall over the batch's labelled pixels; nil where undefined.
    public struct Metrics: Sendable, Hashable {
        /// |predicted ∧ true errors| / |predicted ∨ true errors|.
        public var errorIoU: Double?
        /// The share of hard true errors (q > ρ) that the branch predicts.
        public var hardRecall: Double?
    }

    func validate() throws {
        try Check.parameter(confidence, "confidence", "in 0...1", { (0...1).contains($0) })
        try Check.weight(easyWeight, "easyWeight")
        try Check.weight(hardWeight, "hardWeight")
        try Check.parameter(threshold, "threshold", "in 0...1", { (0...1).contains($0) })
    }

    /// The statistics pass over the segmentation logits, in a new workspace.
    private func statistics(segmentationLogits: [Float], labels: [Int32], shape: BatchShape) throws -> ObjectiveWorkspace {
        let ws = ObjectiveWorkspace()
        try segmentationLogits.withUnsafeBufferPointer { x in
            try labels.withUnsafeBufferPointer { y in
                try statistics(logits: x, labels: y, shape: shape, argument: "segmentationLogits", workspace: ws)
            }
        }
        return ws
    }

    /// Runs the shared statistics pass on segmentation logits: `wrong` and `logSum` per pixel.
    private func statistics(
        logits: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<Int32>, shape: BatchShape,
        argument: String, workspace: ObjectiveWorkspace
    ) throws {
        try Check.count(logits.count, shape.logitCount, argument)
        try Check.count(labels.count, shape.pixelCount, "labels")
        try Check.labels(labels, classCount: shape.classes, ignoreLabel: ignoreLabel, "labels")
        do {
            try StatisticsPass.run(
                targets: Targets(on: 1, off: 0, ignoreLabel: ignoreLabel), shape: shape,
                inputs: EngineInputs(logits: logits.baseAddress!, labels: labels.baseAddress!), depthBinning: nil,
                regionTable: 0, workspace: workspace, threads: 1)
        } catch HardPixelMiningError.nonFiniteValue(_, let index, let value) {
            throw HardPixelMiningError.nonFiniteValue(argument: argument, index: index, value: value)
        }
    }

    @inline(__always)
    static func sigmoid(_ z: Double) -> Double {
        z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z))
    }

    /// The true error map E* (N·H·W): true where a labelled pixel's first argmax is not its label.
    public func errorMap(segmentationLogits: [Float], labels: [Int32], shape: BatchShape) throws -> [Bool] {
        try shape.validate()
        try validate()
        let ws = try statistics(segmentationLogits: segmentationLogits, labels: labels, shape: shape)
        return (0..<shape.pixelCount).map { ws.wrong[$0] != 0 }
    }

    /// The balanced BCE of the error-prediction branch and its gradient with respect to `errorLogits`.
    public func balancedLoss(
        errorLogits: [Float], segmentationLogits: [Float], labels: [Int32], shape: BatchShape,
        gradient: inout [Float]
    ) throws -> Loss {
        try shape.validate()
        try validate()
        try Check.count(errorLogits.count, shape.pixelCount, "errorLogits")
        try Check.count(gradient.count, shape.pixelCount, "gradient")
        try errorLogits.withUnsafeBufferPointer { try Check.allFinite($0, "errorLogits") }
        let ws = try statistics(segmentationLogits: segmentationLogits, labels: labels, shape: shape)
        let plane = shape.pixelsPerImage
        var loss = Loss(value: 0, images: [], errorFractions: [])
        for k in 0..<shape.images {
            let base = k * plane
            var n = 0, errors = 0
            for i in base..<(base + plane) where labels[i] != ignoreLabel {
                n += 1
                errors += Int(ws.wrong[i])
            }
            let fraction = n > 0 ? Double(errors) / Double(n) : 0
            let scale = n > 0 ? 1 / (Double(shape.images) * Double(n)) : 0
            var sum = 0.0
            for i in base..<(base + plane) {
                guard labels[i] != ignoreLabel else {
                    gradient[i] = 0
                    continue
                }
                let target = Double(ws.wrong[i])
                let largest = exp(-Double(ws.logSum[i]))  // max_j p_ij = 1 / Σ exp(x_j − m)
                let w = target == 0 ? fraction : (largest > confidence ? hardWeight : easyWeight)
                let z = Double(errorLogits[i])
                let bce = Swift.max(z, 0) - z * target + log1p(exp(-abs(z)))
                sum += w * bce
                gradient[i] = saturatingFloat(w * (Self.sigmoid(z) - target) * scale)
            }
            loss.images.append(n > 0 ? sum / Double(n) : 0)
            loss.errorFractions.append(fraction)
        }
        loss.value = loss.images.reduce(0, +) / Double(shape.images)
        return loss
    }

    /// The binarised error map E = [σ(z) > t] as 0/1 pixel weights for the detail branch's
    /// cross-entropy: `LabelSmoothedCrossEntropy().evaluate(..., pixelWeights: detailWeights)`.
    public func detailWeights(errorLogits: [Float]) throws -> [Float] {
        try validate()
        try errorLogits.withUnsafeBufferPointer { try Check.allFinite($0, "errorLogits") }
        return errorLogits.map { Self.sigmoid(Double($0)) > threshold ? 1 : 0 }
    }

    /// The fused class probabilities P_f = E · softmax(detail) + (1 − E) · softmax(segmentation), NCHW.
    public func fuse(
        segmentationLogits: [Float], detailLogits: [Float], errorLogits: [Float], shape: BatchShape
    ) throws -> [Float] {
        try shape.validate()
        try validate()
        try Check.count(errorLogits.count, shape.pixelCount, "errorLogits")
        try errorLogits.withUnsafeBufferPointer { try Check.allFinite($0, "errorLogits") }
        let labels = [Int32](repeating: ignoreLabel == 0 ? 1 : 0, count: shape.pixelCount)
        let segmentation = ObjectiveWorkspace(), detail = ObjectiveWorkspace()
        try labels.withUnsafeBufferPointer { y in
            try segmentationLogits.withUnsafeBufferPointer {
                try statistics(logits: $0, labels: y, shape: shape, argument: "segmentationLogits", workspace: segmentation)
            }
            try detailLogits.withUnsafeBufferPointer {
                try statistics(logits: $0, labels: y, shape: shape, argument: "detailLogits", workspace: detail)
            }
        }
        let plane = shape.pixelsPerImage
        var fused = [Float](repeating: 0, count: shape.logitCount)
        for k in 0..<shape.images {
            for p in 0..<plane {
                let i = k * plane + p
                let useDetail = Self.sigmoid(Double(errorLogits[i])) > threshold
                let (x, ws) = useDetail ? (detailLogits, detail) : (segmentationLogits, segmentation)
                let shift = Double(ws.maximum[i]) + Double(ws.logSum[i])
                for c in 0..<shape.classes {
                    let j = (k * shape.classes + c) * plane + p
                    fused[j] = Float(exp(Double(x[j]) - shift))
                }
            }
        }
        return fused
    }

    /// Error-pixel IoU and hard recall of the predicted error map against the true one.
    public func metrics(
        errorLogits: [Float], segmentationLogits: [Float], labels: [Int32], shape: BatchShape
    ) throws -> Metrics {
        try shape.validate()
        try validate()
        try Check.count(errorLogits.count, shape.pixelCount, "errorLogits")
        try errorLogits.withUnsafeBufferPointer { try Check.allFinite($0, "errorLogits") }
        let ws = try statistics(segmentationLogits: segmentationLogits, labels: labels, shape: shape)
        var both = 0, either = 0, hard = 0, hardFound = 0
        for i in 0..<shape.pixelCount where labels[i] != ignoreLabel {
            let truth = ws.wrong[i] != 0
            let predicted = Self.sigmoid(Double(errorLogits[i])) > threshold
            if truth && predicted { both += 1 }
            if truth || predicted { either += 1 }
            if truth && exp(-Double(ws.logSum[i])) > confidence {
                hard += 1
                if predicted { hardFound += 1 }
            }
        }
        return Metrics(
            errorIoU: either > 0 ? Double(both) / Double(either) : nil,
            hardRecall: hard > 0 ? Double(hardFound) / Double(hard) : nil)
    }
}
