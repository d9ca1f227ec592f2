import Benchmark
import HardPixelMining

// Workloads (SPEC §4): the paper's NYU-v2 training batch (8 × 40 × 480 × 640), the
// SUN RGB-D batch (C = 37), a sweep over resolution and classes, 1 and 2 threads, the
// weight maps alone, and the machine's memory floor for the same bytes.
//
// Each benchmark's scaled throughput counts logits (pixel·class elements) per second,
// so ns per pixel·class = 1e9 / throughput.

/// A generated batch with its output buffers, built once per benchmark.
final class Workload {
    let shape: BatchShape
    let logits: [Float]
    let labels: [Int32]
    let logDepth: [Float]
    let depth: [Float]
    var logitGradient: [Float]
    var depthGradient: [Float]
    let workspace: ObjectiveWorkspace

    init(_ shape: BatchShape) {
        self.shape = shape
        var state: UInt32 = 12345
        func next() -> Float {
            state = state &* 1_664_525 &+ 1_013_904_223
            return Float(state >> 8) / Float(1 << 24)
        }
        logits = (0..<shape.logitCount).map { _ in next() * 8 - 4 }
        labels = (0..<shape.pixelCount).map { _ in next() < 0.1 ? 255 : Int32(next() * Float(shape.classes - 1)) }
        depth = (0..<shape.pixelCount).map { _ in next() < 0.05 ? 0 : 1 + next() * 250 }
        logDepth = depth.map { $0 > 0 ? Float.log($0) + next() * 0.2 : 2 }
        logitGradient = [Float](repeating: 0, count: shape.logitCount)
        depthGradient = [Float](repeating: 0, count: shape.pixelCount)
        workspace = ObjectiveWorkspace(reservingFor: shape)
    }

    func run(_ objective: HardPixelMiningObjective) throws -> Double {
        try objective.evaluate(
            logits: logits, labels: labels, predictedLogDepth: logDepth, groundTruthDepth: depth, shape: shape,
            epoch: 20, logitGradient: &logitGradient, depthGradient: &depthGradient, workspace: workspace
        ).value
    }
}

extension Float {
    static func log(_ x: Float) -> Float {
        // A few Newton steps on exp: keeps the benchmark free of Foundation.
        var y = Float(x.exponent) * 0.693_147_2
        for _ in 0..<30 { y -= 1 - x / exp(y) }
        return y
    }
    static func exp(_ x: Float) -> Float {
        var term: Float = 1, sum: Float = 1
        let n = (x / 0.693_147_2).rounded(.down)
        let r = x - n * 0.693_147_2
        for i in 1..<12 { term *= r / Float(i); sum += term }
        return sum * Float(sign: .plus, exponent: Int(n), significand: 1)
    }
}

let nyu = BatchShape(images: 8, classes: 40, height: 480, width: 640)
let sun = BatchShape(images: 8, classes: 37, height: 480, width: 640)
let crossEntropy = ObjectiveConfiguration.segmentationOnly
let paced = ObjectiveConfiguration.paperPaced(totalEpochs: 40)

func config(_ elements: Int) -> Benchmark.Configuration {
    .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .peakMemoryResident],
        timeUnits: .milliseconds, warmupIterations: 1, scalingFactor: .one,
        maxDuration: .seconds(3), maxIterations: 12)
}

/// Registers a benchmark of `configuration` on `shape`; throughput is in logits per second.
func objectiveBenchmark(_ name: String, _ shape: BatchShape, _ configuration: ObjectiveConfiguration, threads: Int) {
    nonisolated(unsafe) var workload: Workload? = nil
    Benchmark(name, configuration: config(shape.logitCount)) { benchmark in
        let w = workload!
        let objective = HardPixelMiningObjective(configuration, threadCount: threads)
        for _ in benchmark.scaledIterations {
            blackHole(try w.run(objective))
        }
    } setup: {
        workload = Workload(shape)
        _ = try workload!.run(HardPixelMiningObjective(configuration, threadCount: threads))
    } teardown: {
        workload = nil
    }
}

let benchmarks: @Sendable () -> Void = {
    // The paper's batches.
    for threads in [1, 2] {
        objectiveBenchmark("CE fwd+grad NYUv2 8x40x480x640 t\(threads)", nyu, crossEntropy, threads: threads)
        objectiveBenchmark("L_T fwd+grad NYUv2 8x40x480x640 t\(threads)", nyu, paced, threads: threads)
    }
    objectiveBenchmark("CE fwd+grad SUNRGBD 8x37x480x640 t1", sun, crossEntropy, threads: 1)
    objectiveBenchmark("L_T fwd+grad SUNRGBD 8x37x480x640 t1", sun, paced, threads: 1)

    // Sweeps: resolution at C = 40 (N = 2), classes at 240 × 320 (N = 8).
    for (h, w) in [(120, 160), (240, 320), (480, 640), (960, 1280)] {
        objectiveBenchmark("sweep L_T 2x40x\(h)x\(w) t1", BatchShape(images: 2, classes: 40, height: h, width: w), paced, threads: 1)
    }
    for c in [13, 40, 150] {
        objectiveBenchmark("sweep L_T 8x\(c)x240x320 t1", BatchShape(images: 8, classes: c, height: 240, width: 320), paced, threads: 1)
    }

    // The weight maps alone on the NYU-v2 batch.
    nonisolated(unsafe) var maps: Workload? = nil
    Benchmark("map DPE 8x480x640", configuration: config(nyu.pixelCount)) { benchmark in
        let w = maps!
        var out = [Float](repeating: 0, count: w.shape.pixelCount)
        for _ in benchmark.scaledIterations {
            try w.logDepth.withUnsafeBufferPointer { d in
                try w.depth.withUnsafeBufferPointer { dStar in
                    try w.labels.withUnsafeBufferPointer { y in
                        try out.withUnsafeMutableBufferPointer { o in
                            try DepthPredictionError().weights(predictedLogDepth: d, groundTruthDepth: dStar, labels: y, shape: w.shape, into: o)
                        }
                    }
                }
            }
            blackHole(out[0])
        }
    } setup: { maps = Workload(BatchShape(images: 8, classes: 2, height: 480, width: 640)) }
    teardown: { maps = nil }

    Benchmark("map DSE 8x8 grid 8x480x640", configuration: config(nyu.pixelCount)) { benchmark in
        let w = maps!
        let predictions = w.labels.map { $0 == 255 ? 0 : ($0 + 1) % 2 }
        var out = [Float](repeating: 0, count: w.shape.pixelCount)
        for _ in benchmark.scaledIterations {
            try predictions.withUnsafeBufferPointer { p in
                try w.labels.withUnsafeBufferPointer { y in
                    try w.depth.withUnsafeBufferPointer { dStar in
                        try out.withUnsafeMutableBufferPointer { o in
                            try DepthAwareSegmentationError().weights(predictions: p, labels: y, groundTruthDepth: dStar, shape: w.shape, into: o)
                        }
                    }
                }
            }
            blackHole(out[0])
        }
    } setup: { maps = Workload(BatchShape(images: 8, classes: 2, height: 480, width: 640)) }
    teardown: { maps = nil }

    Benchmark("map SPL median+pace 8x480x640", configuration: config(nyu.pixelCount)) { benchmark in
        let w = maps!
        let pacing = SelfPacedPacing(totalEpochs: 40)
        let hw = w.shape.pixelsPerImage
        for _ in benchmark.scaledIterations {
            for k in 0..<w.shape.images {
                try w.logDepth.withUnsafeBufferPointer { d in
                    blackHole(try pacing.learningPace(of: UnsafeBufferPointer(rebasing: d[(k * hw)..<((k + 1) * hw)]), epoch: 20))
                }
            }
        }
    } setup: { maps = Workload(BatchShape(images: 8, classes: 2, height: 480, width: 640)) }
    teardown: { maps = nil }

    // The harness's own allocations: a body that only sleeps. package-benchmark's malloc
    // count includes its background threads, about 0.5 per millisecond here, so compare
    // each benchmark's count with this one's at a similar duration.
    for ms in [100, 500] {
        Benchmark("idle sleep \(ms) ms (harness malloc baseline)", configuration: config(1)) { benchmark in
            for _ in benchmark.scaledIterations {
                let deadline = ContinuousClock.now + .milliseconds(ms)
                while ContinuousClock.now < deadline {}
            }
        }
    }

    // The memory floor: read and write the NYU-v2 logits once (393 MB each way).
    nonisolated(unsafe) var source: [Float] = []
    nonisolated(unsafe) var target: [Float] = []
    Benchmark("floor copy 8x40x480x640 logits", configuration: config(nyu.logitCount)) { benchmark in
        for _ in benchmark.scaledIterations {
            source.withUnsafeBufferPointer { s in
                target.withUnsafeMutableBufferPointer { t in
                    _ = t.update(fromContentsOf: s)
                }
            }
            blackHole(target[1])
        }
    } setup: {
        source = [Float](repeating: 1, count: nyu.logitCount)
        target = [Float](repeating: 0, count: nyu.logitCount)
    } teardown: {
        source = []; target = []
    }
}
