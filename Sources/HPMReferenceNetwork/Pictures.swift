/// Pictures written by the package's own code, without any dependency: PNG images (8-bit
/// RGB; deflate with fixed Huffman codes, or stored blocks; CRC-32 and Adler-32 computed
/// here) and SVG charts.
public enum PNG {
    /// The PNG file of a `width` × `height` image; `pixels` holds R, G, B bytes row by row.
    /// Compressed, each row is filtered "Up" (the difference to the row above) and deflated
    /// with fixed Huffman codes, matching only at distances 1, 3 and one row back — enough
    /// for flat, enlarged panels; uncompressed, rows are unfiltered and stored.
    public static func encode(width: Int, height: Int, pixels: [UInt8], compressed: Bool = true) -> [UInt8] {
        precondition(width > 0 && height > 0 && pixels.count == width * height * 3)
        var raw: [UInt8] = []
        raw.reserveCapacity(height * (1 + 3 * width))
        let row = 3 * width
        for y in 0..<height {
            raw.append(compressed ? 2 : 0)  // filter: Up, or none
            for x in 0..<row {
                let v = pixels[y * row + x]
                raw.append(compressed && y > 0 ? v &- pixels[(y - 1) * row + x] : v)
            }
        }
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var header = bigEndian(UInt32(width)) + bigEndian(UInt32(height))
        header += [8, 2, 0, 0, 0]  // 8 bits, truecolour, deflate, adaptive filter, no interlace
        chunk("IHDR", header, into: &out)
        chunk("IDAT", compressed ? zlibFixed(raw, distances: [1, 3, 1 + row]) : zlibStored(raw), into: &out)
        chunk("IEND", [], into: &out)
        return out
    }

    /// CRC-32 (ISO 3309, as PNG and zlib use it) of `bytes`.
    public static func crc32<S: Sequence>(_ bytes: S) -> UInt32 where S.Element == UInt8 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        }
        return ~c
    }

    /// Adler-32 (RFC 1950) of `bytes`.
    public static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        for x in bytes {
            a = (a + UInt32(x)) % 65521
            b = (b + a) % 65521
        }
        return b << 16 | a
    }

    /// A zlib stream of `data` in uncompressed deflate blocks of at most 65,535 bytes.
    static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let n = Swift.min(65_535, data.count - offset)
            let last: UInt8 = offset + n == data.count ? 1 : 0
            out.append(last)
            out += [UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            out += data[offset..<(offset + n)]
            offset += n
        } while offset < data.count
        return out + bigEndian(adler32(data))
    }

    /// A zlib stream of `data` in one deflate block with the fixed Huffman codes (RFC 1951
    /// §3.2.6), greedy matches at the candidate `distances` only.
    public static func zlibFixed(_ data: [UInt8], distances: [Int]) -> [UInt8] {
        var bits = BitWriter()
        bits.write(1, count: 1)  // final block
        bits.write(1, count: 2)  // fixed Huffman (BTYPE = 01, written LSB first)
        func symbol(_ v: Int) {
            switch v {
            case 0...143: bits.writeCode(0x30 + v, count: 8)
            case 144...255: bits.writeCode(0x190 + v - 144, count: 9)
            case 256...279: bits.writeCode(v - 256, count: 7)
            default: bits.writeCode(0xC0 + v - 280, count: 8)
            }
        }
        let lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
        let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
        let distanceBase = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049,
                            3073, 4097, 6145, 8193, 12289, 16385, 24577]
        let distanceExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]
        var i = 0
        while i < data.count {
            var best = (length: 0, distance: 0)
            for d in distances where d <= i && d <= 32_768 {
                var n = 0
                while n < 258 && i + n < data.count && data[i + n] == data[i + n - d] { n += 1 }
                if n > best.length { best = (n, d) }
            }
            if best.length >= 3 {
                let l = lengthBase.lastIndex { $0 <= best.length }!
                symbol(257 + l)
                bits.write(best.length - lengthBase[l], count: lengthExtra[l])
                let dc = distanceBase.lastIndex { $0 <= best.distance }!
                bits.writeCode(dc, count: 5)
                bits.write(best.distance - distanceBase[dc], count: distanceExtra[dc])
                i += best.length
            } else {
                symbol(Int(data[i]))
                i += 1
            }
        }
        symbol(256)  // end of block
        return [0x78, 0x01] + bits.bytes() + bigEndian(adler32(data))
    }

    /// Bits packed least significant first, as deflate stores them.
    struct BitWriter {
        var buffer: [UInt8] = []
        var current: UInt32 = 0
        var filled = 0

        /// `count` bits of `value`, least significant first (extra bits, block header).
        mutating func write(_ value: Int, count: Int) {
            for b in 0..<count { push(UInt32((value >> b) & 1)) }
        }
        /// A Huffman code of `count` bits, most significant first.
        mutating func writeCode(_ code: Int, count: Int) {
            for b in stride(from: count - 1, through: 0, by: -1) { push(UInt32((code >> b) & 1)) }
        }
        mutating func push(_ bit: UInt32) {
            current |= bit << UInt32(filled)
            filled += 1
            if filled == 8 {
                buffer.append(UInt8(current))
                (current, filled) = (0, 0)
            }
        }
        func bytes() -> [UInt8] { filled > 0 ? buffer + [UInt8(current)] : buffer }
    }

    static func chunk(_ type: String, _ data: [UInt8], into out: inout [UInt8]) {
        let typeBytes = Array(type.utf8)
        out += bigEndian(UInt32(data.count))
        out += typeBytes
        out += data
        out += bigEndian(crc32(typeBytes + data))
    }

    public static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
}

/// An RGB canvas to compose panels on, then encode as PNG.
public struct Canvas: Sendable {
    public let width: Int, height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, background: (UInt8, UInt8, UInt8) = (255, 255, 255)) {
        self.width = width
        self.height = height
        pixels = (0..<(width * height)).flatMap { _ in [background.0, background.1, background.2] }
    }

    public mutating func set(_ x: Int, _ y: Int, _ colour: (UInt8, UInt8, UInt8)) {
        guard x >= 0 && x < width && y >= 0 && y < height else { return }
        let i = 3 * (y * width + x)
        (pixels[i], pixels[i + 1], pixels[i + 2]) = colour
    }

    /// Draws a `w` × `h` image given by `colour(x, y)` at (`left`, `top`), each pixel `scale` × `scale`.
    public mutating func draw(
        left: Int, top: Int, width w: Int, height h: Int, scale: Int, _ colour: (Int, Int) -> (UInt8, UInt8, UInt8)
    ) {
        for y in 0..<h {
            for x in 0..<w {
                let c = colour(x, y)
                for dy in 0..<scale { for dx in 0..<scale { set(left + x * scale + dx, top + y * scale + dy, c) } }
            }
        }
    }

    public func png() -> [UInt8] { PNG.encode(width: width, height: height, pixels: pixels) }
}

/// A chart of one value per row with its 95% interval, as SVG text.
public enum IntervalChart {
    public struct Row: Sendable {
        public var label: String
        public var mean: Double, low: Double, high: Double
        /// Drawn in the highlight colour (for example: significantly different from the baseline).
        public var highlighted: Bool
        public init(label: String, mean: Double, low: Double, high: Double, highlighted: Bool) {
            (self.label, self.mean, self.low, self.high, self.highlighted) = (label, mean, low, high, highlighted)
        }
    }

    /// Rows top to bottom; a dashed line at `reference` (for example the baseline's mean).
    public static func svg(title: String, axis: String, rows: [Row], reference: Double?) -> String {
        let left = 200.0, right = 40.0, plot = 460.0, rowHeight = 28.0, top = 50.0
        let values = rows.flatMap { [$0.low, $0.high] } + (reference.map { [$0] } ?? [])
        var lo = (values.min() ?? 0).rounded(.down), hi = (values.max() ?? 1).rounded(.up)
        if hi - lo < 1 { (lo, hi) = (lo - 0.5, hi + 0.5) }
        let pad = (hi - lo) * 0.05
        (lo, hi) = (lo - pad, hi + pad)
        func x(_ v: Double) -> Double { left + (v - lo) / (hi - lo) * plot }
        let height = top + rowHeight * Double(rows.count) + 50
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(left + plot + right))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(Int(left))\" y=\"24\" font-size=\"14\" font-weight=\"bold\">\(escape(title))</text>\n"
        let axisY = top + rowHeight * Double(rows.count) + 8
        s += "<line x1=\"\(f(left))\" y1=\"\(f(axisY))\" x2=\"\(f(left + plot))\" y2=\"\(f(axisY))\" stroke=\"black\"/>\n"
        let step = niceStep(hi - lo)
        var t = (lo / step).rounded(.up) * step
        while t <= hi {
            s += "<line x1=\"\(f(x(t)))\" y1=\"\(f(top - 6))\" x2=\"\(f(x(t)))\" y2=\"\(f(axisY + 4))\" stroke=\"#ddd\"/>\n"
            s += "<text x=\"\(f(x(t)))\" y=\"\(f(axisY + 18))\" text-anchor=\"middle\">\(trim(t))</text>\n"
            t += step
        }
        s += "<text x=\"\(f(left + plot / 2))\" y=\"\(f(axisY + 36))\" text-anchor=\"middle\">\(escape(axis))</text>\n"
        if let reference {
            s += "<line x1=\"\(f(x(reference)))\" y1=\"\(f(top - 8))\" x2=\"\(f(x(reference)))\" y2=\"\(f(axisY))\" stroke=\"#888\" stroke-dasharray=\"4 3\"/>\n"
        }
        for (i, r) in rows.enumerated() {
            let y = top + rowHeight * Double(i) + rowHeight / 2
            let colour = r.highlighted ? "#c0392b" : "#2c3e50"
            s += "<text x=\"\(f(left - 10))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(escape(r.label))</text>\n"
            s += "<line x1=\"\(f(x(r.low)))\" y1=\"\(f(y))\" x2=\"\(f(x(r.high)))\" y2=\"\(f(y))\" stroke=\"\(colour)\" stroke-width=\"2\"/>\n"
            for v in [r.low, r.high] {
                s += "<line x1=\"\(f(x(v)))\" y1=\"\(f(y - 5))\" x2=\"\(f(x(v)))\" y2=\"\(f(y + 5))\" stroke=\"\(colour)\" stroke-width=\"2\"/>\n"
            }
            s += "<circle cx=\"\(f(x(r.mean)))\" cy=\"\(f(y))\" r=\"4\" fill=\"\(colour)\"/>\n"
        }
        return s + "</svg>\n"
    }

    static func niceStep(_ range: Double) -> Double {
        for step in [0.5, 1, 2, 5, 10, 20, 25, 50] where range / step <= 10 { return step }
        return 100
    }
    static func f(_ v: Double) -> String { String((v * 10).rounded() / 10) }
    static func trim(_ v: Double) -> String { v == v.rounded() ? String(Int(v)) : String(v) }
    static func escape(_ text: String) -> String {
        text.replacingAll("&", "&amp;").replacingAll("<", "&lt;").replacingAll(">", "&gt;")
    }
}

extension String {
    func replacingAll(_ target: String, _ replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
