import HardPixelMiningKernels
/// The gradient pass: `g_ij = coefficient_i · (p_ij − y_ij)`, from the statistics and the
/// per-pixel coefficients the weighing left in the workspace — from the exponentials the
/// statistics pass kept in the gradient (read and written once, in place), or by reading the
/// logits a second time and streaming the gradient out once (Float NCHW: row by row).
enum GradientPass {
    static func run(
        targets: Targets, shape: BatchShape, logits: LogitBuffer, labels: UnsafePointer<Int32>,
        gradient: MutableLogitBuffer, labelCoefficient: UnsafePointer<Float>? = nil, accumulates: Bool,
        fromExponentials: Bool = false, workspace ws: ObjectiveWorkspace, threads: Int
    ) {
        let layout = TileLayout(shape)
        ObjectiveEngine.forEachItem(shape, layout: layout, threads: threads, workspace: ws, Tiles(
            logits: logits, labels: labels, plane: shape.pixelsPerImage, targets: targets, labelCoefficient: labelCoefficient,
            gradient: gradient, accumulates: accumulates, fromExponentials: fromExponentials, layout: layout, workspace: ws))
    }

    /// A work item's gradient: in place over the exponentials the statistics pass kept in the
    /// gradient (no second read of the logits), or reading the logits again.
    private struct Tiles: ItemWork {
        let logits: LogitBuffer
        let labels: UnsafePointer<Int32>
        let plane: Int
        let targets: Targets
        let labelCoefficient: UnsafePointer<Float>?
        let gradient: MutableLogitBuffer
        let accumulates: Bool
        let fromExponentials: Bool
        let layout: TileLayout
        let workspace: ObjectiveWorkspace

        /// Float NCHW logits, an overwritten Float gradient, no class weights: read again row by row
        /// (``Kernels/gradient(rowsOf:maximum:into:labels:plane:range:targets:logSum:coefficient:labelCoefficient:layout:scratch:)``);
        /// otherwise the tile is copied and swept by columns, converting each element.
        var rowWise: Bool {
            logits.precision == .float32 && gradient.precision == .float32 && !layout.channelsLast && !accumulates
                && targets.classWeights == nil
        }

        func run(
            item _: Int, image _: Int, pixels: Range<Int>, firstPixel pixel: Int, firstLogit logit: Int,
            scratch: UnsafeMutablePointer<Float>
        ) {
            let ws = workspace
            if fromExponentials {
                Kernels.gradient(
                    fromExponentials: gradient.base.assumingMemoryBound(to: Float.self) + logit, labels: labels + pixel,
                    plane: plane, range: pixels, targets: targets, logSum: ws.logSum + pixel, coefficient: ws.coefficient + pixel,
                    labelCoefficient: labelCoefficient.map { $0 + pixel }, layout: layout, scratch: scratch)
            } else if rowWise {
                Kernels.gradient(
                    rowsOf: logits.base.assumingMemoryBound(to: Float.self) + logit, maximum: ws.maximum + pixel,
                    into: gradient.base.assumingMemoryBound(to: Float.self) + logit, labels: labels + pixel, plane: plane,
                    range: pixels, targets: targets, logSum: ws.logSum + pixel, coefficient: ws.coefficient + pixel,
                    labelCoefficient: labelCoefficient.map { $0 + pixel }, layout: layout, scratch: scratch)
            } else {
                Kernels.gradient(
                    logits: logits + logit, labels: labels + pixel, plane: plane, range: pixels,
                    targets: targets, maximum: ws.maximum + pixel, logSum: ws.logSum + pixel,
                    coefficient: ws.coefficient + pixel, labelCoefficient: labelCoefficient.map { $0 + pixel },
                    gradient: gradient + logit, accumulating: accumulates, layout: layout, scratch: scratch)
            }
        }
    }
}
