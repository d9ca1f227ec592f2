import HardPixelMiningKernels
import CHardPixelMiningSupport
import Dispatch

/// The work of a parallel region, as data: a value holding what the region reads and
/// writes, run once per index. A value rather than a closure, so that handing it to the
/// pool's threads allocates nothing (a non-escaping closure reaches another thread only
/// through `withoutActuallyEscaping`, whose check allocates a box per region).
protocol ParallelWork {
    /// Runs index `index` on worker `worker` (in `0..<threads`, for per-worker scratch).
    func run(_ index: Int, worker: Int)
}

extension ParallelWork {
    /// The work of `region`'s worker `w`, with `Self` the region's work type: takes runs of
    /// indices until none is left, one call through the work's witness per index.
    fileprivate static func drain(_ region: Parallel.Region, worker w: Int) {
        let work = region.work.assumingMemoryBound(to: Self.self)
        while true {
            let start = hpm_fetch_add(region.counter, region.run)
            guard start < region.count else { break }
            for i in start..<Swift.min(region.count, start + region.run) { work.pointee.run(i, worker: w) }
        }
    }
}

enum Parallel {
    /// One parallel region: where its work is and of which type, the shared counter of the
    /// next index, and the run length.
    struct Region {
        let work: UnsafeRawPointer
        let type: any ParallelWork.Type
        let counter: UnsafeMutablePointer<Int>
        let count: Int, run: Int

        /// Takes runs of indices until none is left.
        func perform(worker w: Int) { type.drain(self, worker: w) }
    }

    /// Runs `work.run(i, worker:)` for every `i` in `0..<count` on up to `threads` threads,
    /// with the worker's number (in `0..<threads`), so that each worker can use its own
    /// scratch. Each index writes only its own outputs, so results do not depend on the
    /// thread count.
    ///
    /// The workers are the calling thread and the package's pool of threads (``hpm_pool_run``:
    /// started on first use and kept, so that a region allocates nothing); when the pool is in
    /// use — another thread's region, or a region inside a region — Dispatch runs the region.
    ///
    /// Dynamic scheduling: each worker takes the next run of indices not yet taken, so that a
    /// worker slowed by the machine (a shared host steals time from one vCPU, not the other)
    /// does not hold up the call with its share; which worker runs an index changes nothing in
    /// the results.
    static func forEach<Work: ParallelWork>(_ count: Int, threads: Int, _ work: Work) {
        let workers = Swift.min(threads, count)
        if workers <= 1 {
            for i in 0..<count { work.run(i, worker: 0) }
            return
        }
        withUnsafePointer(to: work) { inParallel(count, workers: workers, work: UnsafeRawPointer($0), type: Work.self) }
    }

    /// The parallel region of ``forEach(_:threads:_:)``, out of line and not generic, so that
    /// the one-thread path stays small enough to inline into each pass.
    @inline(never)
    private static func inParallel(_ count: Int, workers: Int, work: UnsafeRawPointer, type: any ParallelWork.Type) {
        // The next index, on the stack (no allocation).
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 1) { next in
            next.initialize(repeating: 0)
            // Each index touches disjoint memory (the engine's contract), so sharing the work
            // and the counter across the workers is safe. Runs of consecutive indices (about
            // eight per worker), so that a worker's items stay neighbours in memory.
            var region = Region(
                work: work, type: type, counter: next.baseAddress!, count: count, run: Swift.max(1, count / (workers * 8)))
            let pooled = withUnsafeMutablePointer(to: &region) { context in
                hpm_pool_run({ context, worker in
                    context!.assumingMemoryBound(to: Region.self).pointee.perform(worker: Int(worker))
                }, context, Int32(workers))
            }
            if pooled != 0 {
                // The pool is in use (another thread's region, or a region inside a region).
                nonisolated(unsafe) let shared = region
                DispatchQueue.concurrentPerform(iterations: workers) { w in shared.perform(worker: w) }
            }
        }
    }
}
