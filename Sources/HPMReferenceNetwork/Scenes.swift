import HPMRandom
/// Indoor-like synthetic RGB-D scenes with the paper's hard cases built in, under texture,
/// lighting and sensor noise, so that RGB alone is ambiguous where depth would tell:
/// - a **chair** and a **glass table** of one look (colour and texture) at different depths
///   (near / far); their sizes and heights overlap, so the cues that remain are weak and
///   depth-correlated (a near surface shows a coarser texture and sits lower);
/// - a **pillow** and a **cushion**: neighbours of nearly one colour in one depth bin, their
///   order left or right at random;
/// - per-image lighting (gain and a left–right gradient), per-pixel sensor noise on RGB,
///   sensor holes in depth (and most of the glass table's depth), ignore-labelled outlines.
/// Depth is in 1...256; 0 marks a hole.
public struct SceneGenerator: Sendable {
    public static let classNames = ["wall", "floor", "chair", "glass table", "pillow", "cushion"]
    public static let classes = 6
    public var height: Int
    public var width: Int
    /// The standard deviation of the per-pixel RGB noise (colours in 0...1).
    public var noise: Float

    public init(height: Int = 32, width: Int = 48, noise: Float = 0.1) {
        self.height = height
        self.width = width
        self.noise = noise
    }

    /// A batch of `count` scenes: RGB (N×3×H×W, colour in 0...1 minus 0.5), labels (N×H×W), depth (N×H×W).
    public func scenes(count: Int, seed: UInt64) -> (rgb: [Float], labels: [Int32], depth: [Float]) {
        var r = SplitMix(seed: seed)
        let (h, w) = (height, width)
        let plane = h * w
        var rgb = [Float](repeating: 0, count: count * 3 * plane)
        var labels = [Int32](repeating: 0, count: count * plane)
        var depth = [Float](repeating: 0, count: count * plane)
        for k in 0..<count {
            var label = [Int32](repeating: 0, count: plane)
            var d = [Float](repeating: 0, count: plane)
            var colour = [[Float]](repeating: [0, 0, 0], count: plane)
            let horizon = Int(Float(h) * r.uniform(0.3, 0.5))
            let wallDepth = r.uniform(180, 240)
            let wallColour: [Float] = [0.62 + r.uniform(-0.08, 0.08), 0.6, 0.55]
            let floorColour: [Float] = [0.5, 0.42 + r.uniform(-0.08, 0.08), 0.32]
            for y in 0..<h {
                for x in 0..<w {
                    let i = y * w + x
                    if y < horizon {
                        let stripe: Float = x % 6 < 3 ? 0.04 : -0.04
                        (label[i], d[i], colour[i]) = (0, wallDepth, wallColour.map { $0 + stripe })
                    } else {
                        let t = Float(y - horizon) / Float(Swift.max(1, h - horizon))
                        let plank: Float = (y - horizon) % 4 < 2 ? 0.05 : -0.05
                        (label[i], d[i], colour[i]) = (1, 200 - 185 * t, floorColour.map { $0 + plank })
                    }
                }
            }
            /// A box of class `cls` at `depthValue`, its texture a checker whose period shrinks with depth.
            func box(_ cls: Int32, _ y0: Int, _ x0: Int, _ bh: Int, _ bw: Int, _ depthValue: Float, _ c: [Float], _ contrast: Float) {
                let period = depthValue < 90 ? 4 : 2
                for y in Swift.max(0, y0)..<Swift.min(h, y0 + bh) {
                    for x in Swift.max(0, x0)..<Swift.min(w, x0 + bw) {
                        let i = y * w + x
                        let checker: Float = ((x / period) + (y / period)) % 2 == 0 ? contrast : -contrast
                        (label[i], d[i], colour[i]) = (cls, depthValue + r.uniform(-1, 1), c.map { $0 + checker })
                    }
                }
            }
            let lookAlike: [Float] = [0.3 + r.uniform(-0.05, 0.05), 0.45 + r.uniform(-0.05, 0.05), 0.7]
            // Glass table: far, smaller, higher; chair: near, larger, lower — with overlapping ranges.
            let tableH = h / 6 + r.int(h / 6 + 1), tableW = w / 6 + r.int(w / 8 + 1)
            box(3, horizon - tableH / 2 + r.int(h / 4 + 1), r.int(w / 2), tableH, tableW, r.uniform(110, 170), lookAlike, 0.06)
            let chairH = h / 5 + r.int(h / 5 + 1), chairW = w / 6 + r.int(w / 6 + 1)
            box(2, h - chairH - r.int(h / 4 + 1), w / 3 + r.int(w / 2), chairH, chairW, r.uniform(25, 60), lookAlike, 0.06)
            // Pillow and cushion: neighbours, one depth bin, nearly one colour, order at random.
            let py = horizon + (h - horizon) / 4 + r.int(h / 6 + 1), px = r.int(w / 2), pd = 70 + r.uniform(0, 8)
            let (ph, pw) = (h / 6 + r.int(3), w / 8 + r.int(3))
            let pillowFirst = r.uniform() < 0.5
            let pillow: [Float] = [0.78, 0.32, 0.3], cushion: [Float] = [0.72, 0.36, 0.3]
            box(pillowFirst ? 4 : 5, py, px, ph, pw, pd, pillowFirst ? pillow : cushion, 0.03)
            box(pillowFirst ? 5 : 4, py, px + pw, ph, pw, pd, pillowFirst ? cushion : pillow, 0.03)
            // Sensor holes: a few blobs, and most of the glass.
            for _ in 0..<3 {
                let (hy, hx) = (r.int(h), r.int(w))
                for y in hy..<Swift.min(h, hy + 3) { for x in hx..<Swift.min(w, hx + 4) { d[y * w + x] = 0 } }
            }
            for i in 0..<plane where label[i] == 3 && r.uniform() < 0.6 { d[i] = 0 }
            // Ignore-labelled outlines: pixels whose right or lower neighbour has another class.
            var out = label
            for y in 0..<h {
                for x in 0..<w {
                    let i = y * w + x
                    if (x + 1 < w && label[i + 1] != label[i]) || (y + 1 < h && label[i + w] != label[i]) { out[i] = 255 }
                }
            }
            // Lighting: a gain and a left-right gradient per image.
            let gain = r.uniform(0.7, 1.2), slope = r.uniform(-0.15, 0.15)
            for i in 0..<plane {
                labels[k * plane + i] = out[i]
                depth[k * plane + i] = d[i]
                let light = gain + slope * (Float(i % w) / Float(Swift.max(1, w - 1)) - 0.5)
                for c in 0..<3 {
                    // Centred: 0...1 colour minus 0.5.
                    rgb[(k * 3 + c) * plane + i] = Swift.min(1, Swift.max(0, colour[i][c] * light + noise * r.normal())) - 0.5
                }
            }
        }
        return (rgb, labels, depth)
    }
}
