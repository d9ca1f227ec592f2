import HPMReferenceNetwork
import HardPixelMining
import Testing

/// The losses end to end through the reference network, on generated scenes.
@Suite struct NetworkTests {
    static let scenes = SceneGenerator(height: 8, width: 12)

    /// The network's parameter gradient (hand-written backward, fed by the objective's
    /// gradients) against central differences of the objective's value.
    @Test func gradientsThroughTheNetworkMatchFiniteDifferences() throws {
        let (rgb, labels, depth) = Self.scenes.scenes(count: 2, seed: 5)
        let shape = BatchShape(images: 2, classes: SceneGenerator.classes, height: 8, width: 12)
        var c = ObjectiveConfiguration.segmentationOnly
        c.depthWeight = 1
        c.depthPredictionErrorWeight = .constant(1)
        c.propagatesDepthPredictionErrorToDepth = true  // so the gradient includes ∂L_R/∂logD
        let objective = HardPixelMiningObjective(c)
        var network = ReferenceNetwork(classes: shape.classes, width: 3, seed: 9)
        func loss(_ n: ReferenceNetwork) throws -> Double {
            let a = n.forward(rgb, images: 2, height: 8, width: 12)
            return try objective.evaluate(
                logits: a.logits, labels: labels, predictedLogDepth: a.logDepth, groundTruthDepth: depth, shape: shape,
                epoch: 0).value
        }
        var gx = [Float](repeating: 0, count: shape.logitCount), gd = [Float](repeating: 0, count: shape.pixelCount)
        let a = network.forward(rgb, images: 2, height: 8, width: 12)
        _ = try objective.evaluate(
            logits: a.logits, labels: labels, predictedLogDepth: a.logDepth, groundTruthDepth: depth, shape: shape,
            epoch: 0, logitGradient: &gx, depthGradient: &gd)
        let g = network.backward(a, logitGradient: gx, depthGradient: gd, images: 2, height: 8, width: 12)
        var checked = 0, agreed = 0
        for l in network.layers.indices {
            for i in stride(from: 0, to: network.layers[l].weights.count, by: Swift.max(1, network.layers[l].weights.count / 6)) {
                let h: Float = 1e-2
                let w0 = network.layers[l].weights[i]
                network.layers[l].weights[i] = w0 + h
                let plus = try loss(network)
                network.layers[l].weights[i] = w0 - h
                let minus = try loss(network)
                network.layers[l].weights[i] = w0
                let numeric = (plus - minus) / Double(2 * h)
                let analytic = Double(g[l].weights[i])
                checked += 1
                if abs(numeric - analytic) <= 2e-3 + 0.05 * abs(analytic) { agreed += 1 }
            }
            // Biases too.
            let h: Float = 1e-2
            let b0 = network.layers[l].biases[0]
            network.layers[l].biases[0] = b0 + h
            let plus = try loss(network)
            network.layers[l].biases[0] = b0 - h
            let minus = try loss(network)
            network.layers[l].biases[0] = b0
            checked += 1
            if abs((plus - minus) / Double(2 * h) - Double(g[l].biases[0])) <= 2e-3 + 0.05 * abs(Double(g[l].biases[0])) { agreed += 1 }
        }
        // Float32 differences across ReLU kinks may miss a few; the rest must agree.
        #expect(checked >= 30)
        #expect(Double(agreed) >= 0.9 * Double(checked), "\(agreed) of \(checked) parameters agree")
    }

    /// A short run with each Table II objective lowers that objective. The objective is
    /// compared at one fixed epoch (the last) before and after training, because β's schedule
    /// and the pacing change the objective itself during the run.
    @Test(arguments: AblationRow.allCases)
    func trainingLowersTheLoss(row: AblationRow) throws {
        var s = TrainingSettings()
        (s.height, s.width, s.trainImages, s.testImages, s.epochs, s.networkWidth) = (16, 24, 16, 8, 6, 4)
        let c = ablationConfiguration(row, epochs: s.epochs)
        let r = try train(c, settings: s, seed: 3)
        #expect(r.losses.allSatisfy { $0.isFinite })
        let initial = ReferenceNetwork(classes: SceneGenerator.classes, width: s.networkWidth, seed: 3)
        let before = try trainingObjective(initial, c, settings: s, seed: 3, epoch: Double(s.epochs))
        let after = try trainingObjective(r.network, c, settings: s, seed: 3, epoch: Double(s.epochs))
        #expect(after < before, "\(row.rawValue): \(before) → \(after)")
        #expect(r.pixelAccuracy > 0 && r.meanIoU > 0)
    }

    /// After training, the DPE weight is higher at depth boundaries and the DSE weight higher on
    /// the look-alike chair and glass table than on wall and floor.
    @Test func weightMapsLandOnTheHardPixels() throws {
        var s = TrainingSettings()
        (s.height, s.width, s.trainImages, s.testImages, s.epochs, s.networkWidth) = (16, 24, 32, 8, 12, 4)
        let r = try train(ablationConfiguration(.withDepth, epochs: s.epochs), settings: s, seed: 4)
        let scenes = SceneGenerator(height: s.height, width: s.width)
        let test = scenes.scenes(count: 8, seed: 77)
        let shape = BatchShape(images: 8, classes: SceneGenerator.classes, height: s.height, width: s.width)
        let a = r.network.forward(test.rgb, images: 8, height: s.height, width: s.width)
        let wR = try DepthPredictionError().weights(
            predictedLogDepth: a.logDepth, groundTruthDepth: test.depth, labels: test.labels, shape: shape)
        // Boundary: a valid neighbour whose depth differs by more than 10.
        var boundary: [Float] = [], interior: [Float] = []
        for k in 0..<8 {
            for y in 0..<s.height {
                for x in 0..<s.width {
                    let i = k * s.height * s.width + y * s.width + x
                    guard test.labels[i] != 255 && test.depth[i] >= 1 else { continue }
                    var edge = false
                    for (dy, dx) in [(0, 1), (1, 0), (0, -1), (-1, 0)] {
                        let (yy, xx) = (y + dy, x + dx)
                        guard yy >= 0 && yy < s.height && xx >= 0 && xx < s.width else { continue }
                        let j = k * s.height * s.width + yy * s.width + xx
                        if test.depth[j] >= 1 && abs(test.depth[j] - test.depth[i]) > 10 { edge = true }
                    }
                    (edge ? { boundary.append(wR[i]) } : { interior.append(wR[i]) })()
                }
            }
        }
        let meanB = boundary.reduce(0, +) / Float(boundary.count), meanI = interior.reduce(0, +) / Float(interior.count)
        #expect(!boundary.isEmpty && meanB > meanI, "DPE weight at boundaries \(meanB) vs interior \(meanI)")

        let predictions = ReferenceNetwork.predictions(a.logits, classes: shape.classes, images: 8, plane: s.height * s.width)
        let wZ = try DepthAwareSegmentationError().weights(
            predictions: predictions, labels: test.labels, groundTruthDepth: test.depth, shape: shape)
        let lookAlike = test.labels.indices.filter { test.labels[$0] == 2 || test.labels[$0] == 3 }.map { wZ[$0] }
        let easy = test.labels.indices.filter { test.labels[$0] == 0 || test.labels[$0] == 1 }.map { wZ[$0] }
        let meanL = lookAlike.reduce(0, +) / Float(lookAlike.count), meanE = easy.reduce(0, +) / Float(easy.count)
        #expect(meanL > meanE, "DSE weight on chair/table \(meanL) vs wall/floor \(meanE)")
    }

    @Test func metrics() throws {
        var m = try ConfusionMatrix(classes: 3)
        try m.add(predictions: [0, 0, 1, 1, 2, 0], labels: [0, 1, 1, 255, 2, 2])
        #expect(m.pixelAccuracy == 3.0 / 5.0)
        #expect(abs(m.meanAccuracy! - (1 + 0.5 + 0.5) / 3) < 1e-12)
        // Counted (truth, prediction): (0,0) (1,0) (1,1) (2,2) (2,0).
        // IoU 0: 1 / (1 + 3 − 1); IoU 1: 1 / (2 + 1 − 1); IoU 2: 1 / (2 + 1 − 1).
        #expect(m.intersectionOverUnion.map { $0! } == [1.0 / 3.0, 0.5, 0.5])
        // A class absent from both is left out of the means.
        var n = try ConfusionMatrix(classes: 4)
        try n.add(predictions: [0, 1], labels: [0, 1])
        #expect(n.meanIoU == 1 && n.intersectionOverUnion[3] == nil)
        #expect(throws: HardPixelMiningError.labelOutOfRange(argument: "labels", index: 0, value: 7, classCount: 4, ignoreLabel: 255)) {
            try n.add(predictions: [0], labels: [7])
        }
    }
}
