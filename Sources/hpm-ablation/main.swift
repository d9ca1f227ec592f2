// The main job: trains the reference network on synthetic RGB-D scenes for every row of
// the paper's Table II over several seeds, and prints pixel accuracy, mean accuracy and
// mean IoU on the test scenes as mean ± standard deviation.
//
//     swift run -c release hpm-ablation [--seeds 3] [--epochs 12] [--height 32] [--width 48]
//                                       [--rows 0,1,...] [--jobs 2] [--train 64] [--test 32]
import Dispatch
import HPMReferenceNetwork
import HardPixelMining
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct Options {
    var seeds = 3, jobs = 2
    var settings = TrainingSettings()
    var rows = AblationRow.allCases

    init(_ arguments: [String]) throws {
        var it = arguments.dropFirst().makeIterator()
        while let flag = it.next() {
            if flag == "--help" || flag == "-h" { throw Usage(message: "") }
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
            default: throw Usage(message: "unknown flag \(flag)")
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
    var description: String { "a run failed: \(message)" }
}

struct Usage: Error, CustomStringConvertible {
    var message: String
    var description: String {
        let rows = AblationRow.allCases.enumerated().map { "  \($0.offset): \($0.element.rawValue)" }.joined(separator: "\n")
        return (message.isEmpty ? "" : message + "\n")
            + "usage: hpm-ablation [--seeds N] [--epochs E] [--height H] [--width W] [--rows i,j,...] [--jobs J] [--train N] [--test N] [--lr R]\nrows:\n"
            + rows
    }
}

func statistics(_ values: [Double]) -> String {
    let mean = values.reduce(0, +) / Double(values.count)
    let variance = values.count > 1 ? values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1) : 0
    let m = (mean * 1000).rounded() / 10, s = (variance.squareRoot() * 1000).rounded() / 10
    return "\(m) ± \(s)".padding(14)
}

extension String {
    func padding(_ width: Int) -> String { self + String(repeating: " ", count: Swift.max(0, width - count)) }
}

do {
    let options = try Options(CommandLine.arguments)
    let s = options.settings
    let jobs = options.rows.flatMap { row in (0..<options.seeds).map { (row, UInt64($0 + 1)) } }
    print("Training the reference network on synthetic RGB-D scenes (\(s.height)×\(s.width), \(SceneGenerator.classes) classes:",
          SceneGenerator.classNames.joined(separator: ", ") + ")")
    defer { fflush(nil) }
    print("\(options.rows.count) rows × \(options.seeds) seeds, \(s.epochs) epochs of \(s.trainImages) scenes, tested on \(s.testImages); \(options.jobs) jobs at once")
    let results = Mutex([RunResult?](repeating: nil, count: jobs.count))
    let done = Mutex(0)
    let failure = Mutex<String?>(nil)
    let start = DispatchTime.now().uptimeNanoseconds
    DispatchQueue.concurrentPerform(iterations: Swift.min(options.jobs, jobs.count)) { worker in
        var j = worker
        while j < jobs.count {
            let (row, seed) = jobs[j]
            do {
                let r = try train(ablationConfiguration(row, epochs: s.epochs), settings: s, seed: seed)
                results.withLock { $0[j] = r }
                let n = done.withLock { $0 += 1; return $0 }
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                print("[\(n)/\(jobs.count)] \(row.rawValue) seed \(seed): mIoU \((r.meanIoU * 1000).rounded() / 10)%, loss \(r.losses.first.map { ($0 * 1000).rounded() / 1000 } ?? 0) → \(r.losses.last.map { ($0 * 1000).rounded() / 1000 } ?? 0)  (\(Int(seconds)) s)")
                fflush(nil)  // progress shows as it happens even when the output is a pipe or a file
            } catch {
                failure.withLock { $0 = "\(row.rawValue) seed \(seed): \(error)" }
            }
            j += options.jobs
        }
    }
    if let message = failure.withLock({ $0 }) { throw TrainingFailure(message: message) }
    let all = results.withLock { $0.map { $0! } }
    print("")
    print("row".padding(22) + "| pixel acc %    | mean acc %     | mIoU %")
    print(String(repeating: "-", count: 68))
    for (i, row) in options.rows.enumerated() {
        let runs = Array(all[(i * options.seeds)..<((i + 1) * options.seeds)])
        print(row.rawValue.padding(22) + "| " + statistics(runs.map(\.pixelAccuracy)) + " | "
              + statistics(runs.map(\.meanAccuracy)) + " | " + statistics(runs.map(\.meanIoU)))
    }
} catch {
    print("hpm-ablation: \(error)")
    exit(error is Usage && "\(error)".hasPrefix("usage") ? 0 : 1)  // --help exits 0
}
