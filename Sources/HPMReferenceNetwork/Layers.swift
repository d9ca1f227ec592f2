import HPMRandom
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The reference network's layers, on Float tensors laid out N × C × H × W. Plain loops:
// the innermost runs over contiguous columns, which the compiler vectorises.

/// A k × k convolution with stride 1 and zero padding k/2 (same size out).
public struct Convolution: Sendable {
    public let inputs: Int, outputs: Int, kernel: Int
    /// weights[o][i][ky][kx], then biases[o].
    public var weights: [Float]
    public var biases: [Float]

    /// He-initialised from `random`.
    public init(inputs: Int, outputs: Int, kernel: Int, random: inout SplitMix) {
        self.inputs = inputs
        self.outputs = outputs
        self.kernel = kernel
        let scale = (2 / Float(inputs * kernel * kernel)).squareRoot()
        weights = (0..<(outputs * inputs * kernel * kernel)).map { _ in random.normal() * scale }
        biases = Array(repeating: 0, count: outputs)
    }

    /// The output rows/columns that tap input row/column `d` away: `max(0, -d) ..< min(size, size - d)`.
    @inline(__always)
    static func span(_ d: Int, _ size: Int) -> Range<Int> { Swift.max(0, -d)..<Swift.min(size, size - d) }

    public func forward(_ x: [Float], images n: Int, height h: Int, width w: Int) -> [Float] {
        var y = [Float](repeating: 0, count: n * outputs * h * w)
        let p = kernel / 2, plane = h * w
        y.withUnsafeMutableBufferPointer { out in
            x.withUnsafeBufferPointer { input in
                for b in 0..<n {
                    for o in 0..<outputs {
                        let dst = out.baseAddress! + (b * outputs + o) * plane
                        for q in 0..<plane { dst[q] = biases[o] }
                        for i in 0..<inputs {
                            let src = input.baseAddress! + (b * inputs + i) * plane
                            for ky in 0..<kernel {
                                let dy = ky - p
                                for kx in 0..<kernel {
                                    let dx = kx - p
                                    let wv = weights[((o * inputs + i) * kernel + ky) * kernel + kx]
                                    let xs = Self.span(dx, w)
                                    for r in Self.span(dy, h) {
                                        let d = dst + r * w, s = src + (r + dy) * w + dx
                                        for c in xs { d[c] += wv * s[c] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return y
    }

    /// Given ∂L/∂y, accumulates ∂L/∂weights and ∂L/∂biases into `gradient` and returns ∂L/∂x.
    public func backward(
        _ x: [Float], _ dy: [Float], images n: Int, height h: Int, width w: Int, gradient: inout Convolution
    ) -> [Float] {
        var dx = [Float](repeating: 0, count: x.count)
        let p = kernel / 2, plane = h * w
        dx.withUnsafeMutableBufferPointer { dIn in
            x.withUnsafeBufferPointer { input in
                dy.withUnsafeBufferPointer { dOut in
                    for b in 0..<n {
                        for o in 0..<outputs {
                            let g = dOut.baseAddress! + (b * outputs + o) * plane
                            var biasSum: Float = 0
                            for q in 0..<plane { biasSum += g[q] }
                            gradient.biases[o] += biasSum
                            for i in 0..<inputs {
                                let src = input.baseAddress! + (b * inputs + i) * plane
                                let dsrc = dIn.baseAddress! + (b * inputs + i) * plane
                                for ky in 0..<kernel {
                                    let dyOff = ky - p
                                    for kx in 0..<kernel {
                                        let dxOff = kx - p
                                        let index = ((o * inputs + i) * kernel + ky) * kernel + kx
                                        let wv = weights[index]
                                        var acc: Float = 0
                                        let xs = Self.span(dxOff, w)
                                        for r in Self.span(dyOff, h) {
                                            let gr = g + r * w, s = src + (r + dyOff) * w + dxOff
                                            let ds = dsrc + (r + dyOff) * w + dxOff
                                            for c in xs {
                                                acc += gr[c] * s[c]
                                                ds[c] += wv * gr[c]
                                            }
                                        }
                                        gradient.weights[index] += acc
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }

    /// A zero gradient of the same shape.
    public var zeroGradient: Convolution {
        var z = self
        z.weights = Array(repeating: 0, count: weights.count)
        z.biases = Array(repeating: 0, count: biases.count)
        return z
    }
}

enum Tensor {
    static func relu(_ x: [Float]) -> [Float] { x.map { Swift.max($0, 0) } }

    static func reluBackward(_ y: [Float], _ dy: [Float]) -> [Float] { zip(y, dy).map { $0 > 0 ? $1 : 0 } }

    /// 2 × 2 average pooling (h, w even).
    static func pool(_ x: [Float], planes: Int, height h: Int, width w: Int) -> [Float] {
        var y = [Float](repeating: 0, count: planes * (h / 2) * (w / 2))
        for p in 0..<planes {
            for r in 0..<(h / 2) {
                for c in 0..<(w / 2) {
                    let b = p * h * w + 2 * r * w + 2 * c
                    y[(p * (h / 2) + r) * (w / 2) + c] = (x[b] + x[b + 1] + x[b + w] + x[b + w + 1]) * 0.25
                }
            }
        }
        return y
    }

    static func poolBackward(_ dy: [Float], planes: Int, height h: Int, width w: Int) -> [Float] {
        var dx = [Float](repeating: 0, count: planes * h * w)
        for p in 0..<planes {
            for r in 0..<h {
                for c in 0..<w { dx[(p * h + r) * w + c] = dy[(p * (h / 2) + r / 2) * (w / 2) + c / 2] * 0.25 }
            }
        }
        return dx
    }

    /// Nearest-neighbour upsampling by 2.
    static func upsample(_ x: [Float], planes: Int, height h: Int, width w: Int) -> [Float] {
        var y = [Float](repeating: 0, count: planes * 4 * h * w)
        for p in 0..<planes {
            for r in 0..<(2 * h) {
                for c in 0..<(2 * w) { y[(p * 2 * h + r) * 2 * w + c] = x[(p * h + r / 2) * w + c / 2] }
            }
        }
        return y
    }

    static func upsampleBackward(_ dy: [Float], planes: Int, height h: Int, width w: Int) -> [Float] {
        var dx = [Float](repeating: 0, count: planes * h * w)
        for p in 0..<planes {
            for r in 0..<(2 * h) {
                for c in 0..<(2 * w) { dx[(p * h + r / 2) * w + c / 2] += dy[(p * 2 * h + r) * 2 * w + c] }
            }
        }
        return dx
    }

    /// Stacks `a` (ca channels) and `b` (cb channels) per image.
    static func concat(_ a: [Float], _ ca: Int, _ b: [Float], _ cb: Int, images n: Int, plane: Int) -> [Float] {
        var y: [Float] = []
        y.reserveCapacity(a.count + b.count)
        for k in 0..<n {
            y += a[(k * ca * plane)..<((k + 1) * ca * plane)]
            y += b[(k * cb * plane)..<((k + 1) * cb * plane)]
        }
        return y
    }

    static func split(_ y: [Float], _ ca: Int, _ cb: Int, images n: Int, plane: Int) -> ([Float], [Float]) {
        var a: [Float] = [], b: [Float] = []
        for k in 0..<n {
            let base = k * (ca + cb) * plane
            a += y[base..<(base + ca * plane)]
            b += y[(base + ca * plane)..<(base + (ca + cb) * plane)]
        }
        return (a, b)
    }
}

