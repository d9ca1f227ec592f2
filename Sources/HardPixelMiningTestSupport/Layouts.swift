import HardPixelMining

/// Moving logit-shaped arrays between NCHW and NHWC, for tests of channels-last inputs.
public enum Layouts {
    /// The NHWC copy of an NCHW array of `shape`.
    public static func channelsLast<T>(_ nchw: [T], _ shape: BatchShape) -> [T] {
        let (C, HW) = (shape.classes, shape.pixelsPerImage)
        var out = nchw
        for k in 0..<shape.images {
            for c in 0..<C {
                for p in 0..<HW { out[(k * HW + p) * C + c] = nchw[(k * C + c) * HW + p] }
            }
        }
        return out
    }

    /// The NCHW copy of an NHWC array of `shape`.
    public static func channelsFirst<T>(_ nhwc: [T], _ shape: BatchShape) -> [T] {
        let (C, HW) = (shape.classes, shape.pixelsPerImage)
        var out = nhwc
        for k in 0..<shape.images {
            for c in 0..<C {
                for p in 0..<HW { out[(k * C + c) * HW + p] = nhwc[(k * HW + p) * C + c] }
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
