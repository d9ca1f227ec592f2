/// The gradient pass: reads the logits a second time and streams
/// `g_ij = coefficient_i · (p_ij − y_ij)` out once, from the statistics and the per-pixel
/// coefficients the weighing left in the workspace.
enum GradientPass {
    static func run(
        targets: Targets, shape: BatchShape, logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>,
        gradient: UnsafeMutablePointer<Float>, accumulates: Bool, workspace ws: ObjectiveWorkspace, threads: Int
    ) {
        let plane = shape.pixelsPerImage
        let classes = shape.classes
        let items = ObjectiveEngine.WorkItems(shape)
        let layout = TileLayout(classes: classes)
        Parallel.forEach(items.count, threads: threads) { item, worker in
            let (k, pixels, pixel) = items(item)
            Kernels.gradient(
                logits: logits + k * classes * plane, labels: labels + pixel, plane: plane, range: pixels,
                targets: targets, maximum: ws.maximum + pixel, logSum: ws.logSum + pixel,
                coefficient: ws.coefficient + pixel, gradient: gradient + k * classes * plane, accumulating: accumulates,
                layout: layout,
                scratch: ws.tileScratch + worker * layout.scratchFloats)
        }
    }
}
