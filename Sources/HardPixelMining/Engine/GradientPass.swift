import HardPixelMiningKernels
/// The gradient pass: `g_ij = coefficient_i · (p_ij − y_ij)`, from the statistics and the
/// per-pixel coefficients the weighing left in the workspace — from the exponentials the
/// statistics pass kept in the gradient (read and written once, in place), or by reading the
/// logits a second time and streaming the gradient out once.
enum GradientPass {
    static func run(
        targets: Targets, shape: BatchShape, logits: LogitBuffer, labels: UnsafePointer<Int32>,
        gradient: MutableLogitBuffer, labelCoefficient: UnsafePointer<Float>? = nil, accumulates: Bool,
        fromExponentials: Bool = false, workspace ws: ObjectiveWorkspace, threads: Int
    ) {
        let layout = TileLayout(shape)
        if fromExponentials {
            // The statistics pass kept exp(x − m) in the gradient: no second read of the logits.
            let g = gradient.base.assumingMemoryBound(to: Float.self)
            ObjectiveEngine.forEachItem(shape, layout: layout, threads: threads, workspace: ws) { _, _, pixels, pixel, logit, scratch in
                Kernels.gradient(
                    fromExponentials: g + logit, labels: labels + pixel, plane: shape.pixelsPerImage, range: pixels,
                    targets: targets, logSum: ws.logSum + pixel, coefficient: ws.coefficient + pixel,
                    labelCoefficient: labelCoefficient.map { $0 + pixel }, layout: layout, scratch: scratch)
            }
            return
        }
        ObjectiveEngine.forEachItem(shape, layout: layout, threads: threads, workspace: ws) { _, _, pixels, pixel, logit, scratch in
            Kernels.gradient(
                logits: logits + logit, labels: labels + pixel, plane: shape.pixelsPerImage, range: pixels,
                targets: targets, maximum: ws.maximum + pixel, logSum: ws.logSum + pixel,
                coefficient: ws.coefficient + pixel, labelCoefficient: labelCoefficient.map { $0 + pixel },
                gradient: gradient + logit, accumulating: accumulates,
                layout: layout, scratch: scratch)
        }
    }
}
