import Foundation
import HardPixelMiningTestSupport
import Testing

/// The layers API → Engine → Kernels. The compiler keeps the kernels' internals from the
/// library (they are a target of their own, reached only through `package` declarations);
/// these checks keep the API's files from reaching past the engine, which shares their target.
@Suite struct LayeringTests {
    static let sources = Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources")

    static func swiftFiles(_ folder: String) throws -> [(name: String, text: String)] {
        let url = sources.appendingPathComponent(folder)
        let names = try FileManager.default.contentsOfDirectory(atPath: url.path).filter { $0.hasSuffix(".swift") }
        return try names.sorted().map { ($0, try String(contentsOf: url.appendingPathComponent($0), encoding: .utf8)) }
    }

    /// Lines of code (comments dropped) that mention `token`.
    static func codeLines(_ text: String, mentioning token: String) -> [Substring] {
        text.split(separator: "\n").filter { line in
            let code = line.components(separatedBy: "//").first ?? ""
            return code.contains(token)
        }
    }

    @Test func apiFilesCallNoKernel() throws {
        let files = try Self.swiftFiles("HardPixelMining/API") + Self.swiftFiles("HardPixelMining/Shapes")
        #expect(files.count > 20)
        for (name, text) in files {
            for token in ["import HardPixelMiningKernels", "import CHardPixelMiningSupport", "Kernels.", "Selection."] {
                #expect(Self.codeLines(text, mentioning: token).isEmpty, "\(name) mentions \(token)")
            }
        }
    }

    @Test func kernelsImportNothingButTheirCSupport() throws {
        let files = try Self.swiftFiles("HardPixelMiningKernels")
        #expect(files.count > 8)
        for (name, text) in files {
            let imports = text.split(separator: "\n").filter { $0.hasPrefix("import ") }
            #expect(imports.allSatisfy { $0 == "import CHardPixelMiningSupport" }, "\(name): \(imports)")
        }
    }
}
