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

/// A chart of one value per row with its 95% interval, as SVG text: one or more panels,
/// stacked, under a title that sets the chart's width (never cut off).
public enum IntervalChart {
    public struct Row: Sendable {
        public var label: String
        public var mean: Double, low: Double, high: Double
        /// Drawn in the highlight colour (for example: the interval excludes the reference).
        public var highlighted: Bool
        public init(label: String, mean: Double, low: Double, high: Double, highlighted: Bool) {
            (self.label, self.mean, self.low, self.high, self.highlighted) = (label, mean, low, high, highlighted)
        }
    }

    /// One panel: rows top to bottom on a shared axis, a dashed line at `reference`.
    public struct Panel: Sendable {
        public var heading: String?
        public var axis: String
        public var rows: [Row]
        public var reference: Double?
        public init(heading: String? = nil, axis: String, rows: [Row], reference: Double?) {
            (self.heading, self.axis, self.rows, self.reference) = (heading, axis, rows, reference)
        }
    }

    /// Rows top to bottom; a dashed line at `reference` (for example the baseline's mean, or 0
    /// for paired differences).
    public static func svg(title: String, axis: String, rows: [Row], reference: Double?) -> String {
        svg(title: title, panels: [Panel(axis: axis, rows: rows, reference: reference)])
    }

    /// Panels stacked top to bottom under `title` (lines split at "\n").
    public static func svg(title: String, panels: [Panel], note: String? = nil) -> String {
        let labelWidth = Double(panels.flatMap { $0.rows.map(\.label.count) }.max() ?? 8) * 7 + 20
        let left = Swift.max(120, labelWidth), right = 40.0, plot = 460.0, rowHeight = 28.0
        let titleLines = title.split(separator: "\n").map(String.init)
        let textWidth = Double(([title] + (note.map { [$0] } ?? [])).flatMap { $0.split(separator: "\n") }.map(\.count).max() ?? 0) * 8.6
        let width = Swift.max(left + plot + right, 20 + textWidth)
        var body = ""
        var y = 16.0
        for line in titleLines {
            y += 18
            body += "<text x=\"10\" y=\"\(f(y))\" font-size=\"14\" font-weight=\"bold\">\(escape(line))</text>\n"
        }
        y += 16
        for p in panels {
            if let heading = p.heading {
                y += 16
                body += "<text x=\"10\" y=\"\(f(y))\" font-size=\"13\" font-weight=\"bold\">\(escape(heading))</text>\n"
                y += 12
            }
            let (text, height) = panel(p, top: y + 10, left: left, plot: plot, rowHeight: rowHeight)
            body += text
            y += height + 10
        }
        if let note {
            for line in note.split(separator: "\n") {
                y += 16
                body += "<text x=\"10\" y=\"\(f(y))\" fill=\"#444\">\(escape(String(line)))</text>\n"
            }
        }
        y += 12
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width.rounded(.up)))\" height=\"\(Int(y))\" "
            + "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
            + body + "</svg>\n"
    }

    /// One panel's SVG elements from `top`, and its height.
    static func panel(_ p: Panel, top: Double, left: Double, plot: Double, rowHeight: Double) -> (String, Double) {
        let rows = p.rows
        let values = rows.flatMap { [$0.low, $0.high] } + (p.reference.map { [$0] } ?? [])
        var lo = values.min() ?? 0, hi = values.max() ?? 1
        if hi - lo < 1e-9 { (lo, hi) = (lo - 0.5, hi + 0.5) }
        let step = niceStep(hi - lo)
        (lo, hi) = ((lo / step).rounded(.down) * step, (hi / step).rounded(.up) * step)
        func x(_ v: Double) -> Double { left + (v - lo) / (hi - lo) * plot }
        let axisY = top + rowHeight * Double(rows.count) + 8
        var s = "<line x1=\"\(f(left))\" y1=\"\(f(axisY))\" x2=\"\(f(left + plot))\" y2=\"\(f(axisY))\" stroke=\"black\"/>\n"
        var t = lo
        while t <= hi + step * 1e-6 {
            s += "<line x1=\"\(f(x(t)))\" y1=\"\(f(top - 4))\" x2=\"\(f(x(t)))\" y2=\"\(f(axisY + 4))\" stroke=\"#ddd\"/>\n"
            s += "<text x=\"\(f(x(t)))\" y=\"\(f(axisY + 18))\" text-anchor=\"middle\">\(trim(t))</text>\n"
            t += step
        }
        s += "<text x=\"\(f(left + plot / 2))\" y=\"\(f(axisY + 36))\" text-anchor=\"middle\">\(escape(p.axis))</text>\n"
        if let reference = p.reference {
            s += "<line x1=\"\(f(x(reference)))\" y1=\"\(f(top - 6))\" x2=\"\(f(x(reference)))\" y2=\"\(f(axisY))\" stroke=\"#888\" stroke-dasharray=\"4 3\"/>\n"
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
        return (s, axisY + 40 - top)
    }

    static func niceStep(_ range: Double) -> Double {
        for step in [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 25, 50] where range / step <= 10 { return step }
        return 100
    }
    static func f(_ v: Double) -> String { String((v * 10).rounded() / 10) }
    static func trim(_ v: Double) -> String {
        let r = (v * 1000).rounded() / 1000
        return r == r.rounded() ? String(Int(r)) : String(r)
    }
    static func escape(_ text: String) -> String {
        text.replacingAll("&", "&amp;").replacingAll("<", "&lt;").replacingAll(">", "&gt;")
    }
}

/// Small multiples of per-epoch lines, one colour per series, with a shared legend, as SVG text.
public enum LineChart {
    public struct Series: Sendable {
        public var label: String
        /// One value per epoch; nil where the series has no value (drawn as a gap).
        public var values: [Double?]
        /// Drawn in the colour of the series labelled so (and then not in the legend), or nil
        /// for a colour of its own.
        public var colourOf: String?
        /// An SVG dash pattern ("6 3"), or nil for a solid line.
        public var dash: String?
        public init(label: String, values: [Double?], colourOf: String? = nil, dash: String? = nil) {
            (self.label, self.values, self.colourOf, self.dash) = (label, values, colourOf, dash)
        }
    }

    public struct Panel: Sendable {
        public var title: String
        public var series: [Series]
        /// A dashed horizontal line (for example 1 for a ratio), or nil.
        public var reference: Double?
        public init(title: String, series: [Series], reference: Double? = nil) {
            (self.title, self.series, self.reference) = (title, series, reference)
        }
    }

    /// Ten distinguishable colours (Tableau 10).
    public static let palette = [
        "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
    ]

    /// `panels` in a grid of `columns`; every panel's series share the legend's colours by label.
    public static func svg(title: String, xLabel: String, panels: [Panel], columns: Int = 2, note: String? = nil) -> String {
        let labels = panels.flatMap { $0.series.filter { $0.colourOf == nil }.map(\.label) }
            .reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        func colour(_ label: String) -> String { palette[(labels.firstIndex(of: label) ?? 0) % palette.count] }
        let (pw, ph) = (300.0, 190.0), (ml, mt, gap) = (50.0, 30.0, 30.0)
        let rows = (panels.count + columns - 1) / columns
        let top = 50.0
        let gridWidth = Double(columns) * (ml + pw + gap)
        let legendTop = top + Double(rows) * (mt + ph + 45)
        let legendRows = (labels.count + 2) / 3
        let width = Swift.max(gridWidth + 20, Double(max(title.count, note?.count ?? 0)) * 8.6 + 20)
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(legendTop + Double(legendRows) * 20 + (note == nil ? 20 : 40)))\" font-family=\"sans-serif\" font-size=\"11\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"10\" y=\"26\" font-size=\"14\" font-weight=\"bold\">\(IntervalChart.escape(title))</text>\n"
        for (n, p) in panels.enumerated() {
            let x0 = 10 + Double(n % columns) * (ml + pw + gap) + ml, y0 = top + Double(n / columns) * (mt + ph + 45) + mt
            let all = p.series.flatMap { $0.values.compactMap { $0 } } + (p.reference.map { [$0] } ?? [])
            var lo = all.min() ?? 0, hi = all.max() ?? 1
            if hi - lo < 1e-9 { (lo, hi) = (lo - 0.5, hi + 0.5) }
            let step = IntervalChart.niceStep(hi - lo)
            (lo, hi) = ((lo / step).rounded(.down) * step, (hi / step).rounded(.up) * step)
            let epochs = Swift.max(1, (p.series.map(\.values.count).max() ?? 1) - 1)
            func x(_ e: Int) -> Double { x0 + Double(e) / Double(epochs) * pw }
            func y(_ v: Double) -> Double { y0 + ph - (v - lo) / (hi - lo) * ph }
            s += "<text x=\"\(IntervalChart.f(x0))\" y=\"\(IntervalChart.f(y0 - 10))\" font-size=\"12\" font-weight=\"bold\">\(IntervalChart.escape(p.title))</text>\n"
            s += "<rect x=\"\(IntervalChart.f(x0))\" y=\"\(IntervalChart.f(y0))\" width=\"\(pw)\" height=\"\(ph)\" fill=\"none\" stroke=\"#999\"/>\n"
            var t = lo
            while t <= hi + step * 1e-6 {
                s += "<line x1=\"\(IntervalChart.f(x0))\" y1=\"\(IntervalChart.f(y(t)))\" x2=\"\(IntervalChart.f(x0 + pw))\" y2=\"\(IntervalChart.f(y(t)))\" stroke=\"#eee\"/>\n"
                s += "<text x=\"\(IntervalChart.f(x0 - 4))\" y=\"\(IntervalChart.f(y(t) + 4))\" text-anchor=\"end\">\(IntervalChart.trim(t))</text>\n"
                t += step
            }
            let tickStep = Swift.max(1, epochs / 5)
            for e in stride(from: 0, through: epochs, by: tickStep) {
                s += "<text x=\"\(IntervalChart.f(x(e)))\" y=\"\(IntervalChart.f(y0 + ph + 14))\" text-anchor=\"middle\">\(e + 1)</text>\n"
            }
            s += "<text x=\"\(IntervalChart.f(x0 + pw / 2))\" y=\"\(IntervalChart.f(y0 + ph + 30))\" text-anchor=\"middle\">\(IntervalChart.escape(xLabel))</text>\n"
            if let r = p.reference {
                s += "<line x1=\"\(IntervalChart.f(x0))\" y1=\"\(IntervalChart.f(y(r)))\" x2=\"\(IntervalChart.f(x0 + pw))\" y2=\"\(IntervalChart.f(y(r)))\" stroke=\"#888\" stroke-dasharray=\"4 3\"/>\n"
            }
            for series in p.series {
                var path = "", pen = false
                for (e, v) in series.values.enumerated() {
                    guard let v else { pen = false; continue }
                    path += "\(pen ? "L" : "M")\(IntervalChart.f(x(e))) \(IntervalChart.f(y(v))) "
                    pen = true
                }
                if !path.isEmpty {
                    let dash = series.dash.map { " stroke-dasharray=\"\($0)\"" } ?? ""
                    s += "<path d=\"\(path)\" fill=\"none\" stroke=\"\(colour(series.colourOf ?? series.label))\" stroke-width=\"1.8\"\(dash)/>\n"
                }
            }
        }
        for (i, label) in labels.enumerated() {
            let lx = 20 + Double(i % 3) * 230, ly = legendTop + Double(i / 3) * 20
            s += "<line x1=\"\(IntervalChart.f(lx))\" y1=\"\(IntervalChart.f(ly - 4))\" x2=\"\(IntervalChart.f(lx + 22))\" y2=\"\(IntervalChart.f(ly - 4))\" stroke=\"\(colour(label))\" stroke-width=\"3\"/>\n"
            s += "<text x=\"\(IntervalChart.f(lx + 28))\" y=\"\(IntervalChart.f(ly))\">\(IntervalChart.escape(label))</text>\n"
        }
        if let note {
            s += "<text x=\"10\" y=\"\(IntervalChart.f(legendTop + Double(legendRows) * 20 + 14))\" fill=\"#444\">\(IntervalChart.escape(note))</text>\n"
        }
        return s + "</svg>\n"
    }
}

/// Base64 (RFC 4648, with padding), for images embedded in SVG.
public enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let b0 = UInt32(bytes[i]), b1 = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0, b2 = i + 2 < bytes.count ? UInt32(bytes[i + 2]) : 0
            let v = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(v >> 18 & 63)])
            out.append(alphabet[Int(v >> 12 & 63)])
            out.append(i + 1 < bytes.count ? alphabet[Int(v >> 6 & 63)] : UInt8(ascii: "="))
            out.append(i + 2 < bytes.count ? alphabet[Int(v & 63)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension String {
    func replacingAll(_ target: String, _ replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
