// The main job: trains the reference network on synthetic RGB-D scenes for every row of
// the paper's Table II over the same seeds, and reports mIoU on held-out scenes with 95%
// confidence intervals and paired differences to L_seg; writes a chart (SVG) and a panel of
// held-out scenes (PNG). `--tune` chooses the network's capacity and learning rate on a
// validation split by the L_seg baseline alone. `--help` lists the options.
import Dispatch
import Foundation
import HPMReferenceNetwork
import HardPixelMining

/// A value behind a lock (Synchronization's `Mutex` needs macOS 15; this runs wherever the
/// package does).
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

struct Usage: Error, CustomStringConvertible {
    var message: String
    var description: String {
        let rows = AblationRow.allCases.enumerated().map { "  \($0.offset): \($0.element.rawValue)" }.joined(separator: "\n")
        return (message.isEmpty ? "" : "hpm-ablation: \(message)\n\n") + """
            usage: hpm-ablation [options]

              --seeds N       runs per row, the same seeds in every row (default 10)
              --epochs E      epochs per run (default 30); beta switches at E/3, pacing spans E
              --rows i,j,...  Table II rows to run (default all; row 0, L_seg, is the baseline)
              --jobs J        runs at once (default 2)
              --height H, --width W   scene size, even (default 24 x 32)
              --train N, --test N     training and held-out test scenes per seed (default 64, 64)
              --channels C    network width (default 6, chosen by --tune)
              --lr R          learning rate (default 0.2, chosen by --tune)
              --output DIR    where the table, chart and panel are written (default ablation-results)
              --tune          choose --channels and --lr on the validation split, by L_seg alone
              --help          this text

            rows:
            \(rows)
            """
    }
}

struct Options {
    var seeds = 10, jobs = 2
    var settings = TrainingSettings()
    var rows = AblationRow.allCases
    var output = "ablation-results"
    var tune = false

    init(_ arguments: [String]) throws {
        var it = arguments.dropFirst().makeIterator()
        while let flag = it.next() {
            switch flag {
            case "--help", "-h": throw Usage(message: "")
            case "--tune":
                tune = true
                continue
            default: break
            }
            guard let value = it.next() else { throw Usage(message: "\(flag) needs a value") }
            func int() throws -> Int {
                guard let v = Int(value), v > 0 else { throw Usage(message: "\(flag) takes a positive whole number, not \(value)") }
                return v
            }
            switch flag {
            case "--seeds": seeds = try int()
            case "--jobs": jobs = try int()
            case "--epochs": settings.epochs = try int()
            case "--height": settings.height = try int()
            case "--width": settings.width = try int()
            case "--train": settings.trainImages = try int()
            case "--test": settings.testImages = try int()
            case "--channels": settings.networkWidth = try int()
            case "--output": output = value
            case "--lr":
                guard let v = Float(value), v > 0, v.isFinite else { throw Usage(message: "--lr takes a positive number") }
                settings.learningRate = v
            case "--rows":
                let all = AblationRow.allCases
                rows = try value.split(separator: ",").map {
                    guard let i = Int($0), all.indices.contains(i) else {
                        throw Usage(message: "--rows takes indexes 0...\(all.count - 1), not \($0)")
                    }
                    return all[i]
                }
            default: throw Usage(message: "unknown option \(flag)")
            }
        }
        if settings.height % 2 != 0 || settings.width % 2 != 0 {
            throw Usage(message: "--height and --width must be even")
        }
        if settings.trainImages < settings.batch {
            throw Usage(message: "--train must be at least the batch size \(settings.batch)")
        }
        settings.trainImages -= settings.trainImages % settings.batch
    }
}

struct TrainingFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { "hpm-ablation: a run failed: \(message)" }
}

func say(_ text: String) {
    print(text)
    fflush(nil)  // progress shows as it happens even when the output is a pipe or a file
}

/// Median, 90th percentile and maximum of the gradient norms (diagnostics with HPM_NORMS=1).
func normSummary(_ norms: [Float]) -> String {
    let s = norms.sorted()
    guard !s.isEmpty else { return "" }
    return "grad norm median \(s[s.count / 2]), p90 \(s[s.count * 9 / 10]), max \(s.last!)"
}

func duration(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    return s >= 60 ? "\(s / 60) min \(s % 60) s" : "\(s) s"
}

func percent(_ v: Double, _ digits: Int = 1) -> String {
    let scale = digits == 1 ? 10.0 : 100.0
    return String((v * 100 * scale).rounded() / scale)
}

extension String {
    func padded(_ width: Int) -> String { self + String(repeating: " ", count: Swift.max(0, width - count)) }
}

/// Runs `jobs` (row, seed, settings) on `workers` threads, with progress, rows done and an ETA.
func runAll(
    _ jobs: [(label: String, configuration: ObjectiveConfiguration, settings: TrainingSettings, seed: UInt64, split: HeldOutSplit)],
    workers: Int, groupSize: Int, groupName: String
) throws -> [RunResult] {
    let results = Locked([RunResult?](repeating: nil, count: jobs.count))
    let done = Locked((runs: 0, groups: [Int](repeating: 0, count: (jobs.count + groupSize - 1) / groupSize)))
    let failure = Locked<String?>(nil)
    let next = Locked(0)
    let start = DispatchTime.now().uptimeNanoseconds
    DispatchQueue.concurrentPerform(iterations: Swift.min(workers, jobs.count)) { _ in
        while true {
            let j: Int = next.withLock { n in defer { n += 1 }; return n }
            guard j < jobs.count, failure.withLock({ $0 == nil }) else { return }
            let job = jobs[j]
            do {
                let r = try train(job.configuration, settings: job.settings, seed: job.seed, scoredOn: job.split)
                results.withLock { $0[j] = r }
                let (runs, groupsDone) = done.withLock { d -> (Int, Int) in
                    d.runs += 1
                    d.groups[j / groupSize] += 1
                    return (d.runs, d.groups.count { $0 == groupSize })
                }
                let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                let eta = elapsed / Double(runs) * Double(jobs.count - runs)
                say("[run \(runs)/\(jobs.count), \(groupName) done \(groupsDone)/\(done.withLock { $0.groups.count }), "
                    + "\(duration(elapsed)), ETA \(duration(eta))] \(job.label) seed \(job.seed): mIoU \(percent(r.meanIoU))%"
                    + (ProcessInfo.processInfo.environment["HPM_NORMS"] != nil ? "  \(normSummary(r.gradientNorms))" : ""))
            } catch {
                failure.withLock { $0 = "\(job.label) seed \(job.seed): \(error)" }
            }
        }
    }
    if let message = failure.withLock({ $0 }) { throw TrainingFailure(message: message) }
    return results.withLock { $0.map { $0! } }
}

/// `--tune`: the L_seg baseline's validation mIoU over a grid of widths and learning rates.
func tune(_ options: Options) throws {
    // Widths that let the default run (9 rows × 10 seeds) finish within 10 minutes on 2 cores;
    // 12 channels took 14 minutes.
    let widths = [4, 6, 8], rates: [Float] = [0.1, 0.2, 0.3]
    let seeds = Swift.min(options.seeds, 3)
    var jobs: [(label: String, configuration: ObjectiveConfiguration, settings: TrainingSettings, seed: UInt64, split: HeldOutSplit)] = []
    for w in widths {
        for lr in rates {
            var s = options.settings
            (s.networkWidth, s.learningRate) = (w, lr)
            for seed in 0..<seeds {
                jobs.append(("L_seg, channels \(w), lr \(lr)", ablationConfiguration(.segmentation, epochs: s.epochs), s, UInt64(seed + 1), .validation))
            }
        }
    }
    say("Tuning on the validation split (\(options.settings.validationImages) scenes per seed, \(seeds) seeds), L_seg only")
    let results = try runAll(jobs, workers: options.jobs, groupSize: seeds, groupName: "settings")
    var best = (score: -1.0, width: 0, rate: Float(0))
    say("\nvalidation mIoU % of L_seg (mean over \(seeds) seeds)")
    say("channels".padded(10) + rates.map { "| lr \($0)".padded(12) }.joined())
    for (i, w) in widths.enumerated() {
        var line = "\(w)".padded(10)
        for (j, lr) in rates.enumerated() {
            let group = results[((i * rates.count + j) * seeds)..<((i * rates.count + j + 1) * seeds)]
            let score = group.reduce(0) { $0 + $1.meanIoU } / Double(seeds)
            line += "| \(percent(score))".padded(12)
            if score > best.score { best = (score, w, lr) }
        }
        say(line)
    }
    say("\nchosen: --channels \(best.width) --lr \(best.rate) (validation mIoU \(percent(best.score))%)")
}

/// The panel: for held-out scenes of seed 1, RGB, ground truth, the L_seg and L_T
/// predictions, and the DPE and DSE weight maps of the L_T network.
func panel(baseline: RunResult, paced: RunResult, settings s: TrainingSettings, scenes count: Int) throws -> Canvas {
    let (h, w) = (s.height, s.width)
    let plane = h * w
    let test = HeldOutSplit.test.scenes(settings: s, seed: 1)
    let n = Swift.min(count, s.testImages)
    let rgb = Array(test.rgb[0..<(n * 3 * plane)]), labels = Array(test.labels[0..<(n * plane)])
    let depth = Array(test.depth[0..<(n * plane)])
    let shape = BatchShape(images: n, classes: SceneGenerator.classes, height: h, width: w)
    let a = baseline.network.forward(rgb, images: n, height: h, width: w)
    let b = paced.network.forward(rgb, images: n, height: h, width: w)
    let basePredictions = ReferenceNetwork.predictions(a.logits, classes: shape.classes, images: n, plane: plane)
    let pacedPredictions = ReferenceNetwork.predictions(b.logits, classes: shape.classes, images: n, plane: plane)
    let wR = try DepthPredictionError().weights(
        predictedLogDepth: b.logDepth, groundTruthDepth: depth, labels: labels, shape: shape)
    let wZ = try DepthAwareSegmentationError().weights(
        predictions: pacedPredictions, labels: labels, groundTruthDepth: depth, shape: shape)
    let palette: [(UInt8, UInt8, UInt8)] = [
        (170, 170, 170), (140, 95, 60), (52, 152, 219), (155, 89, 182), (231, 76, 60), (241, 196, 15),
    ]
    func classColour(_ c: Int32) -> (UInt8, UInt8, UInt8) { c >= 0 && Int(c) < palette.count ? palette[Int(c)] : (0, 0, 0) }
    func heat(_ v: Float, _ top: Float) -> (UInt8, UInt8, UInt8) {
        let t = top > 0 ? Swift.min(1, Swift.max(0, v / top)) : 0
        let fade = UInt8(255 * (1 - t))
        return (255, fade, fade)
    }
    let topR = wR.max() ?? 1, topZ = wZ.max() ?? 1
    let scale = 4, gap = 4, columns = 6
    var canvas = Canvas(width: columns * (w * scale + gap) + gap, height: n * (h * scale + gap) + gap)
    for k in 0..<n {
        let top = gap + k * (h * scale + gap)
        func left(_ c: Int) -> Int { gap + c * (w * scale + gap) }
        canvas.draw(left: left(0), top: top, width: w, height: h, scale: scale) { x, y in
            let channel = { (c: Int) in UInt8(Swift.min(255, Swift.max(0, (rgb[(k * 3 + c) * plane + y * w + x] + 0.5) * 255))) }
            return (channel(0), channel(1), channel(2))
        }
        canvas.draw(left: left(1), top: top, width: w, height: h, scale: scale) { x, y in classColour(labels[k * plane + y * w + x]) }
        canvas.draw(left: left(2), top: top, width: w, height: h, scale: scale) { x, y in classColour(basePredictions[k * plane + y * w + x]) }
        canvas.draw(left: left(3), top: top, width: w, height: h, scale: scale) { x, y in classColour(pacedPredictions[k * plane + y * w + x]) }
        canvas.draw(left: left(4), top: top, width: w, height: h, scale: scale) { x, y in heat(wR[k * plane + y * w + x], topR) }
        canvas.draw(left: left(5), top: top, width: w, height: h, scale: scale) { x, y in heat(wZ[k * plane + y * w + x], topZ) }
    }
    return canvas
}

func write(_ bytes: [UInt8], to path: String) throws {
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
        throw TrainingFailure(message: "cannot write \(path)")
    }
}

func ablation(_ options: Options) throws {
    let s = options.settings
    let seeds = (1...options.seeds).map { UInt64($0) }
    say("Training the reference network on synthetic RGB-D scenes (\(s.height)×\(s.width), \(SceneGenerator.classes) classes: "
        + SceneGenerator.classNames.joined(separator: ", ") + ")")
    say("\(options.rows.count) rows × \(options.seeds) seeds (the same seeds in every row), \(s.epochs) epochs of "
        + "\(s.trainImages) scenes, channels \(s.networkWidth), lr \(s.learningRate); tested on \(s.testImages) held-out "
        + "scenes per seed; \(options.jobs) runs at once")
    let start = DispatchTime.now().uptimeNanoseconds
    let jobs = options.rows.flatMap { row in
        seeds.map { (label: row.rawValue, configuration: ablationConfiguration(row, epochs: s.epochs), settings: s, seed: $0, split: HeldOutSplit.test) }
    }
    let results = try runAll(jobs, workers: options.jobs, groupSize: seeds.count, groupName: "rows")
    func runs(_ i: Int) -> ArraySlice<RunResult> { results[(i * seeds.count)..<((i + 1) * seeds.count)] }
    let baselineIndex = options.rows.firstIndex(of: .segmentation)

    var lines: [String] = []
    lines.append("mIoU, pixel and mean accuracy in % on \(s.testImages) held-out test scenes per run; \(seeds.count) seeds per "
                 + "row, the same seeds (training scenes and initial weights) in every row.")
    lines.append("± is the half-width of the 95% confidence interval of the mean over seeds (Student's t, "
                 + "\(seeds.count - 1) degrees of freedom).")
    if baselineIndex != nil {
        lines.append("Δ is the paired difference to L_seg over the same seeds, with its 95% interval; * marks an "
                     + "interval that excludes 0 (significant at 5%, not corrected for the \(options.rows.count - 1) comparisons).")
    }
    lines.append("")
    lines.append("| row | pixel acc % | mean acc % | mIoU % | Δ mIoU vs L_seg |")
    lines.append("|---|---|---|---|---|")
    var chartRows: [IntervalChart.Row] = []
    for (i, row) in options.rows.enumerated() {
        let r = runs(i)
        let pixel = Interval(r.map(\.pixelAccuracy)), mean = Interval(r.map(\.meanAccuracy)), iou = Interval(r.map(\.meanIoU))
        var delta = "—"
        var significant = false
        if let b = baselineIndex, b != i {
            let d = Interval(zip(r, runs(b)).map { $0.meanIoU - $1.meanIoU })
            significant = d.excludesZero
            delta = "\(d.mean >= 0 ? "+" : "")\(percent(d.mean, 2)) ± \(percent(d.halfWidth, 2))\(significant ? " *" : "")"
        }
        func cell(_ v: Interval) -> String { "\(percent(v.mean)) ± \(percent(v.halfWidth))" }
        lines.append("| \(row.rawValue) | \(cell(pixel)) | \(cell(mean)) | \(cell(iou)) | \(delta) |")
        chartRows.append(.init(label: row.rawValue, mean: iou.mean * 100, low: iou.low * 100, high: iou.high * 100, highlighted: significant))
    }
    let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    lines.append("")
    lines.append("\(jobs.count) runs in \(duration(elapsed)) with \(options.jobs) at once.")
    say("")
    lines.forEach(say)

    try FileManager.default.createDirectory(atPath: options.output, withIntermediateDirectories: true)
    let table = options.output + "/table.md", chart = options.output + "/miou.svg"
    try write(Array((lines.joined(separator: "\n") + "\n").utf8), to: table)
    let reference = baselineIndex.map { Interval(runs($0).map(\.meanIoU)).mean * 100 }
    let svg = IntervalChart.svg(
        title: "mIoU per Table II row, \(seeds.count) seeds, 95% intervals (red: differs from L_seg)",
        axis: "mIoU % on held-out scenes (dashed: L_seg)", rows: chartRows, reference: reference)
    try write(Array(svg.utf8), to: chart)
    var written = [table, chart]
    if let b = baselineIndex, let t = options.rows.firstIndex(of: .paced) {
        let path = options.output + "/panel.png"
        try write(try panel(baseline: runs(b).first!, paced: runs(t).first!, settings: s, scenes: 4).png(), to: path)
        written.append(path)
    }
    say("wrote " + written.joined(separator: ", "))
}

do {
    let options = try Options(CommandLine.arguments)
    if options.tune { try tune(options) } else { try ablation(options) }
} catch let usage as Usage {
    print(usage)
    exit(usage.message.isEmpty ? 0 : 2)  // --help exits 0; a wrong option 2
} catch {
    print("\(error)")
    exit(1)
}
