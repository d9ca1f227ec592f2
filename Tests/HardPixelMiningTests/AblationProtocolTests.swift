import Foundation
import HPMReferenceNetwork
import HardPixelMining
import Testing

/// The pieces of the main job's two protocols and its premise check: the ranking measures
/// against hand-computed values, fine-tuning and the frozen depth fit, and what each epoch
/// records.
@Suite struct AblationProtocolTests {
    static var tiny: TrainingSettings {
        var s = TrainingSettings()
        (s.height, s.width, s.trainImages, s.validationImages, s.testImages, s.epochs, s.networkWidth) = (16, 24, 16, 8, 8, 3, 4)
        return s
    }

    @Test func theAreaUnderTheCurveCountsOrderedPairs() throws {
        // scikit-learn's roc_auc_score example: 3 of the 4 (positive, negative) pairs ordered.
        #expect(ErrorRanking.areaUnderCurve(scores: [0.1, 0.4, 0.35, 0.8], positives: [false, false, true, true]) == 0.75)
        #expect(ErrorRanking.areaUnderCurve(scores: [1, 2, 3], positives: [false, true, true]) == 1)
        #expect(ErrorRanking.areaUnderCurve(scores: [3, 2, 1], positives: [false, true, true]) == 0)
        // Ties count half: every pair tied.
        #expect(ErrorRanking.areaUnderCurve(scores: [5, 5, 5, 5], positives: [true, false, true, false]) == 0.5)
        // One tied pair of four: (1 + 1 + 0.5 + 0) / 4.
        #expect(ErrorRanking.areaUnderCurve(scores: [1, 2, 2, 3], positives: [false, true, false, true]) == 0.875)
        #expect(ErrorRanking.areaUnderCurve(scores: [1, 2], positives: [true, true]) == nil)
    }

    @Test func precisionAtTheTopCountsTiesInProportion() throws {
        let scores: [Double] = (0..<20).map(Double.init)
        let positives = (0..<20).map { $0 >= 18 || $0 == 3 }
        // The top 10% of 20 is the 2 largest (18, 19): both positive.
        #expect(ErrorRanking.precisionAtTop(0.1, scores: scores, positives: positives) == 1)
        #expect(ErrorRanking.precisionAtTop(0.2, scores: scores, positives: positives) == 0.5)
        // k = 2 of [3, 2, 2, 2, 1]: the 3 (negative), then one of three tied 2s of which one is
        // positive: (0 + 1/3) / 2.
        let p = try #require(ErrorRanking.precisionAtTop(0.4, scores: [3, 2, 2, 2, 1], positives: [false, true, false, false, true]))
        #expect(abs(p - 1.0 / 6) < 1e-15)
        #expect(ErrorRanking.precisionAtTop(0.1, scores: [], positives: []) == nil)
    }

    @Test func depthQualityIsAbsRelAndDeltaOnValidPixels() {
        // Pixels: exact (2 vs 2), 12 vs 8 (rel 0.5, ratio 1.5), a hole (0) skipped.
        let q = DepthQuality(
            predictedLogDepth: [Float(2).logValue, Float(12).logValue, 3], groundTruthDepth: [2, 8, 0])
        #expect(abs(q.absoluteRelativeError - 0.25) < 1e-6)
        #expect(q.withinRatio125 == 0.5)
        #expect(DepthQuality(predictedLogDepth: [1], groundTruthDepth: [0]).absoluteRelativeError == 0)
    }

    @Test func fineTuningFromTheInitialWeightsIsTrainingFromScratch() throws {
        let s = Self.tiny
        let c = ablationConfiguration(.paced, epochs: s.epochs)
        let scratch = try train(c, settings: s, seed: 5)
        let start = ReferenceNetwork(classes: SceneGenerator.classes, width: s.networkWidth, seed: 5)
        let continued = try train(c, settings: s, seed: 5, from: start)
        #expect(scratch.losses == continued.losses)
        #expect(scratch.scores == continued.scores)
        // From another start, another run.
        let other = try train(c, settings: s, seed: 5, from: ReferenceNetwork(classes: SceneGenerator.classes, width: s.networkWidth, seed: 6))
        #expect(other.losses != scratch.losses)
    }

    @Test func aFrozenStepLeavesTheOtherLayersUntouched() throws {
        var s = Self.tiny
        s.epochs = 2
        let start = try train(ablationConfiguration(.segmentation, epochs: s.epochs), settings: s, seed: 2).network
        let fitted = try fittingDepthBranch(of: start, settings: s, seed: 2, epochs: 2)
        for l in 0..<4 {
            #expect(fitted.layers[l].weights == start.layers[l].weights && fitted.layers[l].biases == start.layers[l].biases, "layer \(l)")
        }
        #expect(fitted.layers[4].weights != start.layers[4].weights)
        #expect(fitted.layers[5].biases != start.layers[5].biases)
        // The segmentation network is exactly the start's; the depth loss fell.
        let set = trainingScenes(settings: s, seed: 2)
        let n = s.trainImages, shape = PixelMapShape(images: n, height: s.height, width: s.width)
        let a = start.forward(set.rgb, images: n, height: s.height, width: s.width)
        let b = fitted.forward(set.rgb, images: n, height: s.height, width: s.width)
        #expect(a.logits == b.logits)
        var g = [Float](repeating: 0, count: shape.pixelCount)
        let before = try ScaleInvariantDepthLoss().evaluate(predictedLogDepth: a.logDepth, groundTruthDepth: set.depth, shape: shape, gradient: &g).value
        let after = try ScaleInvariantDepthLoss().evaluate(predictedLogDepth: b.logDepth, groundTruthDepth: set.depth, shape: shape, gradient: &g).value
        #expect(after < before, "\(before) → \(after)")
    }

    @Test func eachEpochRecordsTheWeightsAndThePaces() throws {
        var s = Self.tiny
        s.epochs = 3
        let plain = try train(ablationConfiguration(.segmentation, epochs: s.epochs), settings: s, seed: 1)
        #expect(plain.epochs.count == 3)
        for e in plain.epochs {
            #expect(e.weightMean == 1 && e.weightSpread == 0)  // W = 1 on every labelled pixel
            #expect(e.depthPredictionErrorInPace == nil && e.segmentationErrorInPace == nil && e.segmentationInPace == nil)
            #expect(e.gradientNorm > 0)
        }
        #expect(plain.depthAtSwitch == nil)
        let paced = try train(ablationConfiguration(.paced, epochs: s.epochs), settings: s, seed: 1)
        // β switches on at epoch 1 (a third of 3): W = 1 before on the labelled pixels with
        // γ wZ on top, more after.
        #expect(paced.epochs[2].weightMean > paced.epochs[0].weightMean)
        #expect(paced.epochs.allSatisfy { $0.weightMean >= 1 && $0.weightSpread > 0 })
        for e in paced.epochs {
            let r = try #require(e.depthPredictionErrorInPace), z = try #require(e.segmentationErrorInPace)
            #expect(r > 0 && r <= 1 && z > 0 && z <= 1)
        }
        let depth = try #require(paced.depthAtSwitch)
        #expect(depth.absoluteRelativeError > 0 && depth.withinRatio125 >= 0 && depth.withinRatio125 <= 1)
        let spl = try train(ablationConfiguration(.segmentationWithPacing, epochs: s.epochs), settings: s, seed: 1)
        for e in spl.epochs {
            let kept = try #require(e.segmentationInPace)
            #expect(kept > 0 && kept <= 1)
            #expect(abs(e.weightMean - kept) < 1e-12)  // W is the 0/1 pace mask
        }
    }

    @Test func thePremiseScoresEveryLabelledPixelWithDepthOnce() throws {
        var s = Self.tiny
        s.epochs = 4
        let start = try train(ablationConfiguration(.segmentation, epochs: s.epochs), settings: s, seed: 3).network
        let m = try PremiseMeasurement(try fittingDepthBranch(of: start, settings: s, seed: 3, epochs: 1), on: .validation, settings: s, seed: 3)
        let set = HeldOutSplit.validation.scenes(settings: s, seed: 3)
        let labelled = set.labels.count { $0 != 255 }
        let withDepth = zip(set.labels, set.depth).count { $0 != 255 && DepthBinning.paper.isValid($1) }
        #expect(m.scoredPixels == withDepth && m.scoredPixels + m.pixelsWithoutDepth == labelled)
        #expect(m.areaUnderCurve[.chance] == 0.5 && m.precisionAtTop10[.chance] == m.errorRate)
        for score in PremiseScore.allCases {
            let auc = try #require(m.areaUnderCurve[score]), p = try #require(m.precisionAtTop10[score])
            #expect(auc >= 0 && auc <= 1 && p >= 0 && p <= 1, "\(score)")
        }
        // A pixel whose argmax is wrong has a larger cross-entropy than most right ones.
        #expect(m.areaUnderCurve[.pixelLoss]! > 0.9)
    }

    @Test func base64MatchesRFC4648() {
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
        for (text, expected) in vectors { #expect(Base64.encode(Array(text.utf8)) == expected, "\(text)") }
    }

    @Test func chartsAreWideEnoughForTheirTitleAndDrawGaps() throws {
        let title = String(repeating: "W", count: 120)
        let svg = IntervalChart.svg(title: title, panels: [
            .init(heading: "first", axis: "Δ", rows: [.init(label: "a", mean: 1, low: 0.5, high: 1.5, highlighted: true)], reference: 0),
            .init(heading: "second", axis: "Δ", rows: [.init(label: "b", mean: -1, low: -2, high: 0.5, highlighted: false)], reference: 0),
        ])
        let width = try #require(Int(svg.split(separator: "\"")[3]))
        #expect(width >= 120 * 8)
        #expect(svg.contains(">first</text>") && svg.contains(">second</text>"))
        let lines = LineChart.svg(title: "t", xLabel: "epoch", panels: [.init(title: "p", series: [.init(label: "s", values: [1, nil, 2, 3])])])
        #expect(lines.components(separatedBy: "M").count - 1 == 2)  // the nil splits the line in two
        #expect(lines.contains(">s</text>"))
    }
}

extension Float {
    fileprivate var logValue: Float { Float(Foundation.log(Double(self))) }
}
