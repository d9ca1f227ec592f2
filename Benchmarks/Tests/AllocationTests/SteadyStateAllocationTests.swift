import AllocationCounter
import BenchmarkWorkload
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
    /// The benchmarks' batch (``Workload``) in a small shape: two images of 1,024-pixel tiles
    /// and a tail, so that both threads take work items.
    static func workload(_ layout: LogitLayout) -> Workload<Float> {
        Workload(BatchShape(images: 2, classes: 19, height: 60, width: 100, logitLayout: layout))
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
        let workload = Self.workload(layout)
        let loss = LabelSmoothedCrossEntropy(threadCount: threads)
        let fewest = try Self.fewestAllocations { try workload.runCrossEntropy(loss) }
        #expect(fewest == 0)
    }

    @Test(arguments: [LogitLayout.channelsFirst, .channelsLast], [1, 2])
    func hardPixelObjectiveAllocatesNothing(layout: LogitLayout, threads: Int) throws {
        let workload = Self.workload(layout)
        let objective = HardPixelMiningObjective(.paperPaced(totalEpochs: 40), threadCount: threads)
        let fewest = try Self.fewestAllocations { try workload.run(objective) }
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
