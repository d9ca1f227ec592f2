import HardPixelMiningKernels

/// Element conversions between Float and the logits' precisions, by the kernels' vector code.
enum ElementConversion {
    /// `count` elements widened to Float, exactly.
    static func widen<Scalar: LogitScalar>(_ source: UnsafePointer<Scalar>, count: Int, into destination: UnsafeMutablePointer<Float>) {
        Kernels.widen(LogitBuffer(UnsafeRawPointer(source), Scalar.logitPrecision), count: count, into: destination)
    }

    /// `count` Floats rounded to `Scalar`, to nearest even, saturating at the largest finite value.
    static func round<Scalar: LogitScalar>(_ source: UnsafePointer<Float>, count: Int, into destination: UnsafeMutablePointer<Scalar>) {
        Kernels.round(source, count: count, into: MutableLogitBuffer(UnsafeMutableRawPointer(destination), Scalar.logitPrecision))
    }
}
