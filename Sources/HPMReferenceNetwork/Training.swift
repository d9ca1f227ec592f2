import HardPixelMining

/// The settings of one training run on synthetic scenes.
public struct TrainingSettings: Sendable {
    public var height = 24, width = 32
    public var trainImages = 64, validationImages = 32, testImages = 64, batch = 8
    public var epochs = 30
    /// Chosen by `hpm-ablation --tune` on the validation split, by the L_seg baseline alone.
    public var learningRate: Float = 0.2
    public var networkWidth = 6
    /// The global gradient norm each step is clipped to (nil: no clipping), as Hoyer et al.'s
    /// code does (`clip_grad_norm`). 2.5 lies above the largest norm the L_seg baseline reaches
    /// at the tuned setting (2.09 and 2.14 on seeds 1 and 2), so it leaves L_seg as it is and
    /// stops the rare spikes of the multi-task rows (27.9 in one L_seg + αL_dep run).
    public var gradientClip: Float? = 2.5

    public init() {}
}

/// The held-out scenes a run is scored on: validation (for choosing the network's capacity
/// and learning rate) or test (for the table). Each comes from its own seed stream.
public enum HeldOutSplit: Sendable {
    case validation, test

    /// The split's scenes for a run with `seed`.
    public func scenes(settings s: TrainingSettings, seed: UInt64) -> (rgb: [Float], labels: [Int32], depth: [Float]) {
        let generator = SceneGenerator(height: s.height, width: s.width)
        switch self {
        case .validation: return generator.scenes(count: s.validationImages, seed: 0x5EED_0000 &+ seed)
        case .test: return generator.scenes(count: s.testImages, seed: 0xC0FFEE &+ seed)
        }
    }

    func count(_ s: TrainingSettings) -> Int { self == .validation ? s.validationImages : s.testImages }
}

/// Pixel accuracy, mean accuracy and mean IoU of a network on held-out scenes.
public struct Scores: Sendable, Hashable {
    public var pixelAccuracy: Double
    public var meanAccuracy: Double
    public var meanIoU: Double
}

/// What one epoch of training did, for the mechanism plot: means over the epoch's steps.
public struct EpochRecord: Sendable, Hashable {
    /// The mean global parameter-gradient norm of the epoch's steps, before clipping.
    public var gradientNorm: Double
    /// The mean of the per-pixel loss weight `W_i` over the epoch's labelled pixels.
    public var weightMean: Double
    /// The standard deviation of `W_i` over the same pixels.
    public var weightSpread: Double
    /// The fraction of eligible pixels whose DPE weight counted (nil unless that term is paced).
    public var depthPredictionErrorInPace: Double?
    /// The fraction of eligible pixels whose DSE weight counted (nil unless that term is paced).
    public var segmentationErrorInPace: Double?
    /// The fraction of labelled pixels the paced segmentation term kept (nil unless it is paced).
    public var segmentationInPace: Double?
}

/// The scores of one run on the held-out split it was scored on.
public struct RunResult: Sendable {
    public var pixelAccuracy: Double
    public var meanAccuracy: Double
    public var meanIoU: Double
    /// The mean objective of each epoch.
    public var losses: [Double]
    /// The global parameter-gradient norm of every step, before clipping.
    public var gradientNorms: [Float] = []
    /// What each epoch did (gradient norm, loss weights, paces).
    public var epochs: [EpochRecord] = []
    /// The depth branch's quality on the run's validation scenes at the epoch where β
    /// switches on (nil when the row has no β term).
    public var depthAtSwitch: DepthQuality? = nil
    /// The trained network.
    public var network: ReferenceNetwork

    public var scores: Scores { Scores(pixelAccuracy: pixelAccuracy, meanAccuracy: meanAccuracy, meanIoU: meanIoU) }
}

/// Scores `network` on the `split` scenes of the run with `seed`.
public func score(_ network: ReferenceNetwork, on split: HeldOutSplit, settings s: TrainingSettings, seed: UInt64) throws -> Scores {
    let set = split.scenes(settings: s, seed: seed)
    let images = split.count(s)
    var confusion = try ConfusionMatrix(classes: network.classes)
    let a = network.forward(set.rgb, images: images, height: s.height, width: s.width)
    try confusion.add(
        predictions: ReferenceNetwork.predictions(a.logits, classes: network.classes, images: images, plane: s.height * s.width),
        labels: set.labels)
    return Scores(
        pixelAccuracy: confusion.pixelAccuracy ?? 0, meanAccuracy: confusion.meanAccuracy ?? 0, meanIoU: confusion.meanIoU ?? 0)
}

/// Trains the reference network with one objective configuration and scores it.
/// Deterministic for `seed` (the training scenes come from `seed`, the held-out scenes from a
/// different stream, the initial weights from `seed`). With `start`, training continues from
/// that network (fine-tuning) with a fresh momentum buffer; `settings.networkWidth` is then
/// the start's.
public func train(
    _ configuration: ObjectiveConfiguration, settings s: TrainingSettings, seed: UInt64, from start: ReferenceNetwork? = nil,
    scoredOn split: HeldOutSplit = .test
) throws -> RunResult {
    let trainSet = trainingScenes(settings: s, seed: seed)
    let classes = SceneGenerator.classes
    var network = start ?? ReferenceNetwork(classes: classes, width: s.networkWidth, seed: seed)
    var sgd = MomentumSGD(for: network, learningRate: s.learningRate)
    let objective = HardPixelMiningObjective(configuration)
    let workspace = ObjectiveWorkspace()
    let plane = s.height * s.width
    let shape = BatchShape(images: s.batch, classes: classes, height: s.height, width: s.width)
    var logitGradient = [Float](repeating: 0, count: shape.logitCount)
    var depthGradient = [Float](repeating: 0, count: shape.pixelCount)
    var maps = ObjectiveMapArrays(shape: shape, lossWeights: true)
    var losses: [Double] = []
    var norms: [Float] = []
    var records: [EpochRecord] = []
    var depthAtSwitch: DepthQuality? = nil
    let schedule = configuration.depthPredictionErrorWeight
    let switchEpoch = schedule.isAlwaysZero ? nil : schedule.switchEpoch
    let batches = s.trainImages / s.batch
    for epoch in 0..<s.epochs {
        if let switchEpoch, depthAtSwitch == nil, Double(epoch) >= switchEpoch {
            depthAtSwitch = try depthQuality(network, on: .validation, settings: s, seed: seed)
        }
        var total = 0.0
        var tally = EpochTally()
        for b in 0..<batches {
            let images = (b * s.batch)..<((b + 1) * s.batch)
            let rgb = Array(trainSet.rgb[(images.lowerBound * 3 * plane)..<(images.upperBound * 3 * plane)])
            let labels = Array(trainSet.labels[(images.lowerBound * plane)..<(images.upperBound * plane)])
            let depth = Array(trainSet.depth[(images.lowerBound * plane)..<(images.upperBound * plane)])
            let a = network.forward(rgb, images: s.batch, height: s.height, width: s.width)
            let e = Double(epoch) + Double(b) / Double(batches)
            let r = try objective.evaluate(
                logits: a.logits, labels: labels, predictedLogDepth: a.logDepth, groundTruthDepth: depth, shape: shape,
                epoch: Swift.min(e, configuration.pacing?.totalEpochs ?? e), logitGradient: &logitGradient,
                depthGradient: &depthGradient, maps: &maps, workspace: workspace)
            total += r.value
            let g = network.backward(a, logitGradient: logitGradient, depthGradient: depthGradient, images: s.batch, height: s.height, width: s.width)
            let norm = MomentumSGD.norm(g)
            norms.append(norm)
            tally.add(r, weights: maps.lossWeights!, labels: labels, ignoreLabel: configuration.ignoreLabel, norm: norm)
            sgd.step(&network, gradient: g, maximumNorm: s.gradientClip)
        }
        losses.append(total / Double(batches))
        records.append(tally.record)
    }
    let scores = try score(network, on: split, settings: s, seed: seed)
    return RunResult(
        pixelAccuracy: scores.pixelAccuracy, meanAccuracy: scores.meanAccuracy, meanIoU: scores.meanIoU, losses: losses,
        gradientNorms: norms, epochs: records, depthAtSwitch: depthAtSwitch, network: network)
}

/// Sums over one epoch's steps, for its ``EpochRecord``.
struct EpochTally {
    var steps = 0, normSum = 0.0
    var labelled = 0, weightSum = 0.0, weightSquares = 0.0
    var eligibleDPE = 0, countedDPE = 0, eligibleDSE = 0, countedDSE = 0, pacedLabelled = 0, kept = 0

    mutating func add(_ r: ObjectiveResult, weights: [Float], labels: [Int32], ignoreLabel: Int32, norm: Float) {
        steps += 1
        normSum += Double(norm)
        var paced = [Bool](repeating: false, count: r.sums.count)
        for (k, sums) in r.sums.enumerated() {
            if sums.depthPredictionErrorPace != nil {
                eligibleDPE += sums.eligiblePixels
                countedDPE += sums.countedDepthPredictionErrorPixels
            }
            if sums.segmentationErrorPace != nil {
                eligibleDSE += sums.eligiblePixels
                countedDSE += sums.countedSegmentationErrorPixels
            }
            paced[k] = sums.segmentationPace != nil
        }
        let plane = labels.count / Swift.max(1, r.sums.count)
        for i in labels.indices where labels[i] != ignoreLabel {
            let w = Double(weights[i])
            labelled += 1
            weightSum += w
            weightSquares += w * w
            if paced[i / plane] {
                pacedLabelled += 1
                if w > 0 { kept += 1 }
            }
        }
    }

    var record: EpochRecord {
        let mean = labelled > 0 ? weightSum / Double(labelled) : 0
        let variance = labelled > 0 ? Swift.max(0, weightSquares / Double(labelled) - mean * mean) : 0
        func fraction(_ part: Int, _ whole: Int) -> Double? { whole > 0 ? Double(part) / Double(whole) : nil }
        return EpochRecord(
            gradientNorm: steps > 0 ? normSum / Double(steps) : 0, weightMean: mean, weightSpread: variance.squareRoot(),
            depthPredictionErrorInPace: fraction(countedDPE, eligibleDPE),
            segmentationErrorInPace: fraction(countedDSE, eligibleDSE), segmentationInPace: fraction(kept, pacedLabelled))
    }
}

/// The training scenes of a run with `seed`.
public func trainingScenes(settings s: TrainingSettings, seed: UInt64) -> (rgb: [Float], labels: [Int32], depth: [Float]) {
    SceneGenerator(height: s.height, width: s.width).scenes(count: s.trainImages, seed: seed &* 1_000_003 &+ 1)
}

/// The objective of `network` on all training scenes of a run, at a fixed `epoch`: the
/// mean over the run's batches.
public func trainingObjective(
    _ network: ReferenceNetwork, _ configuration: ObjectiveConfiguration, settings s: TrainingSettings, seed: UInt64,
    epoch: Double
) throws -> Double {
    let set = trainingScenes(settings: s, seed: seed)
    let plane = s.height * s.width
    let shape = BatchShape(images: s.batch, classes: network.classes, height: s.height, width: s.width)
    let batches = s.trainImages / s.batch
    var total = 0.0
    for b in 0..<batches {
        let images = (b * s.batch)..<((b + 1) * s.batch)
        let a = network.forward(
            Array(set.rgb[(images.lowerBound * 3 * plane)..<(images.upperBound * 3 * plane)]), images: s.batch,
            height: s.height, width: s.width)
        total += try HardPixelMiningObjective(configuration).evaluate(
            logits: a.logits, labels: Array(set.labels[(images.lowerBound * plane)..<(images.upperBound * plane)]),
            predictedLogDepth: a.logDepth, groundTruthDepth: Array(set.depth[(images.lowerBound * plane)..<(images.upperBound * plane)]),
            shape: shape, epoch: epoch).value
    }
    return total / Double(batches)
}

/// The configuration of a Table II row for a run of `epochs` epochs: the paper's, with β's
/// switch (epoch 10 of the paper's schedule) placed at a third of the run (β = 0 before, 10
/// after), and pacing over the whole run.
public func ablationConfiguration(_ row: AblationRow, epochs: Int) -> ObjectiveConfiguration {
    var c = ObjectiveConfiguration.ablation(row, totalEpochs: Double(epochs))
    if !c.depthPredictionErrorWeight.isAlwaysZero {
        c.depthPredictionErrorWeight.switchEpoch = Double(epochs) / 3
    }
    return c
}
