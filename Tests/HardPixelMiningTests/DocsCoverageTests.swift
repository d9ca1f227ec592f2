import Foundation
import HardPixelMiningTestSupport
import Testing

/// Every Swift example in README.md and Docs/ is compiled and run by a test, exactly as
/// printed: each ```swift block of a page, its `import` lines aside, is the text between a
/// `// --- <page> ---` marker and `// --- end ---` in one of the test files (indentation
/// removed), and its imports are ones the test files make.
@Suite struct DocsCoverageTests {
    static let root = Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent()
    static let testDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()

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

    /// The tested regions of every test file, by page.
    static func regions() throws -> [String: [String]] {
        var out: [String: [String]] = [:]
        let files = try FileManager.default.contentsOfDirectory(atPath: testDirectory.path).filter { $0.hasSuffix(".swift") }
        for file in files {
            let source = try String(contentsOf: testDirectory.appendingPathComponent(file), encoding: .utf8)
            var page: String? = nil, indent = 0, lines: [String] = []
            for line in source.split(separator: "\n", omittingEmptySubsequences: false) {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if let p = page {
                    if trimmed == "// --- end ---" {
                        out[p, default: []].append(lines.joined(separator: "\n"))
                        page = nil
                    } else {
                        lines.append(line.count >= indent && line.prefix(indent).allSatisfy { $0 == " " }
                                     ? String(line.dropFirst(indent)) : String(line))
                    }
                } else if trimmed.hasPrefix("// --- "), trimmed.hasSuffix(".md ---") {
                    page = String(trimmed.dropFirst(7).dropLast(4))
                    indent = line.prefix { $0 == " " }.count
                    lines = []
                }
            }
        }
        return out
    }

    static func normalised(_ block: String) -> String {
        block.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("import ") }
            .joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func everySwiftExampleIsTestedAsPrinted() throws {
        let regions = try Self.regions()
        var blocks = 0
        for page in Self.pages {
            let text = try String(contentsOf: Self.root.appendingPathComponent(page), encoding: .utf8)
            let tested = Set((regions[page] ?? []).map(Self.normalised))
            for block in Self.swiftBlocks(text) {
                blocks += 1
                #expect(tested.contains(Self.normalised(block)), "\(page): an example no test runs as printed:\n\(block)")
                for line in block.split(separator: "\n") where line.hasPrefix("import ") {
                    #expect(["import Foundation", "import HardPixelMining"].contains(line.split(separator: "/")[0]
                        .trimmingCharacters(in: .whitespaces)), "\(page): \(line)")
                }
            }
        }
        #expect(blocks >= 16)
    }

    /// And the other way round: every tested region stands in its page.
    @Test func everyTestedRegionIsOnItsPage() throws {
        for (page, list) in try Self.regions() {
            let text = try String(contentsOf: Self.root.appendingPathComponent(page), encoding: .utf8)
            let printed = Set(Self.swiftBlocks(text).map(Self.normalised))
            for region in list {
                #expect(printed.contains(Self.normalised(region)), "\(page) does not show:\n\(region)")
            }
        }
    }

    /// The checker itself: a block that differs by one character is not found.
    @Test func theCheckerCanFail() throws {
        let blocks = Self.swiftBlocks("text\n```swift\nlet a = 1\n```\n```python\nx\n```\n")
        #expect(blocks == ["let a = 1"])
        #expect(Self.normalised("import Foundation\nlet a = 1\n") == "let a = 1")
        #expect(Self.normalised("let a = 2") != Self.normalised(blocks[0]))
    }
}
