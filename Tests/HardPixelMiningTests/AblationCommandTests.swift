import Foundation
import Testing

/// `hpm-ablation` as a user runs it: its options checked before any training (a row named
/// twice, an unknown protocol, an output folder it cannot write), one seed printed without
/// intervals, and the same files from the same options (the binary built beside the tests).
@Suite struct AblationCommandTests {
    static func run(_ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
        try CommandRunner.run("hpm-ablation", arguments)
    }

    static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "hpm-ablation-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A run small enough for a debug build: 1 seed unless given, rows L_seg and L_T.
    static let small = ["--epochs", "2", "--finetune-epochs", "2", "--train", "8", "--test", "8", "--height", "8", "--width", "8", "--rows", "0,8"]

    @Test func helpListsTheProtocolsAndTheRateGrid() throws {
        let r = try Self.run(["--help"])
        #expect(r.status == 0)
        for text in ["--protocol", "finetune", "scratch", "both", "--finetune-epochs", "0.01, 0.03, 0.1"] {
            #expect(r.output.contains(text), "\(text) missing from --help")
        }
    }

    @Test(arguments: [["--rows", "0,8,0"], ["--rows", "3,3"], ["--protocol", "fast"], ["--rows", "0,,8"], ["--finetune-epochs", "0"], ["--bogus"]])
    func badUsageExitsTwoBeforeTraining(arguments: [String]) throws {
        let r = try Self.run(arguments + ["--output", try Self.temporaryDirectory()])
        #expect(r.status == 2, "\(arguments): \(r.status)")
        #expect(r.output.isEmpty, "\(arguments) printed \(r.output)")
        #expect(r.error.hasPrefix("hpm-ablation: "))
    }

    @Test func aRowNamedTwiceIsNamedInTheError() throws {
        let r = try Self.run(["--rows", "0,8,8"])
        #expect(r.error.contains("row 8 (L_T) more than once"), "\(r.error)")
    }

    @Test func anOutputItCannotWriteFailsBeforeTraining() throws {
        let dir = try Self.temporaryDirectory()
        let file = dir + "/a-file"
        #expect(FileManager.default.createFile(atPath: file, contents: Data("x".utf8)))
        let r = try Self.run(Self.small + ["--output", file + "/results"])
        #expect(r.status == 2)
        #expect(r.output.isEmpty, "trained before refusing: \(r.output)")
        #expect(r.error.contains("--output"))
    }

    @Test func oneSeedPrintsNoIntervalAndEveryFileIsWritten() throws {
        let dir = try Self.temporaryDirectory()
        let r = try Self.run(Self.small + ["--seeds", "1", "--protocol", "both", "--output", dir])
        #expect(r.status == 0, "\(r.output)\(r.error)")
        let table = try String(contentsOfFile: dir + "/table.md", encoding: .utf8)
        #expect(!table.contains("±"), "\(table)")
        #expect(table.contains("One seed: no interval"))
        #expect(table.contains("## Fine-tuning from the L_seg network") && table.contains("## From scratch"))
        #expect(table.contains("## The premise") && table.contains("## Fine-tuning rates"))
        for file in ["miou.svg", "premise.svg", "mechanism.svg", "panel.svg"] {
            let svg = try String(contentsOfFile: dir + "/" + file, encoding: .utf8)
            #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n"), "\(file)")
        }
        #expect(r.output.contains("ETA"))
    }

    @Test func theSameOptionsWriteTheSameTable() throws {
        let (a, b) = (try Self.temporaryDirectory(), try Self.temporaryDirectory())
        for dir in [a, b] {
            let r = try Self.run(Self.small + ["--seeds", "2", "--output", dir])
            #expect(r.status == 0, "\(r.error)")
        }
        // Every line but the last (the time taken).
        func table(_ dir: String) throws -> [Substring] {
            try String(contentsOfFile: dir + "/table.md", encoding: .utf8).split(separator: "\n").dropLast()
        }
        #expect(try table(a) == table(b))
        #expect(try table(a).contains { $0.contains("±") })
        for file in ["miou.svg", "premise.svg", "mechanism.svg", "panel.svg"] {
            #expect(try String(contentsOfFile: a + "/" + file, encoding: .utf8) == String(contentsOfFile: b + "/" + file, encoding: .utf8), "\(file)")
        }
    }
}
