import HardPixelMining

/// Moving logit-shaped arrays between NCHW and NHWC, for tests of channels-last inputs.
public enum Layouts {
    /// The NHWC copy of an NCHW array of `shape`.
    public static func channelsLast<T>(_ nchw: [T], _ shape: BatchShape) -> [T] { transpose(nchw, shape, toChannelsLast: true) }

    /// The NCHW copy of an NHWC array of `shape`.
    public static func channelsFirst<T>(_ nhwc: [T], _ shape: BatchShape) -> [T] { transpose(nhwc, shape, toChannelsLast: false) }

    private static func transpose<T>(_ values: [T], _ shape: BatchShape, toChannelsLast: Bool) -> [T] {
        let (C, HW) = (shape.classes, shape.pixelsPerImage)
        var out = values
        for k in 0..<shape.images {
            for c in 0..<C {
                for p in 0..<HW {
                    let (first, last) = ((k * C + c) * HW + p, (k * HW + p) * C + c)
                    if toChannelsLast { out[last] = values[first] } else { out[first] = values[last] }
                }
            }
        }
        return out
    }

    /// `shape` with channels-last logits.
    public static func channelsLast(_ shape: BatchShape) -> BatchShape {
        var s = shape
        s.logitLayout = .channelsLast
        return s
    }
}
