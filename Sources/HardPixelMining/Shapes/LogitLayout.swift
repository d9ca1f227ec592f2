/// How logits (and their gradient) are laid out in memory.
public enum LogitLayout: String, Sendable, Hashable, CaseIterable {
    /// NCHW (PyTorch's default): class planes of `height · width` contiguous pixels, one image
    /// after another. Element `(k, c, y, x)` at `((k · C + c) · H + y) · W + x`.
    case channelsFirst
    /// NHWC, channels-last (MLX's convolutions, `torch.channels_last`): each pixel's C classes
    /// contiguous. Element `(k, y, x, c)` at `((k · H + y) · W + x) · C + c`.
    case channelsLast
}
