import AllocationCounter
import HardPixelMining
import Testing

/// A steady-state call allocates nothing (issue #29's target): once a workspace is reserved
/// and the package's threads are started, neither the one-pass cross-entropy nor the
/// hard-pixel objective (L_T, the paper's paced configuration, with depth) touches the heap,
/// at one thread or two, in either logit layout. Counts every thread's `malloc` and
/// relatives in windows of calls; another thread of the test runner could allocate inside a
/// window, so the smallest window's count must be 0, where an allocation of the calls
/// themselves shows in every window.
///
/// Linux only: the counter replaces glibc's allocator.
#if os(Linux)
@Suite(.serialized)
struct SteadyStateAllocationTests {
    /// A generated batch (two images of 1,024-pixel tiles and a tail, so that both threads
    /// take work items) with its outputs and a reserved workspace.
    final class Batch {
        let shape: BatchShape
        let logits: [Float]
        let labels: [Int32]
        let depth: [Float]
        let logDepth: [Float]
        var logitGradient: [Float]
        var depthGradient: [Float]
        let workspace: ObjectiveWorkspace

        init(_ layout: LogitLayout) throws {
            let shape = BatchShape(images: 2, classes: 19, height: 60, width: 100, logitLayout: layout)
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15
            func next() -> Float {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return Float(state >> 40) / Float(1 << 24)
            }
            self.shape = shape
            logits = (0..<shape.logitCount).map { _ in next() * 8 - 4 }
            labels = (0..<shape.pixelCount).map { _ in next() < 0.1 ? 255 : Int32(next() * Float(shape.classes - 1)) }
            let depth = (0..<shape.pixelCount).map { _ in next() < 0.05 ? Float(0) : 1 + next() * 9 }
            self.depth = depth
            logDepth = depth.map { _ in next() * 2 }
            logitGradient = [Float](repeating: 0, count: shape.logitCount)
            depthGradient = [Float](repeating: 0, count: shape.pixelCount)
            workspace = try ObjectiveWorkspace(reservingFor: shape)
        }

        func crossEntropy(_ loss: LabelSmoothedCrossEntropy) throws -> Double {
            try logits.withUnsafeBufferPointer { x in
                try labels.withUnsafeBufferPointer { y in
                    try logitGradient.withUnsafeMutableBufferPointer { g in
                        try loss.evaluate(logits: x, labels: y, shape: shape, gradient: g, workspace: workspace).value
                    }
                }
            }
        }

        func objective(_ objective: HardPixelMiningObjective) throws -> Double {
            try objective.evaluate(
                logits: logits, labels: labels, predictedLogDepth: logDepth, groundTruthDepth: depth, shape: shape,
                epoch: 20, logitGradient: &logitGradient, depthGradient: &depthGradient, pixelWeightMap: nil,
                workspace: workspace
            ).value
        }
    }

    /// The fewest allocations in any of five windows of four calls, after two calls that
    /// reserve and start what a first call does; every value is checked finite.
    static func fewestAllocations(_ call: () throws -> Double) throws -> Int {
        for _ in 0..<2 {
            let value = try call()
            #expect(value.isFinite)
        }
        var fewest = Int.max
        for _ in 0..<5 {
            var values = [Double](repeating: 0, count: 4)
            let before = allocation_count()
            for i in 0..<4 { values[i] = try call() }
            fewest = min(fewest, allocation_count() - before)
            #expect(values.allSatisfy { $0.isFinite })
        }
        return fewest
    }

    @Test(arguments: [LogitLayout.channelsFirst, .channelsLast], [1, 2])
    func crossEntropyAllocatesNothing(layout: LogitLayout, threads: Int) throws {
        let batch = try Batch(layout)
        let loss = LabelSmoothedCrossEntropy(threadCount: threads)
        let fewest = try Self.fewestAllocations { try batch.crossEntropy(loss) }
        #expect(fewest == 0)
    }

    @Test(arguments: [LogitLayout.channelsFirst, .channelsLast], [1, 2])
    func hardPixelObjectiveAllocatesNothing(layout: LogitLayout, threads: Int) throws {
        let batch = try Batch(layout)
        let objective = HardPixelMiningObjective(.paperPaced(totalEpochs: 40), threadCount: threads)
        let fewest = try Self.fewestAllocations { try batch.objective(objective) }
        #expect(fewest == 0)
    }

    /// The counter sees an allocation of this thread and of another one.
    @Test func counterSeesAllocations() async throws {
        #expect(allocation_counting_available() != 0)
        let before = allocation_count()
        let box = [Int](repeating: 1, count: 100)
        let other = await Task.detached { [Int](repeating: 2, count: 100).count }.value
        #expect(box.count + other == 200)
        #expect(allocation_count() - before >= 2)
    }
}
#endif
