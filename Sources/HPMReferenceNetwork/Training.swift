import HardPixelMining

/// The settings of one training run on synthetic scenes.
public struct TrainingSettings: Sendable {
    public var height = 32, width = 48
    public var trainImages = 64, testImages = 32, batch = 8
    public var epochs = 30
    public var learningRate: Float = 0.1
    public var networkWidth = 8

    public init() {}
}

/// The scores of one run on the test split.
public struct RunResult: Sendable {
    public var pixelAccuracy: Double
    public var meanAccuracy: Double
    public var meanIoU: Double
    /// The mean objective of each epoch.
    public var losses: [Double]
    /// The trained network.
    public var network: ReferenceNetwork
}

/// Trains the reference network with one objective configuration and scores it.
/// Deterministic for `seed` (the training scenes come from `seed`, the test scenes from a
/// different stream, the weights from `seed`).
public func train(_ configuration: ObjectiveConfiguration, settings s: TrainingSettings, seed: UInt64) throws -> RunResult {
    let scenes = SceneGenerator(height: s.height, width: s.width)
    let trainSet = trainingScenes(settings: s, seed: seed)
    let testSet = scenes.scenes(count: s.testImages, seed: 0xC0FFEE &+ seed)
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
            sgd.step(&network, gradient: g)
        }
        losses.append(total / Double(batches))
    }
    var confusion = try ConfusionMatrix(classes: classes)
    let a = network.forward(testSet.rgb, images: s.testImages, height: s.height, width: s.width)
    try confusion.add(
        predictions: ReferenceNetwork.predictions(a.logits, classes: classes, images: s.testImages, plane: plane),
        labels: testSet.labels)
    return RunResult(
        pixelAccuracy: confusion.pixelAccuracy ?? 0, meanAccuracy: confusion.meanAccuracy ?? 0,
        meanIoU: confusion.meanIoU ?? 0, losses: losses, network: network)
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
/// switch (epoch 10 of the paper's schedule) placed at a third of the run.
public func ablationConfiguration(_ row: AblationRow, epochs: Int) -> ObjectiveConfiguration {
    var c = ObjectiveConfiguration.ablation(row, totalEpochs: Double(epochs))
    if !c.depthPredictionErrorWeight.isAlwaysZero {
        c.depthPredictionErrorWeight.switchEpoch = Double(epochs) / 3
    }
    return c
}
