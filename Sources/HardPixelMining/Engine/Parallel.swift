import HardPixelMiningKernels
import CHardPixelMiningSupport
import Dispatch

enum Parallel {
    /// One parallel region: the body, the shared counter of the next index, and the run length.
    struct Region {
        let work: (_ index: Int, _ worker: Int) -> Void
        let counter: UnsafeMutablePointer<Int>
        let count: Int, run: Int

        /// Takes runs of indices until none is left.
        func perform(worker w: Int) {
            while true {
                let start = hpm_fetch_add(counter, run)
                guard start < count else { break }
                for i in start..<Swift.min(count, start + run) { work(i, w) }
            }
        }
    }

    /// Runs `body(i)` for every `i` in `0..<count` on up to `threads` threads. Each index
    /// writes only its own outputs, so results do not depend on the thread count.
    static func forEach(_ count: Int, threads: Int, _ body: (Int) -> Void) {
        forEach(count, threads: threads) { i, _ in body(i) }
    }

    /// As `forEach`, also passing the worker's number (in `0..<threads`), so that each
    /// worker can use its own scratch.
    ///
    /// The workers are the calling thread and the package's pool of threads (``hpm_pool_run``:
    /// started on first use and kept, so that a region allocates nothing); when the pool is in
    /// use — another thread's region, or a region inside a region — Dispatch runs the region.
    ///
    /// Dynamic scheduling: each worker takes the next run of indices not yet taken, so that a
    /// worker slowed by the machine (a shared host steals time from one vCPU, not the other)
    /// does not hold up the call with its share; which worker runs an index changes nothing in
    /// the results.
    static func forEach(_ count: Int, threads: Int, _ body: (_ index: Int, _ worker: Int) -> Void) {
        let workers = Swift.min(threads, count)
        if workers <= 1 {
            for i in 0..<count { body(i, 0) }
            return
        }
        inParallel(count, workers: workers, body)
    }

    /// The parallel region of ``forEach(_:threads:_:)-(_,_,(Int,Int)->Void)``, out of line so
    /// that the one-thread path stays small enough to inline into each pass.
    @inline(never)
    private static func inParallel(_ count: Int, workers: Int, _ body: (_ index: Int, _ worker: Int) -> Void) {
        // The next index, on the stack (no allocation).
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 1) { next in
            next.initialize(repeating: 0)
            // Each index touches disjoint memory (the engine's contract), so sharing the
            // non-Sendable closure and the counter across the workers is safe.
            withoutActuallyEscaping(body) { body in
                // Runs of consecutive indices (about eight per worker), so that a worker's items
                // stay neighbours in memory.
                var region = Region(work: body, counter: next.baseAddress!, count: count, run: Swift.max(1, count / (workers * 8)))
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
}
