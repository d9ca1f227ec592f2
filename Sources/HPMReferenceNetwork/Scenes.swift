import HPMRandom
/// Indoor-like synthetic RGB-D scenes with the paper's hard cases built in:
/// - a **chair** and a **glass table** of the same colour at different depths (near / far),
///   told apart only by context (the near one sits lower and is larger);
/// - a **pillow** and a **cushion**: neighbours of nearly the same colour in one depth bin;
/// - sensor holes (missing depth, and most of the glass table's depth) and ignore-labelled
///   object outlines.
/// Depth is in 1...256; 0 marks a hole.
public struct SceneGenerator: Sendable {
    public static let classNames = ["wall", "floor", "chair", "glass table", "pillow", "cushion"]
    public static let classes = 6
    public var height: Int
    public var width: Int

    public init(height: Int = 32, width: Int = 48) {
        self.height = height
        self.width = width
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
            let horizon = Int(Float(h) * r.uniform(0.35, 0.5))
            let wallDepth = r.uniform(180, 240)
            let wallColour: [Float] = [0.7 + r.uniform(-0.05, 0.05), 0.7, 0.65]
            let floorColour: [Float] = [0.45, 0.35 + r.uniform(-0.05, 0.05), 0.25]
            for y in 0..<h {
                for x in 0..<w {
                    let i = y * w + x
                    if y < horizon {
                        (label[i], d[i], colour[i]) = (0, wallDepth, wallColour)
                    } else {
                        let t = Float(y - horizon) / Float(Swift.max(1, h - horizon))
                        (label[i], d[i], colour[i]) = (1, 200 - 185 * t, floorColour)
                    }
                }
            }
            func box(_ cls: Int32, _ y0: Int, _ x0: Int, _ bh: Int, _ bw: Int, _ depthValue: Float, _ c: [Float]) {
                for y in Swift.max(0, y0)..<Swift.min(h, y0 + bh) {
                    for x in Swift.max(0, x0)..<Swift.min(w, x0 + bw) {
                        let i = y * w + x
                        (label[i], d[i], colour[i]) = (cls, depthValue + r.uniform(-1, 1), c)
                    }
                }
            }
            let lookAlike: [Float] = [0.2, 0.45 + r.uniform(-0.03, 0.03), 0.8]
            // Glass table: far, higher up, smaller. Chair: near, lower, larger.
            box(3, horizon - h / 10 + r.int(h / 10 + 1), r.int(w / 2), h / 6, w / 5, r.uniform(110, 170), lookAlike)
            box(2, h - h / 3 - r.int(h / 8 + 1), w / 2 + r.int(w / 4), h / 3, w / 4, r.uniform(25, 60), lookAlike)
            // Pillow and cushion: neighbours, one depth bin, nearly one colour.
            let py = horizon + (h - horizon) / 3 + r.int(3), px = r.int(w / 3), pd = 70 + r.uniform(0, 8)
            box(4, py, px, h / 6, w / 8, pd, [0.8, 0.3, 0.3])
            box(5, py, px + w / 8, h / 6, w / 8, pd, [0.74, 0.33, 0.3])
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
            for i in 0..<plane {
                labels[k * plane + i] = out[i]
                depth[k * plane + i] = d[i]
                for c in 0..<3 {
                    // Centred: 0...1 colour minus 0.5.
                    rgb[(k * 3 + c) * plane + i] = Swift.min(1, Swift.max(0, colour[i][c] + 0.03 * r.normal())) - 0.5
                }
            }
        }
        return (rgb, labels, depth)
    }
}
