import Foundation
import HardPixelMiningTestSupport
import Testing

/// Every Swift example in README.md and Docs/ stands alone: `bash Tests/DocsExamples/run.sh`
/// (run by .ci/run) builds each ```swift block verbatim as the main.swift of its own executable
/// in a fresh package that depends on this one by path, and runs it. These tests check what
/// that needs of the text: each block imports the package (and nothing but Foundation besides),
/// and the block parser finds every block.
@Suite struct DocsCoverageTests {
    static let root = Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent()

    static var pages: [String] {
        let docs = (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("Docs").path)) ?? []
        return ["README.md"] + docs.filter { $0.hasSuffix(".md") }.sorted().map { "Docs/\($0)" }
    }

    /// The ```swift blocks of a Markdown text.
    static func swiftBlocks(_ text: String) -> [String] {
        var blocks: [String] = [], current: [Substring]? = nil
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil, line.trimmingCharacters(in: .whitespaces) == "```swift" {
                current = []
            } else if current != nil, line.trimmingCharacters(in: .whitespaces) == "```" {
                blocks.append(current!.joined(separator: "\n"))
                current = nil
            } else {
                current?.append(line)
            }
        }
        return blocks
    }

    @Test func everySwiftExampleStandsAlone() throws {
        var blocks = 0
        for page in Self.pages {
            let text = try String(contentsOf: Self.root.appendingPathComponent(page), encoding: .utf8)
            for block in Self.swiftBlocks(text) {
                blocks += 1
                let imports = block.split(separator: "\n").filter { $0.hasPrefix("import ") }
                    .map { $0.split(separator: "/")[0].trimmingCharacters(in: .whitespaces) }
                #expect(imports.contains("import HardPixelMining"), "\(page): a block that does not import the package:\n\(block)")
                for line in imports {
                    #expect(["import Foundation", "import HardPixelMining"].contains(line), "\(page): \(line)")
                }
            }
        }
        #expect(blocks >= 22)
        #expect(FileManager.default.fileExists(atPath: Self.root.appendingPathComponent("Tests/DocsExamples/run.sh").path))
    }

    /// The parser itself: it finds Swift blocks and only them.
    @Test func theParserFindsSwiftBlocksOnly() throws {
        let blocks = Self.swiftBlocks("text\n```swift\nlet a = 1\n```\n```python\nx\n```\n")
        #expect(blocks == ["let a = 1"])
    }
}
