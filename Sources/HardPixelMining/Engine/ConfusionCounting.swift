import HardPixelMiningKernels
/// The loops behind ``ConfusionMatrix``: validation of a batch, counting, and the totals the
/// scores need. `counts` is row-major, `counts[truth · classes + prediction]`.
enum ConfusionCounting {
    /// The first labelled pixel whose label or prediction is not a class, as the typed error.
    static func firstInvalid(
        predictions: [Int32], labels: [Int32], classes: Int, ignoreLabel: Int32
    ) -> HardPixelMiningError? {
        for i in labels.indices where labels[i] != ignoreLabel {
            let t = Int(labels[i]), p = Int(predictions[i])
            guard t >= 0 && t < classes else {
                return .labelOutOfRange(argument: "labels", index: i, value: labels[i], classCount: classes, ignoreLabel: ignoreLabel)
            }
            guard p >= 0 && p < classes else {
                return .labelOutOfRange(argument: "predictions", index: i, value: predictions[i], classCount: classes, ignoreLabel: -1)
            }
        }
        return nil
    }

    /// Adds every labelled pixel (validated) to `counts`.
    static func add(predictions: [Int32], labels: [Int32], classes: Int, ignoreLabel: Int32, to counts: inout [Int]) {
        for i in labels.indices where labels[i] != ignoreLabel {
            counts[Int(labels[i]) * classes + Int(predictions[i])] += 1
        }
    }

    /// Per class: its ground-truth total (row sum), predicted total (column sum) and correct count.
    static func totals(_ counts: [Int], classes: Int) -> (truth: [Int], predicted: [Int], correct: [Int]) {
        var truth = [Int](repeating: 0, count: classes), predicted = truth, correct = truth
        for t in 0..<classes {
            for p in 0..<classes {
                let n = counts[t * classes + p]
                truth[t] += n
                predicted[p] += n
            }
            correct[t] = counts[t * classes + t]
        }
        return (truth, predicted, correct)
    }
}
