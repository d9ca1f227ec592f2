import HPMRandom
// Evaluates the hard-pixel-mining objective on a generated RGB-D batch and prints
// every term, per image and for the batch, for each row of the paper's Table II.
//
//     swift run -c release hpm-demo [--images N] [--classes C] [--height H] [--width W] [--epoch E] [--total-epochs E] [--threads T]
import HPMReferenceNetwork
import HardPixelMining

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

struct Options {
    var images = 2, classes = 13, height = 48, width = 64, threads = 1
    var epoch = 12.0, totalEpochs = 40.0

    static let help = """
        usage: hpm-demo [options]
        Evaluates every row of the paper's Table II on one generated RGB-D batch and prints each term.
          --images N        images in the batch (default 2)
          --classes C       classes, >= 2 (default 13)
          --height H        image height (default 48)
          --width W         image width (default 64)
          --epoch E         the epoch evaluated, >= 0 (default 12; past --total-epochs the pace holds)
          --total-epochs E  the pacing's total epochs, > 0 (default 40)
          --threads T       threads, 1...1024 (default 1)
          --help, -h        this text
        """

    /// Parses and checks every argument before anything is printed.
    init(_ arguments: [String]) throws {
        var it = arguments.dropFirst().makeIterator()
        while let flag = it.next() {
            if flag == "--help" || flag == "-h" { throw Usage(message: nil) }
            let known = ["--images", "--classes", "--height", "--width", "--threads", "--epoch", "--total-epochs"]
            guard known.contains(flag) else { throw Usage(message: "unknown option \(flag)") }
            guard let value = it.next() else { throw Usage(message: "\(flag) needs a value") }
            switch flag {
            case "--images": images = try Self.int(flag, value)
            case "--classes": classes = try Self.int(flag, value)
            case "--height": height = try Self.int(flag, value)
            case "--width": width = try Self.int(flag, value)
            case "--threads": threads = try Self.int(flag, value)
            case "--epoch": epoch = try Self.real(flag, value)
            default: totalEpochs = try Self.real(flag, value)
            }
        }
        let pixels = images.multipliedReportingOverflow(by: height).partialValue.multipliedReportingOverflow(by: width)
        guard images >= 1, height >= 1, width >= 1, height <= 1 << 13, width <= 1 << 13, images <= 1 << 10,
              !pixels.overflow, pixels.partialValue <= 1 << 26 else {
            throw Usage(message: "--images, --height and --width must be >= 1 and give at most 2^26 pixels")
        }
        guard classes >= 2, classes <= 1 << 12 else { throw Usage(message: "--classes must be in 2...4096") }
        guard (1...1024).contains(threads) else { throw Usage(message: "--threads must be in 1...1024") }
        guard epoch >= 0 else { throw Usage(message: "--epoch must be finite and >= 0") }
        guard totalEpochs > 0 else { throw Usage(message: "--total-epochs must be finite and > 0") }
    }

    static func int(_ flag: String, _ value: String) throws -> Int {
        guard let v = Int(value) else { throw Usage(message: "\(flag) takes a whole number, not \(value)") }
        return v
    }

    static func real(_ flag: String, _ value: String) throws -> Double {
        guard let v = Double(value), v.isFinite else { throw Usage(message: "\(flag) takes a finite number, not \(value)") }
        return v
    }
}

/// Bad usage (exit 2) or `--help` (`message` nil: the help on standard output, exit 0).
struct Usage: Error {
    var message: String?
}

/// A deterministic stream of numbers in [0, 1).
struct Generator {
    var source: SplitMix
    init(state: UInt64) { source = SplitMix(seed: state) }
    mutating func uniform() -> Double { source.unitInterval() }
}

/// A scene of horizontal bands (one class each) at increasing depth, a network that is
/// right most of the time, a depth head off by a little, and sensor holes.
func generateBatch(_ shape: BatchShape, seed: UInt64)
    -> (logits: [Float], labels: [Int32], logDepth: [Float], depth: [Float])
{
    var g = Generator(state: seed)
    let hw = shape.pixelsPerImage
    var logits = [Float](repeating: 0, count: shape.logitCount)
    var labels = [Int32](repeating: 255, count: shape.pixelCount)
    var logDepth = [Float](repeating: 0, count: shape.pixelCount)
    var depth = [Float](repeating: 0, count: shape.pixelCount)
    for k in 0..<shape.images {
        for y in 0..<shape.height {
            for x in 0..<shape.width {
                let i = k * hw + y * shape.width + x
                let band = (y * 5 / shape.height + k) % shape.classes
                labels[i] = g.uniform() < 0.05 ? 255 : Int32(band)
                let d = 1 + 250 * Double(y) / Double(shape.height) + 3 * g.uniform()
                depth[i] = g.uniform() < 0.08 ? 0 : Float(d)  // sensor holes
                logDepth[i] = Float(log(d) + 0.2 * (g.uniform() - 0.5) + (x < shape.width / 4 ? 0.3 : 0))
                let right = g.uniform() < 0.8
                for c in 0..<shape.classes {
                    var v = 2 * g.uniform()
                    if right && c == band { v += 3 }
                    logits[(k * shape.classes + c) * hw + y * shape.width + x] = Float(v)
                }
            }
        }
    }
    return (logits, labels, logDepth, depth)
}

func format(_ x: Double) -> String {
    let s = String(Double(Int((x * 1e6).rounded())) / 1e6)
    return String(repeating: " ", count: max(0, 11 - s.count)) + s
}

let options: Options
do {
    options = try Options(CommandLine.arguments)
} catch let usage as Usage {
    guard let message = usage.message else {
        print(Options.help)
        exit(0)
    }
    StandardError.print("hpm-demo: \(message)\n\(Options.help)\n")
    exit(2)
}
do {
    let shape = BatchShape(images: options.images, classes: options.classes, height: options.height, width: options.width)
    let batch = generateBatch(shape, seed: 2026)
    print("HardPixelMining demo: batch \(shape), epoch \(options.epoch) of \(options.totalEpochs)")
    print("row                        |       L_seg |       L_dep |     L_R/L̂_R |     L_Z/L̂_Z |   objective")
    var gx = [Float](repeating: 0, count: shape.logitCount)
    var gd = [Float](repeating: 0, count: shape.pixelCount)
    let workspace = ObjectiveWorkspace()
    for row in AblationRow.allCases {
        let objective = HardPixelMiningObjective(
            .ablation(row, totalEpochs: options.totalEpochs), threadCount: options.threads)
        let r = try objective.evaluate(
            logits: batch.logits, labels: batch.labels, predictedLogDepth: batch.logDepth,
            groundTruthDepth: batch.depth, shape: shape, epoch: options.epoch,
            logitGradient: &gx, depthGradient: &gd, workspace: workspace)
        let name = row.rawValue.padding(26)
        let t = r.batch
        print("\(name) |\(format(t.segmentation)) |\(format(t.depth)) |\(format(t.depthPredictionError)) |\(format(t.segmentationError)) |\(format(t.objective))")
        for (k, image) in r.images.enumerated() {
            let s = r.sums[k]
            print("  image \(k) (n=\(s.labelledPixels), nd=\(s.depthPixels))".padding(26)
                + " |\(format(image.segmentation)) |\(format(image.depth)) |\(format(image.depthPredictionError)) |\(format(image.segmentationError)) |\(format(image.objective))")
        }
    }
} catch {
    StandardError.print("hpm-demo: \(error)\n")
    exit(1)
}

/// Standard error without Foundation (file descriptor 2).
enum StandardError {
    static func print(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}

extension String {
    func padding(_ width: Int) -> String { self + String(repeating: " ", count: max(0, width - count)) }
}

