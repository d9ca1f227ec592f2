import HPMReferenceNetwork
import Testing

/// The pieces the main job reports with — its PNG writer, checked against
/// published check values, and its confidence intervals, against hand-computed ones.
@Suite struct AblationReportTests {
    @Test func checksumsMatchTheirPublishedCheckValues() {
        #expect(PNG.crc32(Array("123456789".utf8)) == 0xCBF4_3926)  // the CRC-32 check value
        #expect(PNG.adler32(Array("Wikipedia".utf8)) == 0x11E6_0398)  // RFC 1950's example, as usually quoted
    }

    @Test func aOnePixelPNGHasTheKnownBytes() {
        let png = PNG.encode(width: 1, height: 1, pixels: [255, 0, 0], compressed: false)
        let ihdr: [UInt8] = [0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0, 0x90, 0x77, 0x53, 0xDE]
        let iend: [UInt8] = [0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82]
        #expect(Array(png[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        #expect(Array(png[8..<33]) == ihdr)
        #expect(Array(png.suffix(12)) == iend)
        // IDAT: zlib header, one final stored block of 4 bytes (filter 0, R, G, B), Adler-32.
        let idat = Array(png[(33 + 8)..<(33 + 8 + 15)])
        #expect(idat == [0x78, 0x01, 0x01, 0x04, 0x00, 0xFB, 0xFF, 0x00, 0xFF, 0x00, 0x00, 0x03, 0x01, 0x01, 0x00])
    }

    @Test func largeImagesSplitIntoStoredBlocks() {
        let (w, h) = (200, 120)  // 72,120 bytes of scanlines: two stored blocks
        let png = PNG.encode(width: w, height: h, pixels: [UInt8](repeating: 7, count: w * h * 3), compressed: false)
        let length = Int(png[33]) << 24 | Int(png[34]) << 16 | Int(png[35]) << 8 | Int(png[36])
        #expect(length == 2 + (5 + 65_535) + (5 + (h * (1 + 3 * w) - 65_535)) + 4)
    }

    @Test func theFixedHuffmanStreamHasTheKnownBytes() {
        // "a" then "aaaa" as a match of length 4 at distance 1, then end of block: literal 'a'
        // (8-bit code 0x91), length code 258 (7-bit 0000010), distance code 0 (5-bit 00000),
        // end of block (7-bit 0000000), after the header bits 1 (final) and 01 (fixed).
        let z = PNG.zlibFixed(Array("aaaaa".utf8), distances: [1])
        #expect(Array(z[0..<2]) == [0x78, 0x01])
        #expect(Array(z[2..<(z.count - 4)]) == [0x4B, 0x04, 0x01, 0x00])  // Python: zlib.decompress(bytes([0x4B, 4, 1, 0]), -15) == b"aaaaa"
        #expect(Array(z.suffix(4)) == PNG.bigEndian(PNG.adler32(Array("aaaaa".utf8))))
    }

    @Test func intervalsUseStudentsT() {
        let i = Interval([1, 2, 3, 4, 5])
        #expect(i.mean == 3)
        // s = √2.5, t(0.975, 4) = 2.776: 2.776 · √2.5 / √5 = 1.96292…
        #expect(abs(i.halfWidth - 1.962928) < 1e-6)
        #expect(i.excludesZero)
        #expect(!Interval([-1, 1, -0.5, 0.5]).excludesZero)
        #expect(Interval([0.4]).halfWidth == 0 && !Interval([0.4]).excludesZero)
        #expect(Interval.tQuantile(degreesOfFreedom: 9) == 2.262)
    }

    @Test func theChartListsEveryRowWithItsInterval() {
        let svg = IntervalChart.svg(
            title: "t", axis: "mIoU %",
            rows: [.init(label: "L_seg", mean: 60, low: 58, high: 62, highlighted: false),
                   .init(label: "L_T <paced>", mean: 64, low: 62.5, high: 65.5, highlighted: true)],
            reference: 60)
        #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n"))
        #expect(svg.contains(">L_seg</text>") && svg.contains(">L_T &lt;paced&gt;</text>"))
        #expect(svg.contains("#c0392b") && svg.contains("stroke-dasharray"))
    }
}
