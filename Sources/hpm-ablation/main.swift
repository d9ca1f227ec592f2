// The main job: trains the reference network on synthetic RGB-D scenes for every row of
// the paper's Table II over the same seeds, under two protocols — fine-tuning from the L_seg
// network (the paper's, in miniature; each row's rate chosen on the validation split) and
// training from scratch — and reports mIoU on held-out scenes with 95% intervals and paired
// differences to L_seg. Before fine-tuning it measures the paper's premise (do wR and wZ rank
// the pixels the L_seg network gets wrong?). Writes the tables, charts and a panel of
// held-out scenes. `--tune` chooses the network's capacity and learning rate on the
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

enum TrainingProtocol: String, CaseIterable {
    case finetune, scratch, both
    var fineTunes: Bool { self != .scratch }
    var fromScratch: Bool { self != .finetune }
}

/// The fine-tuning learning-rate grid, the same for every row (Docs/Ablation.md).
let fineTuneRates: [Float] = [0.01, 0.03, 0.1]
/// The seeds each row fine-tunes at every rate of the grid, scored on the validation split.
let gridSeeds = 3

struct Usage: Error, CustomStringConvertible {
    var message: String
    var description: String {
        let rows = AblationRow.allCases.enumerated().map { "  \($0.offset): \($0.element.rawValue)" }.joined(separator: "\n")
        return (message.isEmpty ? "" : "hpm-ablation: \(message)\n\n") + """
            usage: hpm-ablation [options]

              --protocol P    finetune (default): every row continues from the L_seg network of
                              its seed, at a rate each row chooses on the validation split;
                              scratch: every row trains from random weights; both
              --seeds N       runs per row, the same seeds in every row (default 10)
              --epochs E      epochs from scratch, and of the L_seg network fine-tuning starts
                              from (default 30); beta switches at E/3, pacing spans E
              --finetune-epochs F   fine-tuning epochs (default 15); beta switches at F/3
              --rows i,j,...  Table II rows to run, each once (default all; row 0, L_seg, is
                              the baseline)
              --jobs J        runs at once (default 2)
              --height H, --width W   scene size, even (default 24 x 32)
              --train N, --test N     training and held-out test scenes per seed (default 64, 64)
              --channels C    network width (default 6, chosen by --tune)
              --lr R          learning rate from scratch (default 0.2, chosen by --tune)
              --output DIR    where the tables, charts and panel are written (default
                              ablation-results); checked before any training
              --tune          choose --channels and --lr on the validation split, by L_seg alone
              --help          this text

            fine-tuning rates (the same grid for every row): \(fineTuneRates.map { "\($0)" }.joined(separator: ", "))

            rows:
            \(rows)
            """
    }
}

struct Options {
    var seeds = 10, jobs = 2, fineTuneEpochs = 15
    var settings = TrainingSettings()
    var rows = AblationRow.allCases
    var output = "ablation-results"
    var tune = false
    var trainingProtocol = TrainingProtocol.finetune

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
            let valued = ["--seeds", "--jobs", "--epochs", "--finetune-epochs", "--height", "--width", "--train", "--test",
                          "--channels", "--output", "--protocol", "--lr", "--rows"]
            guard valued.contains(flag) else { throw Usage(message: "unknown option \(flag)") }
            guard let value = it.next() else { throw Usage(message: "\(flag) needs a value") }
            func int() throws -> Int {
                guard let v = Int(value), v > 0 else { throw Usage(message: "\(flag) takes a positive whole number, not \(value)") }
                return v
            }
            switch flag {
            case "--seeds": seeds = try int()
            case "--jobs": jobs = try int()
            case "--epochs": settings.epochs = try int()
            case "--finetune-epochs": fineTuneEpochs = try int()
            case "--height": settings.height = try int()
            case "--width": settings.width = try int()
            case "--train": settings.trainImages = try int()
            case "--test": settings.testImages = try int()
            case "--channels": settings.networkWidth = try int()
            case "--output": output = value
            case "--protocol":
                guard let p = TrainingProtocol(rawValue: value) else {
                    throw Usage(message: "--protocol takes finetune, scratch or both, not \(value)")
                }
                trainingProtocol = p
            case "--lr":
                guard let v = Float(value), v > 0, v.isFinite else { throw Usage(message: "--lr takes a positive number") }
                settings.learningRate = v
            case "--rows":
                let all = AblationRow.allCases
                rows = try value.split(separator: ",", omittingEmptySubsequences: false).map {
                    guard let i = Int($0), all.indices.contains(i) else {
                        throw Usage(message: "--rows takes indexes 0...\(all.count - 1), not \($0.isEmpty ? "an empty entry" : String($0))")
                    }
                    return all[i]
                }
                if let twice = rows.first(where: { r in rows.count { $0 == r } > 1 }) {
                    throw Usage(message: "--rows names row \(all.firstIndex(of: twice)!) (\(twice.rawValue)) more than once")
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
        if !tune { try Self.checkWritable(output) }
    }

    /// Creates `directory` if needed and writes and removes a probe file in it, so that a run
    /// that could not save its results fails before training rather than after.
    static func checkWritable(_ directory: String) throws {
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw Usage(message: "--output \(directory) cannot be created: \(error.localizedDescription)")
        }
        let probe = directory + "/.hpm-ablation-write-check"
        guard fm.createFile(atPath: probe, contents: Data("x".utf8)) else {
            throw Usage(message: "--output \(directory) is not writable")
        }
        try? fm.removeItem(atPath: probe)
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

func duration(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    return s >= 60 ? "\(s / 60) min \(s % 60) s" : "\(s) s"
}

/// `v` (a fraction) in percent with `digits` decimals.
func percent(_ v: Double, _ digits: Int = 1) -> String { fixed(v * 100, digits) }

func fixed(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }

extension String {
    func padded(_ width: Int) -> String { self + String(repeating: " ", count: Swift.max(0, width - count)) }
}

/// Progress over every run of the job, weighted by epochs, with an ETA.
final class Progress: @unchecked Sendable {
    let total: Int
    private let state = Locked((runs: 0, done: 0))
    private let start = DispatchTime.now().uptimeNanoseconds
    init(totalEpochs: Int) { total = Swift.max(1, totalEpochs) }
    var elapsed: Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }

    func finished(epochs: Int, _ what: String) {
        let (runs, done) = state.withLock { s -> (Int, Int) in
            s.runs += 1
            s.done += epochs
            return (s.runs, s.done)
        }
        let e = elapsed
        let eta = e / Double(done) * Double(total - done)
        say("[\(Int((Double(done) / Double(total) * 100).rounded()))%, run \(runs), \(duration(e)), ETA \(duration(eta))] \(what)")
    }
}

/// One training run of the job.
struct Job {
    var label: String
    var configuration: ObjectiveConfiguration
    var settings: TrainingSettings
    var seed: UInt64
    var start: ReferenceNetwork? = nil
    var split: HeldOutSplit
}

/// Runs `jobs` on `workers` threads; results in the jobs' order (deterministic).
func runAll(_ jobs: [Job], workers: Int, progress: Progress) throws -> [RunResult] {
    try parallelMap(jobs.count, workers: workers) { j in
        let job = jobs[j]
        do {
            let r = try train(job.configuration, settings: job.settings, seed: job.seed, from: job.start, scoredOn: job.split)
            progress.finished(
                epochs: job.settings.epochs,
                "\(job.label) seed \(job.seed): \(job.split == .validation ? "validation" : "test") mIoU \(percent(r.meanIoU))%")
            return r
        } catch {
            throw TrainingFailure(message: "\(job.label) seed \(job.seed): \(error)")
        }
    }
}

/// `body(i)` for every i in 0..<count on `workers` threads; results in order. The first
/// error stops the others from starting and is rethrown.
func parallelMap<T>(_ count: Int, workers: Int, _ body: @escaping @Sendable (Int) throws -> T) throws -> [T] {
    let results = Locked([T?](repeating: nil, count: count))
    let failure = Locked<(any Error)?>(nil)
    let next = Locked(0)
    DispatchQueue.concurrentPerform(iterations: Swift.max(1, Swift.min(workers, count))) { _ in
        while true {
            let i: Int = next.withLock { n in defer { n += 1 }; return n }
            guard i < count, failure.withLock({ $0 == nil }) else { return }
            do {
                let r = try body(i)
                results.withLock { $0[i] = r }
            } catch {
                failure.withLock { $0 = $0 ?? error }
            }
        }
    }
    if let error = failure.withLock({ $0 }) { throw error }
    return results.withLock { $0.map { $0! } }
}

/// `--tune`: the L_seg baseline's validation mIoU over a grid of widths and learning rates.
func tune(_ options: Options) throws {
    // Widths that let the default run finish within 10 minutes on 2 cores; 12 channels took
    // 14 minutes for the from-scratch table alone.
    let widths = [4, 6, 8], rates: [Float] = [0.1, 0.2, 0.3]
    let seeds = Swift.min(options.seeds, 3)
    var jobs: [Job] = []
    for w in widths {
        for lr in rates {
            var s = options.settings
            (s.networkWidth, s.learningRate) = (w, lr)
            for seed in 0..<seeds {
                jobs.append(Job(label: "L_seg, channels \(w), lr \(lr)", configuration: ablationConfiguration(.segmentation, epochs: s.epochs),
                                settings: s, seed: UInt64(seed + 1), split: .validation))
            }
        }
    }
    say("Tuning on the validation split (\(options.settings.validationImages) scenes per seed, \(seeds) seeds), L_seg only")
    let results = try runAll(jobs, workers: options.jobs, progress: Progress(totalEpochs: jobs.count * options.settings.epochs))
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

let classPalette: [(UInt8, UInt8, UInt8)] = [
    (170, 170, 170), (140, 95, 60), (52, 152, 219), (155, 89, 182), (231, 76, 60), (241, 196, 15),
]

/// The panel (SVG with the pictures embedded as one PNG): for held-out test scenes of seed 1,
/// RGB, ground truth, the L_seg and L_T predictions, and the DPE and DSE weight maps of the
/// L_T network on one colour scale, with column titles, a class legend and a scale bar.
func panel(baseline: ReferenceNetwork, paced: ReferenceNetwork, protocolName: String, settings s: TrainingSettings, scenes count: Int) throws -> String {
    let (h, w) = (s.height, s.width)
    let plane = h * w
    let test = HeldOutSplit.test.scenes(settings: s, seed: 1)
    let n = Swift.min(count, s.testImages)
    let rgb = Array(test.rgb[0..<(n * 3 * plane)]), labels = Array(test.labels[0..<(n * plane)])
    let depth = Array(test.depth[0..<(n * plane)])
    let shape = BatchShape(images: n, classes: SceneGenerator.classes, height: h, width: w)
    let a = baseline.forward(rgb, images: n, height: h, width: w)
    let b = paced.forward(rgb, images: n, height: h, width: w)
    let basePredictions = ReferenceNetwork.predictions(a.logits, classes: shape.classes, images: n, plane: plane)
    let pacedPredictions = ReferenceNetwork.predictions(b.logits, classes: shape.classes, images: n, plane: plane)
    let wR = try DepthPredictionError().weights(
        predictedLogDepth: b.logDepth, groundTruthDepth: depth, labels: labels, shape: shape)
    let wZ = try DepthAwareSegmentationError().weights(
        predictions: pacedPredictions, labels: labels, groundTruthDepth: depth, shape: shape)
    func classColour(_ c: Int32) -> (UInt8, UInt8, UInt8) { c >= 0 && Int(c) < classPalette.count ? classPalette[Int(c)] : (0, 0, 0) }
    // One scale for both maps: white at 0, red at the larger map's largest value.
    let top = Swift.max(wR.max() ?? 0, wZ.max() ?? 0, 1e-6)
    func heat(_ v: Float) -> (UInt8, UInt8, UInt8) {
        let t = Swift.min(1, Swift.max(0, v / top))
        return (UInt8(255 - 55 * t), UInt8(255 * (1 - t)), UInt8(255 * (1 - t)))
    }
    let scale = 4, gap = 6, columns = 6
    let tileW = w * scale, tileH = h * scale
    var canvas = Canvas(width: columns * (tileW + gap) - gap, height: n * (tileH + gap) - gap)
    for k in 0..<n {
        let y0 = k * (tileH + gap)
        func left(_ c: Int) -> Int { c * (tileW + gap) }
        canvas.draw(left: left(0), top: y0, width: w, height: h, scale: scale) { x, y in
            let channel = { (c: Int) in UInt8(Swift.min(255, Swift.max(0, (rgb[(k * 3 + c) * plane + y * w + x] + 0.5) * 255))) }
            return (channel(0), channel(1), channel(2))
        }
        canvas.draw(left: left(1), top: y0, width: w, height: h, scale: scale) { x, y in classColour(labels[k * plane + y * w + x]) }
        canvas.draw(left: left(2), top: y0, width: w, height: h, scale: scale) { x, y in classColour(basePredictions[k * plane + y * w + x]) }
        canvas.draw(left: left(3), top: y0, width: w, height: h, scale: scale) { x, y in classColour(pacedPredictions[k * plane + y * w + x]) }
        canvas.draw(left: left(4), top: y0, width: w, height: h, scale: scale) { x, y in heat(wR[k * plane + y * w + x]) }
        canvas.draw(left: left(5), top: y0, width: w, height: h, scale: scale) { x, y in heat(wZ[k * plane + y * w + x]) }
    }
    let margin = 10, titleTop = 48
    let width = Swift.max(canvas.width + 2 * margin, 760)
    let legendTop = titleTop + canvas.height + 24
    var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(legendTop + 78)\" font-family=\"sans-serif\" font-size=\"12\">\n"
    svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    svg += "<text x=\"\(margin)\" y=\"18\" font-size=\"14\" font-weight=\"bold\">Held-out test scenes of seed 1, \(protocolName)</text>\n"
    let titles = ["RGB", "ground truth", "L_seg prediction", "L_T prediction", "wR = |R| (L_T)", "wZ (L_T)"]
    for (c, t) in titles.enumerated() {
        svg += "<text x=\"\(margin + c * (tileW + gap) + tileW / 2)\" y=\"\(titleTop - 8)\" text-anchor=\"middle\">\(t)</text>\n"
    }
    svg += "<image x=\"\(margin)\" y=\"\(titleTop)\" width=\"\(canvas.width)\" height=\"\(canvas.height)\" "
        + "style=\"image-rendering:pixelated\" href=\"data:image/png;base64,\(Base64.encode(canvas.png()))\"/>\n"
    // Class legend.
    var x = margin
    for (c, name) in (SceneGenerator.classNames + ["ignored"]).enumerated() {
        let (r, g, b) = c < classPalette.count ? classPalette[c] : (0, 0, 0)
        svg += "<rect x=\"\(x)\" y=\"\(legendTop)\" width=\"12\" height=\"12\" fill=\"rgb(\(r),\(g),\(b))\" stroke=\"#666\"/>\n"
        svg += "<text x=\"\(x + 16)\" y=\"\(legendTop + 10)\">\(name)</text>\n"
        x += 22 + name.count * 7
    }
    // Scale bar for wR and wZ.
    let barTop = legendTop + 30, barLeft = margin + 180, barWidth = 300
    svg += "<text x=\"\(margin)\" y=\"\(barTop + 11)\">wR and wZ, one scale:</text>\n"
    svg += "<defs><linearGradient id=\"heat\"><stop offset=\"0\" stop-color=\"rgb(255,255,255)\"/><stop offset=\"1\" stop-color=\"rgb(200,0,0)\"/></linearGradient></defs>\n"
    svg += "<rect x=\"\(barLeft)\" y=\"\(barTop)\" width=\"\(barWidth)\" height=\"12\" fill=\"url(#heat)\" stroke=\"#666\"/>\n"
    for i in 0...4 {
        let v = Double(top) * Double(i) / 4
        let tx = barLeft + barWidth * i / 4
        svg += "<line x1=\"\(tx)\" y1=\"\(barTop + 12)\" x2=\"\(tx)\" y2=\"\(barTop + 17)\" stroke=\"#666\"/>\n"
        svg += "<text x=\"\(tx)\" y=\"\(barTop + 30)\" text-anchor=\"middle\">\(fixed(v, 2))</text>\n"
    }
    svg += "<text x=\"\(barLeft + barWidth + 12)\" y=\"\(barTop + 11)\">(white: 0, also where a map has no weight)</text>\n"
    return svg + "</svg>\n"
}

func write(_ text: String, to path: String) throws {
    guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
        throw TrainingFailure(message: "cannot write \(path)")
    }
}

/// One protocol's runs: for each row, its runs over the seeds, scored on the test split.
struct ProtocolResult {
    var name: String
    var rows: [AblationRow]
    var runs: [[RunResult]]
    /// Each row's fine-tuning rate (nil from scratch).
    var rates: [Float]?

    var baseline: Int? { rows.firstIndex(of: .segmentation) }
    var isFineTuned: Bool { rates != nil }

    /// The paired differences of row `i`'s mIoU to L_seg's, per seed.
    func deltas(_ i: Int) -> [Double]? {
        guard let b = baseline, b != i else { return nil }
        return zip(runs[i], runs[b]).map { $0.meanIoU - $1.meanIoU }
    }
}

/// "66.0 ± 2.8" in percent, or "66.0" for one seed (no interval).
func cell(_ values: [Double], digits: Int = 1, signed: Bool = false, inPercent: Bool = true) -> String {
    let v = Interval(values)
    func number(_ x: Double) -> String {
        let text = inPercent ? percent(x, digits) : fixed(x, digits)
        return signed && x >= 0 ? "+" + text : text
    }
    return values.count > 1 ? "\(number(v.mean)) ± \(inPercent ? percent(v.halfWidth, digits) : fixed(v.halfWidth, digits))" : number(v.mean)
}

func resultTable(_ p: ProtocolResult, start: [RunResult]?) -> [String] {
    var lines: [String] = []
    lines.append("| row |" + (p.rates != nil ? " fine-tuning lr |" : "") + " pixel acc % | mean acc % | mIoU % | Δ mIoU vs L_seg (paired) |")
    lines.append("|---|" + (p.rates != nil ? "---|" : "") + "---|---|---|---|")
    if let start {
        lines.append("| *start: the L_seg network* |" + (p.rates != nil ? " — |" : "")
                     + " \(cell(start.map(\.pixelAccuracy))) | \(cell(start.map(\.meanAccuracy))) | \(cell(start.map(\.meanIoU))) | — |")
    }
    for (i, row) in p.rows.enumerated() {
        let r = p.runs[i]
        var delta = "—"
        if let d = p.deltas(i) {
            delta = cell(d, digits: 2, signed: true) + (Interval(d).excludesZero ? " *" : "")
        }
        lines.append("| \(row.rawValue) |" + (p.rates.map { " \($0[i]) |" } ?? "")
                     + " \(cell(r.map(\.pixelAccuracy))) | \(cell(r.map(\.meanAccuracy))) | \(cell(r.map(\.meanIoU))) | \(delta) |")
    }
    return lines
}

/// The mechanism per row and epoch: gradient norm relative to L_seg (paired by seed), mean
/// and spread of W, and the fraction of pixels inside each pace; means over seeds.
func mechanism(_ p: ProtocolResult) -> (panels: [LineChart.Panel], table: [String]) {
    let epochs = p.runs.first?.first?.epochs.count ?? 0
    func mean(_ xs: [Double?]) -> Double? {
        let v = xs.compactMap { $0 }
        return v.isEmpty ? nil : v.reduce(0, +) / Double(v.count)
    }
    func perEpoch(_ i: Int, _ value: (RunResult, Int, Int) -> Double?) -> [Double?] {
        (0..<epochs).map { e in mean(p.runs[i].indices.map { k in value(p.runs[i][k], k, e) }) }
    }
    var norm: [LineChart.Series] = [], wMean: [LineChart.Series] = [], wSpread: [LineChart.Series] = [], pace: [LineChart.Series] = []
    var table = ["| row | gradient norm ÷ L_seg's | mean W | spread of W (sd) | pixels inside the pace |",
                 "|---|---|---|---|---|"]
    for (i, row) in p.rows.enumerated() {
        let ratio: [Double?] = perEpoch(i) { r, k, e in
            guard let b = p.baseline else { return r.epochs[e].gradientNorm }
            return r.epochs[e].gradientNorm / p.runs[b][k].epochs[e].gradientNorm
        }
        norm.append(.init(label: row.rawValue, values: ratio))
        let m = perEpoch(i) { r, _, e in r.epochs[e].weightMean }, sd = perEpoch(i) { r, _, e in r.epochs[e].weightSpread }
        wMean.append(.init(label: row.rawValue, values: m))
        wSpread.append(.init(label: row.rawValue, values: sd))
        var paces: [String] = []
        for (name, key, dash) in [("wR", \EpochRecord.depthPredictionErrorInPace, "7 3"), ("wZ", \EpochRecord.segmentationErrorInPace, "2 2"),
                                  ("loss", \EpochRecord.segmentationInPace, "9 3 2 3")] {
            let v = perEpoch(i) { r, _, e in r.epochs[e][keyPath: key] }
            if v.contains(where: { $0 != nil }) {
                pace.append(.init(label: "\(row.rawValue): \(name) pace", values: v, colourOf: row.rawValue, dash: dash))
                paces.append("\(name) \(percent(mean(v) ?? 0, 0))%")
            }
        }
        let ratioText = p.baseline == nil ? "—" : fixed(mean(ratio) ?? 0, 2)
        table.append("| \(row.rawValue) | \(ratioText) | \(fixed(mean(m) ?? 0, 2)) | \(fixed(mean(sd) ?? 0, 2)) | \(paces.isEmpty ? "—" : paces.joined(separator: ", ")) |")
    }
    let panels = [
        LineChart.Panel(title: p.baseline == nil ? "gradient norm" : "gradient norm ÷ L_seg's (same seed)", series: norm,
                        reference: p.baseline == nil ? nil : 1),
        LineChart.Panel(title: "mean loss weight W over labelled pixels", series: wMean, reference: 1),
        LineChart.Panel(title: "spread of W (standard deviation)", series: wSpread),
        LineChart.Panel(title: "inside the pace (- - wR, ··· wZ, -·- the loss)", series: pace),
    ]
    return (panels, table)
}

func ablation(_ o: Options) throws {
    let s = o.settings
    let seeds = (1...o.seeds).map { UInt64($0) }
    var ft = s
    ft.epochs = o.fineTuneEpochs
    let fitEpochs = Swift.max(1, Int((Double(o.fineTuneEpochs) / 3).rounded()))
    let gridSeedCount = Swift.min(gridSeeds, o.seeds)
    let p = o.trainingProtocol
    let others = o.rows.filter { $0 != .segmentation }
    let needStart = p.fineTunes || o.rows.contains(.segmentation)

    var plannedEpochs = needStart ? seeds.count * s.epochs : 0
    if p.fromScratch { plannedEpochs += others.count * seeds.count * s.epochs }
    if p.fineTunes {
        plannedEpochs += seeds.count * fitEpochs
        plannedEpochs += o.rows.count * fineTuneRates.count * gridSeedCount * ft.epochs
        plannedEpochs += o.rows.count * (seeds.count - gridSeedCount) * ft.epochs
    }
    let progress = Progress(totalEpochs: plannedEpochs)

    say("Training the reference network on synthetic RGB-D scenes (\(s.height)×\(s.width), \(SceneGenerator.classes) classes: "
        + SceneGenerator.classNames.joined(separator: ", ") + ")")
    say("Protocol \(p.rawValue): \(o.rows.count) rows × \(o.seeds) seeds (the same seeds in every row); channels \(s.networkWidth); "
        + "tested on \(s.testImages) held-out scenes per seed; \(o.jobs) runs at once")
    if p.fineTunes {
        say("Fine-tuning: from each seed's L_seg network (\(s.epochs) epochs at lr \(s.learningRate)), \(ft.epochs) epochs per row; "
            + "each row's lr from {\(fineTuneRates.map { "\($0)" }.joined(separator: ", "))} by its mean validation mIoU over seeds 1–\(gridSeedCount)")
    }
    if p.fromScratch { say("From scratch: \(s.epochs) epochs at lr \(s.learningRate)") }

    // 1. The L_seg network of each seed (the strong start, and the from-scratch L_seg row),
    //    with the other from-scratch rows when asked.
    let firstRows = (needStart ? [AblationRow.segmentation] : []) + (p.fromScratch ? others : [])
    let first = try runAll(firstRows.flatMap { row in
        seeds.map { Job(label: "\(row.rawValue) (from scratch)", configuration: ablationConfiguration(row, epochs: s.epochs), settings: s, seed: $0, split: .test) }
    }, workers: o.jobs, progress: progress)
    func firstRuns(_ row: AblationRow) -> [RunResult] {
        let i = firstRows.firstIndex(of: row)!
        return Array(first[(i * seeds.count)..<((i + 1) * seeds.count)])
    }
    let start = needStart ? firstRuns(.segmentation) : []
    var protocols: [ProtocolResult] = []
    let scratch = p.fromScratch ? ProtocolResult(name: "from scratch", rows: o.rows, runs: o.rows.map(firstRuns), rates: nil) : nil

    var lines: [String] = []
    var premiseChart: String?
    if p.fineTunes {
        // 2. The premise, before any fine-tuning: the start's depth branch fitted alone, then
        //    how well each score ranks the start's wrong pixels on the validation split.
        let premise = try parallelMap(seeds.count, workers: o.jobs) { k in
            let fitted = try fittingDepthBranch(of: start[k].network, settings: s, seed: seeds[k], epochs: fitEpochs)
            let m = try PremiseMeasurement(fitted, on: .validation, settings: s, seed: seeds[k])
            progress.finished(epochs: fitEpochs, "premise, seed \(seeds[k]): AUC wR \(fixed(m.areaUnderCurve[.depthPredictionError]!, 3)), "
                              + "wZ \(fixed(m.areaUnderCurve[.segmentationError]!, 3)), per-pixel loss \(fixed(m.areaUnderCurve[.pixelLoss]!, 3))")
            return m
        }
        lines += premiseReport(premise, fitEpochs: fitEpochs, settings: s)
        premiseChart = premiseSVG(premise)

        // 3. Each row's fine-tuning rate, on the validation split: every row, every rate, seeds 1…3.
        var grid: [Job] = []
        for row in o.rows {
            for rate in fineTuneRates {
                var t = ft
                t.learningRate = rate
                for k in 0..<gridSeedCount {
                    grid.append(Job(label: "\(row.rawValue) (fine-tuning, lr \(rate))", configuration: ablationConfiguration(row, epochs: ft.epochs),
                                    settings: t, seed: seeds[k], start: start[k].network, split: .validation))
                }
            }
        }
        let gridRuns = try runAll(grid, workers: o.jobs, progress: progress)
        func gridRun(_ row: Int, _ rate: Int, _ k: Int) -> RunResult { gridRuns[(row * fineTuneRates.count + rate) * gridSeedCount + k] }
        var chosen: [Int] = []
        lines.append("")
        lines.append("## Fine-tuning rates, chosen on the validation split")
        lines.append("")
        lines.append("Validation mIoU % (\(s.validationImages) scenes per seed), mean over seeds 1–\(gridSeedCount); the chosen rate in bold "
                     + "(the highest mean; a tie goes to the smaller rate).")
        lines.append("")
        lines.append("| row |" + fineTuneRates.map { " lr \($0) |" }.joined())
        lines.append("|---|" + fineTuneRates.map { _ in "---|" }.joined())
        for (i, row) in o.rows.enumerated() {
            let means = fineTuneRates.indices.map { r in (0..<gridSeedCount).map { gridRun(i, r, $0).meanIoU }.reduce(0, +) / Double(gridSeedCount) }
            var best = 0
            for r in means.indices where means[r] > means[best] { best = r }
            chosen.append(best)
            lines.append("| \(row.rawValue) |" + means.indices.map { r in r == best ? " **\(percent(means[r]))** |" : " \(percent(means[r])) |" }.joined())
        }

        // 4. The test runs at each row's rate: seeds 1…3 are the grid's runs (training is
        //    deterministic), scored on the test split; the other seeds train now.
        var rest: [Job] = []
        for (i, row) in o.rows.enumerated() {
            var t = ft
            t.learningRate = fineTuneRates[chosen[i]]
            for k in gridSeedCount..<seeds.count {
                rest.append(Job(label: "\(row.rawValue) (fine-tuning, lr \(t.learningRate))", configuration: ablationConfiguration(row, epochs: ft.epochs),
                                settings: t, seed: seeds[k], start: start[k].network, split: .test))
            }
        }
        let restRuns = try runAll(rest, workers: o.jobs, progress: progress)
        var runs: [[RunResult]] = []
        for i in o.rows.indices {
            var row: [RunResult] = []
            for k in 0..<gridSeedCount {
                var r = gridRun(i, chosen[i], k)
                let test = try score(r.network, on: .test, settings: s, seed: seeds[k])
                (r.pixelAccuracy, r.meanAccuracy, r.meanIoU) = (test.pixelAccuracy, test.meanAccuracy, test.meanIoU)
                row.append(r)
            }
            row += restRuns[(i * (seeds.count - gridSeedCount))..<((i + 1) * (seeds.count - gridSeedCount))]
            runs.append(row)
        }
        protocols.append(ProtocolResult(name: "fine-tuned from the L_seg network", rows: o.rows, runs: runs, rates: chosen.map { fineTuneRates[$0] }))
    }
    if let scratch { protocols.append(scratch) }

    var report: [String] = []
    report.append("mIoU, pixel and mean accuracy in % on \(s.testImages) held-out test scenes per run; \(seeds.count) seed\(seeds.count > 1 ? "s" : "") per "
                  + "row, the same seeds (training scenes and initial weights) in every row.")
    if seeds.count > 1 {
        report.append("± is the half-width of the 95% confidence interval of the mean over seeds (Student's t, "
                      + "\(seeds.count - 1) degrees of freedom). Δ is the paired difference to L_seg over the same seeds, with its 95% "
                      + "interval; * marks an interval that excludes 0 (not corrected for the \(Swift.max(0, o.rows.count - 1)) comparisons).")
    } else {
        report.append("One seed: no interval (a spread needs two seeds or more); Δ is the difference to L_seg.")
    }
    let mechanisms = protocols.map(mechanism)
    for (q, m) in zip(protocols, mechanisms) {
        report.append("")
        report.append("## \(q.isFineTuned ? "Fine-tuning from the L_seg network (the paper's protocol, in miniature)" : "From scratch")")
        report.append("")
        report += resultTable(q, start: q.isFineTuned ? start : nil)
        if q.isFineTuned {
            let switched = q.rows.indices.filter { q.runs[$0].first?.depthAtSwitch != nil }
            if !switched.isEmpty {
                report.append("")
                report.append("The depth branch where β switches on (epoch \(fitEpochs) of \(ft.epochs)), on the validation scenes:")
                report.append("")
                report.append("| row | abs rel | δ < 1.25 % |")
                report.append("|---|---|---|")
                for i in switched {
                    let d = q.runs[i].compactMap(\.depthAtSwitch)
                    report.append("| \(q.rows[i].rawValue) | \(cell(d.map(\.absoluteRelativeError), digits: 3, inPercent: false)) | \(cell(d.map(\.withinRatio125))) |")
                }
            }
        }
        report.append("")
        report.append("Mechanism (\(q.name)): means over seeds and epochs (the gradient norm paired by seed); per epoch in mechanism.svg.")
        report.append("")
        report += m.table
    }
    let elapsed = progress.elapsed
    var all = Array(report[..<2]) + lines + Array(report[2...])
    all += ["", "\(o.rows.count) rows × \(seeds.count) seeds, protocol \(p.rawValue), in \(duration(elapsed)) with \(o.jobs) runs at once."]
    say("")
    all.forEach(say)

    let dir = o.output
    var written: [String] = []
    try write(all.joined(separator: "\n") + "\n", to: dir + "/table.md")
    written.append(dir + "/table.md")
    if protocols.contains(where: { $0.baseline != nil }) {
        let panels = protocols.compactMap { q -> IntervalChart.Panel? in
            guard q.baseline != nil else { return nil }
            let rows = q.rows.indices.compactMap { i -> IntervalChart.Row? in
                guard let d = q.deltas(i) else { return nil }
                let v = Interval(d)
                return .init(label: q.rows[i].rawValue, mean: v.mean * 100, low: v.low * 100, high: v.high * 100, highlighted: v.excludesZero)
            }
            return .init(heading: q.isFineTuned ? "Fine-tuned from the L_seg network (each row's rate chosen on validation)" : "From scratch",
                         axis: "Δ mIoU to L_seg, percentage points (dashed: no difference)", rows: rows, reference: 0)
        }
        let svg = IntervalChart.svg(
            title: "mIoU of each Table II row minus L_seg's, on held-out test scenes\n"
                + (seeds.count > 1 ? "paired over \(seeds.count) seeds: mean and 95% interval (red: the interval excludes 0)" : "one seed: no interval"),
            panels: panels)
        try write(svg, to: dir + "/miou.svg")
        written.append(dir + "/miou.svg")
    }
    if let premiseChart {
        try write(premiseChart, to: dir + "/premise.svg")
        written.append(dir + "/premise.svg")
    }
    if let q = protocols.first, let m = mechanisms.first {
        try write(LineChart.svg(title: "Mechanism per row, \(q.name): means over \(seeds.count) seed\(seeds.count > 1 ? "s" : "") per epoch",
                                xLabel: "epoch", panels: m.panels), to: dir + "/mechanism.svg")
        written.append(dir + "/mechanism.svg")
        if let b = q.baseline, let t = q.rows.firstIndex(of: .paced) {
            try write(try panel(baseline: q.runs[b][0].network, paced: q.runs[t][0].network, protocolName: q.name, settings: s, scenes: 4),
                      to: dir + "/panel.svg")
            written.append(dir + "/panel.svg")
        }
    }
    say("wrote " + written.joined(separator: ", "))
}

/// The premise table: AUC and precision among the top 10% per score, the error rate, the
/// pixels outside the scored set, the depth branch's quality.
func premiseReport(_ m: [PremiseMeasurement], fitEpochs: Int, settings s: TrainingSettings) -> [String] {
    var lines = ["", "## The premise: do the weights rank the pixels the L_seg network gets wrong?", ""]
    lines.append("On each seed's \(s.validationImages) validation scenes, the L_seg network (the start of fine-tuning) with its depth "
                 + "branch fitted alone for \(fitEpochs) epochs (every other layer frozen). Pixels with a valid label and a valid depth; "
                 + "positive: the argmax differs from the label. Mean over \(m.count) seed\(m.count > 1 ? "s" : "")"
                 + (m.count > 1 ? " with the 95% interval." : "."))
    lines.append("")
    lines.append("| score | ROC AUC | precision among the top 10 % |")
    lines.append("|---|---|---|")
    for score in PremiseScore.allCases {
        lines.append("| \(score.rawValue) | \(cell(m.map { $0.areaUnderCurve[score]! }, digits: 3, inPercent: false)) | "
                     + "\(cell(m.map { $0.precisionAtTop10[score]! })) % |")
    }
    let scored = m.map(\.scoredPixels).reduce(0, +), without = m.map(\.pixelsWithoutDepth).reduce(0, +)
    let wrongWithout = m.map(\.wrongPixelsWithoutDepth).reduce(0, +)
    lines.append("")
    lines.append("Error rate of the scored pixels: \(cell(m.map(\.errorRate))) %. Not scored (labelled, no valid depth): "
                 + "\(percent(Double(without) / Double(Swift.max(1, scored + without))))% of the labelled pixels, of which "
                 + "\(percent(Double(wrongWithout) / Double(Swift.max(1, without))))% wrong.")
    lines.append("The depth branch that gave wR: abs rel \(cell(m.map(\.depth.absoluteRelativeError), digits: 3, inPercent: false)), "
                 + "δ < 1.25 \(cell(m.map(\.depth.withinRatio125))) %.")
    return lines
}

func premiseSVG(_ m: [PremiseMeasurement]) -> String {
    func rows(_ value: (PremiseMeasurement, PremiseScore) -> Double, scale: Double) -> [IntervalChart.Row] {
        PremiseScore.allCases.map { score in
            let v = Interval(m.map { value($0, score) })
            return .init(label: score.rawValue, mean: v.mean * scale, low: v.low * scale, high: v.high * scale, highlighted: score == .depthPredictionError)
        }
    }
    let chance = Interval(m.map(\.errorRate)).mean * 100
    return IntervalChart.svg(
        title: "The premise: how well each score ranks the pixels the L_seg network gets wrong\n"
            + "validation scenes, pixels with a valid label and depth; mean over \(m.count) seed\(m.count > 1 ? "s" : "")"
            + (m.count > 1 ? " with 95% intervals" : ""),
        panels: [
            .init(heading: "ROC AUC (0.5: chance, dashed)", axis: "ROC AUC", rows: rows({ $0.areaUnderCurve[$1]! }, scale: 1), reference: 0.5),
            .init(heading: "Precision among the 10% of pixels with the largest scores (dashed: the error rate)", axis: "wrong pixels among the top 10%, %",
                  rows: rows({ $0.precisionAtTop10[$1]! }, scale: 100), reference: chance),
        ],
        note: "wR (red) is the paper's conjecture: pixels with a large depth prediction error are hard.")
}

do {
    let options = try Options(CommandLine.arguments)
    if options.tune { try tune(options) } else { try ablation(options) }
} catch let usage as Usage {
    if usage.message.isEmpty {
        print(usage)
        exit(0)  // --help
    }
    FileHandle.standardError.write(Data((usage.description + "\n").utf8))
    exit(2)  // a wrong option, before any output
} catch {
    print("\(error)")
    exit(1)
}
