import Benchmark
import CMemoryFloor
import CReferenceKernel
import Dispatch
import BenchmarkWorkload
import HardPixelMining

// Workloads (SPEC §4): the paper's NYU-v2 training batch (8 × 40 × 480 × 640), the
// SUN RGB-D batch (C = 37), a sweep over resolution and classes, 1 and 2 threads, the
// weight maps alone, and the machine's memory floors for the same bytes, measured in the
// same run (so that every figure is quoted as a ratio to its floor):
//   floor 1R+1W: one read of the logits + one non-temporal write (the cross-entropy's floor);
//   floor 2R+1W: two reads + one non-temporal write (the hard-pixel objective's floor).
//
// Each benchmark's scaled throughput counts logits (pixel·class elements) per second,
// so ns per pixel·class = 1e9 / throughput.

let nyu = BatchShape(images: 8, classes: 40, height: 480, width: 640)
let nyuChannelsLast = BatchShape(images: 8, classes: 40, height: 480, width: 640, logitLayout: .channelsLast)
let sun = BatchShape(images: 8, classes: 37, height: 480, width: 640)
let paced = ObjectiveConfiguration.paperPaced(totalEpochs: 40)
let pacedWithMap: ObjectiveConfiguration = {
    var c = paced
    c.pixelWeightMap = PixelWeightMapTerm(coefficient: 1, paced: true)
    return c
}()

func config(_ elements: Int) -> Benchmark.Configuration {
    .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .peakMemoryResident],
        timeUnits: .microseconds, warmupIterations: 1, scalingFactor: .one,
        maxDuration: .seconds(3), maxIterations: 12)
}

/// Registers a benchmark of `configuration` on `shape`; throughput is in logits per second.
func objectiveBenchmark<Scalar: LogitScalar>(
    _ name: String, _ shape: BatchShape, _ configuration: ObjectiveConfiguration, threads: Int, _: Scalar.Type = Float.self
) {
    nonisolated(unsafe) var workload: Workload<Scalar>? = nil
    Benchmark(name, configuration: config(shape.logitCount)) { benchmark in
        let w = workload!
        let objective = HardPixelMiningObjective(configuration, threadCount: threads)
        for _ in benchmark.scaledIterations {
            blackHole(try w.run(objective))
        }
    } setup: {
        workload = Workload<Scalar>(shape)
        _ = try workload!.run(HardPixelMiningObjective(configuration, threadCount: threads))
    } teardown: {
        workload = nil
    }
}

/// Registers a benchmark of `LabelSmoothedCrossEntropy` (forward + gradient) on `shape`.
func crossEntropyBenchmark<Scalar: LogitScalar>(
    _ name: String, _ shape: BatchShape, threads: Int, _: Scalar.Type = Float.self, focal: FocalModulation? = nil
) {
    nonisolated(unsafe) var workload: Workload<Scalar>? = nil
    Benchmark(name, configuration: config(shape.logitCount)) { benchmark in
        let w = workload!
        let loss = LabelSmoothedCrossEntropy(focal: focal, threadCount: threads)
        for _ in benchmark.scaledIterations {
            blackHole(try w.runCrossEntropy(loss))
        }
    } setup: {
        workload = Workload<Scalar>(shape)
        _ = try workload!.runCrossEntropy(LabelSmoothedCrossEntropy(focal: focal, threadCount: threads))
    } teardown: {
        workload = nil
    }
}

/// Registers the C reference kernel (Benchmarks/CReferenceKernel) on `shape`'s Float NCHW
/// batch, the same work as the package's one-pass cross-entropy with its defaults (the
/// paper's smoothing, per-image mean, the gradient overwritten), on `threads` threads.
func cReferenceBenchmark(_ name: String, _ shape: BatchShape, threads: Int) {
    nonisolated(unsafe) var workload: Workload<Float>? = nil
    let (on, off) = LabelSmoothing.paperDefault.targets(classCount: shape.classes)
    Benchmark(name, configuration: config(shape.logitCount)) { benchmark in
        let w = workload!
        for _ in benchmark.scaledIterations {
            blackHole(cref_cross_entropy(
                w.logits, w.labels, Int32(shape.images), Int32(shape.classes), shape.pixelsPerImage, Float(on), Float(off), 255,
                &w.logitGradient, Int32(threads)))
        }
    } setup: {
        workload = Workload<Float>(shape)
    } teardown: {
        workload = nil
    }
}

/// Registers the C kernel of the hard-pixel objective's two logit passes
/// (`cref_two_pass`, weights given: the workload's map) on `shape`'s Float NCHW batch: the
/// statistics pass, then the gradient pass, on `threads` threads. A lower bound, by its logit
/// passes alone, on L_T.
func cTwoPassBenchmark(_ name: String, _ shape: BatchShape, threads: Int) {
    nonisolated(unsafe) var workload: Workload<Float>? = nil
    nonisolated(unsafe) var state: [Float] = []
    let (on, off) = LabelSmoothing.paperDefault.targets(classCount: shape.classes)
    Benchmark(name, configuration: config(shape.logitCount)) { benchmark in
        let w = workload!
        for _ in benchmark.scaledIterations {
            blackHole(cref_two_pass(
                w.logits, w.labels, w.pixelWeightMap, Int32(shape.images), Int32(shape.classes), shape.pixelsPerImage,
                Float(on), Float(off), 255, &w.logitGradient, &state, Int32(threads)))
        }
    } setup: {
        workload = Workload<Float>(shape)
        _ = workload!.pixelWeightMap
        state = [Float](repeating: 0, count: 3 * shape.pixelCount)
    } teardown: {
        workload = nil
        state = []
    }
}

/// Registers a memory-floor benchmark over `count` floats on `threads` threads, each thread
/// taking a contiguous part, as the kernels do.
func floorBenchmark(_ name: String, count: Int, threads: Int, reads: Int) {
    nonisolated(unsafe) var source: [Float] = []
    nonisolated(unsafe) var target: [Float] = []
    Benchmark(name, configuration: config(count)) { benchmark in
        for _ in benchmark.scaledIterations {
            source.withUnsafeBufferPointer { s in
                target.withUnsafeMutableBufferPointer { t in
                    nonisolated(unsafe) let (s, t) = (s.baseAddress!, t.baseAddress!)
                    DispatchQueue.concurrentPerform(iterations: threads) { k in
                        let lo = count * k / threads, hi = count * (k + 1) / threads
                        switch reads {
                        case 0: blackHole(floor_read(s + lo, hi - lo))
                        case 1: floor_read_stream_write(s + lo, t + lo, hi - lo)
                        default: blackHole(floor_read_twice_stream_write(s + lo, t + lo, hi - lo))
                        }
                    }
                }
            }
            blackHole(target[1])
        }
    } setup: {
        source = [Float](repeating: 1, count: count)
        target = [Float](repeating: 0, count: count)
    } teardown: {
        source = []; target = []
    }
}

let benchmarks: @Sendable () -> Void = {
    // The paper's batch, with its floors, at 1 and 2 threads.
    for threads in [1, 2] {
        floorBenchmark("floor 1R NYUv2 logits t\(threads)", count: nyu.logitCount, threads: threads, reads: 0)
        floorBenchmark("floor 1R+1W NYUv2 logits t\(threads)", count: nyu.logitCount, threads: threads, reads: 1)
        floorBenchmark("floor 2R+1W NYUv2 logits t\(threads)", count: nyu.logitCount, threads: threads, reads: 2)
        crossEntropyBenchmark("CE fwd+grad NYUv2 8x40x480x640 t\(threads)", nyu, threads: threads)
        cReferenceBenchmark("C kernel CE fwd+grad NYUv2 8x40x480x640 t\(threads)", nyu, threads: threads)
        cTwoPassBenchmark("C kernel two-pass fwd+grad NYUv2 8x40x480x640 t\(threads)", nyu, threads: threads)
        objectiveBenchmark("L_T fwd+grad NYUv2 8x40x480x640 t\(threads)", nyu, paced, threads: threads)
        // Composable terms: focal CE (γ = 2, through the factor) and L_T with a caller's map.
        crossEntropyBenchmark("CE focal fwd+grad NYUv2 8x40x480x640 t\(threads)", nyu, threads: threads, focal: FocalModulation())
        objectiveBenchmark("L_T + map fwd+grad NYUv2 8x40x480x640 t\(threads)", nyu, pacedWithMap, threads: threads)
        // Channels-last logits: the same bytes, so the same floors.
        crossEntropyBenchmark("CE fwd+grad NYUv2 NHWC 8x480x640x40 t\(threads)", nyuChannelsLast, threads: threads)
        objectiveBenchmark("L_T fwd+grad NYUv2 NHWC 8x480x640x40 t\(threads)", nyuChannelsLast, paced, threads: threads)
        // Half-precision logits and gradient: half the bytes, so floors over half
        // as many floats (the same bytes as the half-precision logits).
        floorBenchmark("floor 1R+1W NYUv2 half-size t\(threads)", count: nyu.logitCount / 2, threads: threads, reads: 1)
        floorBenchmark("floor 2R+1W NYUv2 half-size t\(threads)", count: nyu.logitCount / 2, threads: threads, reads: 2)
        crossEntropyBenchmark("CE fwd+grad NYUv2 bf16 8x40x480x640 t\(threads)", nyu, threads: threads, BFloat16.self)
        objectiveBenchmark("L_T fwd+grad NYUv2 bf16 8x40x480x640 t\(threads)", nyu, paced, threads: threads, BFloat16.self)
        #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
        crossEntropyBenchmark("CE fwd+grad NYUv2 f16 8x40x480x640 t\(threads)", nyu, threads: threads, Float16.self)
        objectiveBenchmark("L_T fwd+grad NYUv2 f16 8x40x480x640 t\(threads)", nyu, paced, threads: threads, Float16.self)
        #endif
    }
    crossEntropyBenchmark("CE fwd+grad SUNRGBD 8x37x480x640 t1", sun, threads: 1)
    objectiveBenchmark("L_T fwd+grad SUNRGBD 8x37x480x640 t1", sun, paced, threads: 1)

    // Sweeps: resolution at C = 40 (N = 2), classes at 240 × 320 (N = 8).
    for (h, w) in [(120, 160), (240, 320), (480, 640), (960, 1280)] {
        let shape = BatchShape(images: 2, classes: 40, height: h, width: w)
        crossEntropyBenchmark("sweep CE 2x40x\(h)x\(w) t1", shape, threads: 1)
        objectiveBenchmark("sweep L_T 2x40x\(h)x\(w) t1", shape, paced, threads: 1)
    }
    for c in [13, 40, 150] {
        let shape = BatchShape(images: 8, classes: c, height: 240, width: 320)
        crossEntropyBenchmark("sweep CE 8x\(c)x240x320 t1", shape, threads: 1)
        objectiveBenchmark("sweep L_T 8x\(c)x240x320 t1", shape, paced, threads: 1)
    }

    // The weight maps alone on the NYU-v2 batch.
    nonisolated(unsafe) var maps: Workload<Float>? = nil
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
    } setup: { maps = Workload<Float>(BatchShape(images: 8, classes: 2, height: 480, width: 640)) }
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
    } setup: { maps = Workload<Float>(BatchShape(images: 8, classes: 2, height: 480, width: 640)) }
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
    } setup: { maps = Workload<Float>(BatchShape(images: 8, classes: 2, height: 480, width: 640)) }
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
}
