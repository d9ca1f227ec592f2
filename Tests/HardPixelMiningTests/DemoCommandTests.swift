import Foundation
import Testing

/// `hpm-demo` as a user runs it: help, bad usage and a past-E epoch, every argument checked
/// before anything is printed (the binary built beside the test bundle).
@Suite struct DemoCommandTests {
    static var demo: URL { CommandRunner.url("hpm-demo") }

    static func run(_ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
        try CommandRunner.run("hpm-demo", arguments)
    }

    @Test func theDemoIsBuiltBesideTheTests() {
        #expect(FileManager.default.isExecutableFile(atPath: Self.demo.path), "\(Self.demo.path)")
    }

    @Test(arguments: ["--help", "-h"])
    func helpListsEveryOptionWithItsDefault(flag: String) throws {
        let r = try Self.run([flag])
        #expect(r.status == 0)
        for option in ["--images", "--classes", "--height", "--width", "--epoch", "--total-epochs", "--threads"] {
            #expect(r.output.contains(option), "\(option) missing from --help")
        }
        #expect(r.output.contains("default 13"))
    }

    @Test(arguments: [["--bogus", "1"], ["--epoch"], ["--epoch", "-1"], ["--classes", "1"], ["--threads", "0"], ["--images", "x"]])
    func badUsageExitsTwoBeforePrintingAnything(arguments: [String]) throws {
        let r = try Self.run(arguments)
        #expect(r.status == 2, "\(arguments): \(r.status)")
        #expect(r.output.isEmpty, "\(arguments) printed \(r.output)")
        #expect(r.error.hasPrefix("hpm-demo: "))
    }

    @Test func epochsPastTheTotalHoldTheLastPace() throws {
        let r = try Self.run(["--epoch", "50", "--total-epochs", "40", "--images", "1", "--height", "6", "--width", "8"])
        #expect(r.status == 0)
        #expect(r.output.contains("L_T"))
    }
}
