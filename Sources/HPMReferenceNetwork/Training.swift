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

/// The scores of one run on the test split.
public struct RunResult: Sendable {
    public var pixelAccuracy: Double
    public var meanAccuracy: Double
    public var meanIoU: Double
    /// The mean objective of each epoch.
    public var losses: [Double]
    /// The global parameter-gradient norm of every step, before clipping.
    public var gradientNorms: [Float] = []
    /// The trained network.
    public var network: ReferenceNetwork
}

/// Trains the reference network with one objective configuration and scores it.
/// Deterministic for `seed` (the training scenes come from `seed`, the test scenes from a
/// different stream, the weights from `seed`).
public func train(
    _ configuration: ObjectiveConfiguration, settings s: TrainingSettings, seed: UInt64, scoredOn split: HeldOutSplit = .test
) throws -> RunResult {
    let trainSet = trainingScenes(settings: s, seed: seed)
    let testSet = split.scenes(settings: s, seed: seed)
    let testImages = split.count(s)
    let classes = SceneGenerator.classes
    var network = ReferenceNetwork(classes: classes, width: s.networkWidth, seed: seed)
    var sgd = MomentumSGD(for: network, learningRate: s.learningRate)
    let objective = HardPixelMiningObjective(configuration)
    let workspace = ObjectiveWorkspace()
    let plane = s.height * s.width
    let shape = BatchShape(images: s.batch, classes: classes, height: s.height, width: s.width)
    var logitGradient = [Float](repeating: 0, count: shape.logitCount)
    var depthGradient = [Float](repeating: 0, count: shape.pixelCount)
    var losses: [Double] = []
    var norms: [Float] = []
    let batches = s.trainImages / s.batch
    for epoch in 0..<s.epochs {
        var total = 0.0
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
                depthGradient: &depthGradient, workspace: workspace)
            total += r.value
            let g = network.backward(a, logitGradient: logitGradient, depthGradient: depthGradient, images: s.batch, height: s.height, width: s.width)
            norms.append(MomentumSGD.norm(g))
            sgd.step(&network, gradient: g, maximumNorm: s.gradientClip)
        }
        losses.append(total / Double(batches))
    }
    var confusion = try ConfusionMatrix(classes: classes)
    let a = network.forward(testSet.rgb, images: testImages, height: s.height, width: s.width)
    try confusion.add(
        predictions: ReferenceNetwork.predictions(a.logits, classes: classes, images: testImages, plane: plane),
        labels: testSet.labels)
    return RunResult(
        pixelAccuracy: confusion.pixelAccuracy ?? 0, meanAccuracy: confusion.meanAccuracy ?? 0,
        meanIoU: confusion.meanIoU ?? 0, losses: losses, gradientNorms: norms, network: network)
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
