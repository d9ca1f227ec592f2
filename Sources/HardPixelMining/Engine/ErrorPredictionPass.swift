import HardPixelMiningKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The error-prediction losses' computations (the equations are on ``ErrorPrediction``):
/// the shared statistics pass over the segmentation logits, then per pixel the balanced BCE,
/// the metrics, the detail weights and the fusion. Called after the API validated its inputs.
extension ErrorPrediction {
    /// The statistics pass over the segmentation logits, in a new workspace.
    func statistics(segmentationLogits: [Float], labels: [Int32], shape: BatchShape) throws -> ObjectiveWorkspace {
        let ws = ObjectiveWorkspace()
        try segmentationLogits.withUnsafeBufferPointer { x in
            try labels.withUnsafeBufferPointer { y in
                try statistics(logits: x, labels: y, shape: shape, argument: "segmentationLogits", workspace: ws)
            }
        }
        return ws
    }

    /// Runs the shared statistics pass on segmentation logits: `wrong` and `logSum` per pixel.
    func statistics(
        logits: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<Int32>, shape: BatchShape,
        argument: String, workspace: ObjectiveWorkspace
    ) throws {
        try Check.count(logits.count, shape.logitCount, argument)
        try Check.count(labels.count, shape.pixelCount, "labels")
        try Check.labels(labels, classCount: shape.classes, ignoreLabel: ignoreLabel, "labels")
        do {
            try StatisticsPass.run(
                targets: Targets(on: 1, off: 0, ignoreLabel: ignoreLabel), shape: shape,
                inputs: EngineInputs(logits: LogitBuffer(logits), labels: labels.baseAddress!), depthBinning: nil,
                regionTable: 0, workspace: workspace, threads: 1)
        } catch HardPixelMiningError.nonFiniteValue(_, let index, let value) {
            throw HardPixelMiningError.nonFiniteValue(argument: argument, index: index, value: value)
        }
    }

    @inline(__always)
    static func sigmoid(_ z: Double) -> Double {
        z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z))
    }

    func computeErrorMap(segmentationLogits: [Float], labels: [Int32], shape: BatchShape) throws -> [Bool] {
        let ws = try statistics(segmentationLogits: segmentationLogits, labels: labels, shape: shape)
        return (0..<shape.pixelCount).map { ws.wrong[$0] != 0 }
    }

    func computeBalancedLoss(
        errorLogits: [Float], segmentationLogits: [Float], labels: [Int32], shape: BatchShape, gradient: inout [Float]
    ) throws -> Loss {
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

    func computeDetailWeights(errorLogits: [Float]) -> [Float] {
        return errorLogits.map { Self.sigmoid(Double($0)) > threshold ? 1 : 0 }
    }

    func computeFusion(
        segmentationLogits: [Float], detailLogits: [Float], errorLogits: [Float], shape: BatchShape
    ) throws -> [Float] {
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
        let layout = TileLayout(shape)
        var fused = [Float](repeating: 0, count: shape.logitCount)
        for k in 0..<shape.images {
            for p in 0..<plane {
                let i = k * plane + p
                let useDetail = Self.sigmoid(Double(errorLogits[i])) > threshold
                let (x, ws) = useDetail ? (detailLogits, detail) : (segmentationLogits, segmentation)
                let shift = Double(ws.maximum[i]) + Double(ws.logSum[i])
                for c in 0..<shape.classes {
                    let j = k * shape.classes * plane + layout.offset(pixel: p, class: c, plane: plane)
                    fused[j] = Float(exp(Double(x[j]) - shift))
                }
            }
        }
        return fused
    }

    func computeMetrics(
        errorLogits: [Float], segmentationLogits: [Float], labels: [Int32], shape: BatchShape
    ) throws -> Metrics {
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
