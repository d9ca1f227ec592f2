import HardPixelMining
import HardPixelMiningTestSupport
import Testing

/// Docs/Trainer.md's complete training step, compiled and run as printed: a toy model trained
/// with L_T on depth in metres; L_seg falls over the run.
@Suite struct TrainerExampleTests {
    @Test func trainingStepExampleRunsAndLearns() throws {
        let shape = BatchShape(images: 4, classes: 5, height: 12, width: 16)
        var random = TestRandom(seed: 2026)
        let HW = shape.pixelsPerImage
        let rgb = (0..<(shape.images * 3 * HW)).map { _ in Float(random.uniform(-1...1)) }
        // Labels a linear function of the colour can learn; 5% ignored.
        let labels: [Int32] = (0..<shape.pixelCount).map { i in
            let (k, p) = (i / HW, i % HW)
            if random.uniform() < 0.05 { return 255 }
            let r = rgb[(k * 3) * HW + p], g = rgb[(k * 3 + 1) * HW + p]
            return Int32(min(4, max(0, Int((r + g + 2) * 1.25))))
        }
        // Depth in metres (0.5...4.5 m), a function of the colour, with a few invalid pixels.
        let depthInMetres: [Float] = (0..<shape.pixelCount).map { i in
            let (k, p) = (i / HW, i % HW)
            return random.uniform() < 0.03 ? 0 : 2.5 + 2 * rgb[(k * 3 + 2) * HW + p]
        }
        var losses: [Double] = []

        /// Per pixel: logits_j = Σ_ch A[j][ch] · rgb_ch + a_j, and log-depth = Σ_ch b_ch · rgb_ch + c.
        struct ToyModel {
            var A: [Float], a: [Float], b: [Float] = [0, 0, 0], c: Float = 2

            init(classes: Int) {
                A = (0..<classes * 3).map { Float($0 % 7) * 0.01 }
                a = [Float](repeating: 0, count: classes)
            }

            /// NCHW logits and N·H·W log-depths from N·3·H·W images.
            func forward(_ rgb: [Float], _ shape: BatchShape) -> (logits: [Float], logDepth: [Float]) {
                let (C, HW) = (shape.classes, shape.pixelsPerImage)
                var logits = [Float](repeating: 0, count: shape.logitCount)
                var logDepth = [Float](repeating: c, count: shape.pixelCount)
                for k in 0..<shape.images {
                    for p in 0..<HW {
                        let x = (0..<3).map { rgb[(k * 3 + $0) * HW + p] }
                        for j in 0..<C {
                            logits[(k * C + j) * HW + p] = a[j] + A[j * 3] * x[0] + A[j * 3 + 1] * x[1] + A[j * 3 + 2] * x[2]
                        }
                        logDepth[k * HW + p] += b[0] * x[0] + b[1] * x[1] + b[2] * x[2]
                    }
                }
                return (logits, logDepth)
            }

            /// The backward pass from ∂L/∂logits and ∂L/∂logD (chain rule), and one SGD step.
            mutating func step(_ rgb: [Float], _ shape: BatchShape, dLogits: [Float], dLogDepth: [Float], rate: Float) {
                let (C, HW) = (shape.classes, shape.pixelsPerImage)
                var dA = [Float](repeating: 0, count: A.count), da = [Float](repeating: 0, count: C)
                var db: [Float] = [0, 0, 0], dc: Float = 0
                for k in 0..<shape.images {
                    for p in 0..<HW {
                        let x = (0..<3).map { rgb[(k * 3 + $0) * HW + p] }
                        for j in 0..<C {
                            let g = dLogits[(k * C + j) * HW + p]
                            da[j] += g
                            for ch in 0..<3 { dA[j * 3 + ch] += g * x[ch] }
                        }
                        let g = dLogDepth[k * HW + p]
                        dc += g
                        for ch in 0..<3 { db[ch] += g * x[ch] }
                    }
                }
                for i in A.indices { A[i] -= rate * dA[i] }
                for j in a.indices { a[j] -= rate * da[j] }
                for ch in 0..<3 { b[ch] -= rate * db[ch] }
                c -= rate * dc
            }
        }

        // The run: E epochs; β switches from 0 to 10 at a third of the run (see below).
        let totalEpochs = 12.0
        var configuration = ObjectiveConfiguration.paperPaced(totalEpochs: totalEpochs)
        configuration.depthPredictionErrorWeight = WeightSchedule(initial: 0, later: 10, switchEpoch: totalEpochs / 3)
        configuration.depthBinning = .metric                           // depth in metres: 0.1...10 m
        let objective = HardPixelMiningObjective(configuration)
        let workspace = try ObjectiveWorkspace(reservingFor: shape)   // steady-state steps allocate nothing
        var dLogits = [Float](repeating: 0, count: shape.logitCount)
        var dLogDepth = [Float](repeating: 0, count: shape.pixelCount)
        var model = ToyModel(classes: shape.classes)

        for epoch in 0..<Int(totalEpochs) {
            let (logits, logDepth) = model.forward(rgb, shape)                 // 1. forward
            let result = try objective.evaluate(                               // 2. the loss and both gradients
                logits: logits, labels: labels, predictedLogDepth: logDepth, groundTruthDepth: depthInMetres,
                shape: shape, epoch: Double(epoch), logitGradient: &dLogits, depthGradient: &dLogDepth,
                workspace: workspace)
            let t = result.batch                                               // 3. log every term
            print(epoch, result.value, t.segmentation, t.depth, t.depthPredictionError, t.segmentationError,
                  result.depthPredictionErrorWeight, result.sums[0].depthPredictionErrorPace ?? .nan,
                  result.imagesWithoutDepth)
            losses.append(t.segmentation)
            model.step(rgb, shape, dLogits: dLogits, dLogDepth: dLogDepth, rate: 1)    // 4. backward, update
        }
        #expect(losses.count == 12)
        #expect(losses.last! < 0.8 * losses.first!, "L_seg \(losses.first!) → \(losses.last!)")
        #expect(configuration.depthBinning == .metric)
    }
}
