import HPMRandom
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HardPixelMining

/// The paper's Figure 2 in miniature: a fully convolutional encoder-decoder whose shared
/// trunk feeds a segmentation head (C classes) and a depth branch with layers of its own (the
/// paper adds five 3×3 convolutions for depth; here one 3×3 and the 1×1 output), so that the
/// depth task does not take the segmentation head's features.
///
///     rgb ─ conv3×3 ─ ReLU ─ e1 ─ pool ─ conv3×3 ─ ReLU ─ e2 ─ up ─┐
///                             └──────────────── skip ──────────────┴ concat ─ conv3×3 ─ ReLU ─ t
///     t ─ conv1×1 → logits (C)
///     t ─ conv3×3 ─ ReLU ─ d ─ conv1×1 → log-depth                    (the depth branch)
///
/// Forward and backward are written out by hand; SGD with momentum and weight decay.
public struct ReferenceNetwork: Sendable {
    public let classes: Int
    /// e1, e2, decoder, segmentation head, depth branch 3×3, depth output 1×1.
    public var layers: [Convolution]

    public init(classes: Int, width: Int = 12, seed: UInt64) {
        var random = SplitMix(seed: seed)
        self.classes = classes
        layers = [
            Convolution(inputs: 3, outputs: width, kernel: 3, random: &random),
            Convolution(inputs: width, outputs: 2 * width, kernel: 3, random: &random),
            Convolution(inputs: 3 * width, outputs: 2 * width, kernel: 3, random: &random),
            Convolution(inputs: 2 * width, outputs: classes, kernel: 1, random: &random),
            Convolution(inputs: 2 * width, outputs: width, kernel: 3, random: &random),
            Convolution(inputs: width, outputs: 1, kernel: 1, random: &random),
        ]
        layers[5].biases[0] = 4  // log-depth starts near the middle of 1...256
    }

    /// What the forward pass keeps for the backward pass.
    public struct Activations {
        var input: [Float], e1: [Float], pooled: [Float], e2: [Float], joined: [Float], trunk: [Float], depthFeatures: [Float]
        public var logits: [Float]
        public var logDepth: [Float]
    }

    public func forward(_ rgb: [Float], images n: Int, height h: Int, width w: Int) -> Activations {
        let c1 = layers[0].outputs, c2 = layers[1].outputs
        let e1 = Tensor.relu(layers[0].forward(rgb, images: n, height: h, width: w))
        let pooled = Tensor.pool(e1, planes: n * c1, height: h, width: w)
        let e2 = Tensor.relu(layers[1].forward(pooled, images: n, height: h / 2, width: w / 2))
        let up = Tensor.upsample(e2, planes: n * c2, height: h / 2, width: w / 2)
        let joined = Tensor.concat(up, c2, e1, c1, images: n, plane: h * w)
        let trunk = Tensor.relu(layers[2].forward(joined, images: n, height: h, width: w))
        let depthFeatures = Tensor.relu(layers[4].forward(trunk, images: n, height: h, width: w))
        return Activations(
            input: rgb, e1: e1, pooled: pooled, e2: e2, joined: joined, trunk: trunk, depthFeatures: depthFeatures,
            logits: layers[3].forward(trunk, images: n, height: h, width: w),
            logDepth: layers[5].forward(depthFeatures, images: n, height: h, width: w))
    }

    /// Backpropagates ∂L/∂logits and ∂L/∂logDepth; returns the parameter gradient.
    public func backward(
        _ a: Activations, logitGradient: [Float], depthGradient: [Float], images n: Int, height h: Int, width w: Int
    ) -> [Convolution] {
        var g = layers.map(\.zeroGradient)
        let c1 = layers[0].outputs, c2 = layers[1].outputs
        let dTrunkS = layers[3].backward(a.trunk, logitGradient, images: n, height: h, width: w, gradient: &g[3])
        let dFeatures = layers[5].backward(a.depthFeatures, depthGradient, images: n, height: h, width: w, gradient: &g[5])
        let dTrunkD = layers[4].backward(
            a.trunk, Tensor.reluBackward(a.depthFeatures, dFeatures), images: n, height: h, width: w, gradient: &g[4])
        let dTrunk = Tensor.reluBackward(a.trunk, zip(dTrunkS, dTrunkD).map { $0 + $1 })
        let dJoined = layers[2].backward(a.joined, dTrunk, images: n, height: h, width: w, gradient: &g[2])
        let (dUp, dSkip) = Tensor.split(dJoined, c2, c1, images: n, plane: h * w)
        let dE2 = Tensor.reluBackward(a.e2, Tensor.upsampleBackward(dUp, planes: n * c2, height: h / 2, width: w / 2))
        let dPooled = layers[1].backward(a.pooled, dE2, images: n, height: h / 2, width: w / 2, gradient: &g[1])
        let dE1 = Tensor.reluBackward(a.e1, zip(dSkip, Tensor.poolBackward(dPooled, planes: n * c1, height: h, width: w)).map { $0 + $1 })
        _ = layers[0].backward(a.input, dE1, images: n, height: h, width: w, gradient: &g[0])
        return g
    }

    /// The predicted class of every pixel (first argmax).
    public static func predictions(_ logits: [Float], classes: Int, images n: Int, plane: Int) -> [Int32] {
        var out = [Int32](repeating: 0, count: n * plane)
        for k in 0..<n {
            for p in 0..<plane {
                var best = logits[k * classes * plane + p], arg = 0
                for c in 1..<classes where logits[(k * classes + c) * plane + p] > best {
                    best = logits[(k * classes + c) * plane + p]
                    arg = c
                }
                out[k * plane + p] = Int32(arg)
            }
        }
        return out
    }
}

/// SGD with momentum 0.9 and weight decay 5e-4: `v ← μ v + (g + λ w)`, `w ← w − η v`.
public struct MomentumSGD: Sendable {
    public var learningRate: Float
    public var momentum: Float = 0.9
    public var weightDecay: Float = 5e-4
    var velocity: [Convolution]

    public init(for network: ReferenceNetwork, learningRate: Float) {
        self.learningRate = learningRate
        velocity = network.layers.map(\.zeroGradient)
    }

    /// The global L2 norm of a parameter gradient.
    public static func norm(_ gradient: [Convolution]) -> Float {
        var sum: Float = 0
        for layer in gradient {
            for v in layer.weights { sum += v * v }
            for v in layer.biases { sum += v * v }
        }
        return sum.squareRoot()
    }

    /// One step; with `maximumNorm`, the gradient is first scaled down to that global norm
    /// when it is larger (PyTorch's `clip_grad_norm_`). With `layers`, only those layers
    /// (indexes into `network.layers`) change, weight decay included; the others are frozen.
    public mutating func step(
        _ network: inout ReferenceNetwork, gradient g: [Convolution], maximumNorm: Float? = nil, layers: [Int]? = nil
    ) {
        var gradient = g
        if let maximumNorm {
            let n = Self.norm(g)
            if n > maximumNorm {
                let f = maximumNorm / n
                for l in gradient.indices {
                    gradient[l].weights = gradient[l].weights.map { $0 * f }
                    gradient[l].biases = gradient[l].biases.map { $0 * f }
                }
            }
        }
        for l in layers ?? Array(network.layers.indices) {
            for i in network.layers[l].weights.indices {
                let v = momentum * velocity[l].weights[i] + gradient[l].weights[i] + weightDecay * network.layers[l].weights[i]
                velocity[l].weights[i] = v
                network.layers[l].weights[i] -= learningRate * v
            }
            for i in network.layers[l].biases.indices {
                let v = momentum * velocity[l].biases[i] + gradient[l].biases[i]
                velocity[l].biases[i] = v
                network.layers[l].biases[i] -= learningRate * v
            }
        }
    }
}
