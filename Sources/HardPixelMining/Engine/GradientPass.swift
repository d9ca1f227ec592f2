import HardPixelMiningKernels
/// The gradient pass: reads the logits a second time and streams
/// `g_ij = coefficient_i · (p_ij − y_ij)` out once, from the statistics and the per-pixel
/// coefficients the weighing left in the workspace.
enum GradientPass {
    static func run(
        targets: Targets, shape: BatchShape, logits: LogitBuffer, labels: UnsafePointer<Int32>,
        gradient: MutableLogitBuffer, labelCoefficient: UnsafePointer<Float>? = nil, accumulates: Bool,
        workspace ws: ObjectiveWorkspace, threads: Int
    ) {
        let layout = TileLayout(shape)
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
