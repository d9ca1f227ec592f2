/// A confusion matrix of semantic segmentation, and the three standard scores.
///
///     pixel accuracy = Σ_c M[c][c] / Σ M
///     mean accuracy  = mean over classes c present in the ground truth of M[c][c] / Σ_j M[c][j]
///     mean IoU       = mean over classes c present in ground truth or prediction of
///                      M[c][c] / (Σ_j M[c][j] + Σ_i M[i][c] − M[c][c])
///
/// Rows are ground truth, columns predictions; ignored pixels are not counted. Classes
/// absent from both the ground truth and the prediction are left out of the means.
public struct ConfusionMatrix: Sendable, Hashable {
    public let classes: Int
    /// The most classes a matrix may have (its counts take classes² integers: 128 MiB at most).
    public static let maximumClasses = 4096
    /// Row-major counts: `counts[truth * classes + prediction]`.
    public private(set) var counts: [Int]

    public init(classes: Int) throws {
        if classes < 2 || classes > Self.maximumClasses {
            throw HardPixelMiningError.invalidDimension(
                argument: "classes", value: classes, requirement: "in 2...\(Self.maximumClasses)")
        }
        self.classes = classes
        counts = Array(repeating: 0, count: classes * classes)
    }

    /// Adds a batch: `predictions` and `labels` of equal size; labels equal to `ignoreLabel` are skipped.
    /// Throws, leaving the matrix unchanged, for a labelled pixel whose label or prediction is
    /// not in `0..<classes`.
    public mutating func add(predictions: [Int32], labels: [Int32], ignoreLabel: Int32 = 255) throws {
        try Check.count(predictions.count, labels.count, "predictions")
        if let error = ConfusionCounting.firstInvalid(
            predictions: predictions, labels: labels, classes: classes, ignoreLabel: ignoreLabel) {
            throw error
        }
        ConfusionCounting.add(predictions: predictions, labels: labels, classes: classes, ignoreLabel: ignoreLabel, to: &counts)
    }

    /// Correct pixels over counted pixels (nil when nothing was counted).
    public var pixelAccuracy: Double? {
        let t = ConfusionCounting.totals(counts, classes: classes)
        let total = t.truth.reduce(0, +)
        guard total > 0 else { return nil }
        return Double(t.correct.reduce(0, +)) / Double(total)
    }

    /// The mean over ground-truth classes of their recall.
    public var meanAccuracy: Double? {
        let t = ConfusionCounting.totals(counts, classes: classes)
        let present = (0..<classes).filter { t.truth[$0] > 0 }
        guard !present.isEmpty else { return nil }
        return present.reduce(0.0) { $0 + Double(t.correct[$1]) / Double(t.truth[$1]) } / Double(present.count)
    }

    /// Each class's IoU, nil for a class absent from both ground truth and prediction.
    public var intersectionOverUnion: [Double?] {
        let t = ConfusionCounting.totals(counts, classes: classes)
        return (0..<classes).map { c in
            let union = t.truth[c] + t.predicted[c] - t.correct[c]
            return union > 0 ? Double(t.correct[c]) / Double(union) : nil
        }
    }

    /// The mean IoU over classes present in ground truth or prediction.
    public var meanIoU: Double? {
        let values = intersectionOverUnion.compactMap { $0 }
        return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }
}
