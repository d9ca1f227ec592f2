import HardPixelMiningKernels
import CHardPixelMiningSupport
import Dispatch

enum Parallel {
    /// Runs `body(i)` for every `i` in `0..<count` on up to `threads` threads. Each index
    /// writes only its own outputs, so results do not depend on the thread count.
    static func forEach(_ count: Int, threads: Int, _ body: (Int) -> Void) {
        forEach(count, threads: threads) { i, _ in body(i) }
    }

    /// As `forEach`, also passing the worker's number (in `0..<threads`), so that each
    /// worker can use its own scratch.
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
        // The next index, on the stack (no allocation).
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 1) { next in
            next.initialize(repeating: 0)
            // Each index touches disjoint memory (the engine's contract), so sharing the
            // non-Sendable closure and the counter across the workers is safe.
            withoutActuallyEscaping(body) { body in
                nonisolated(unsafe) let work = body
                nonisolated(unsafe) let counter = next.baseAddress!
                // Runs of consecutive indices (about eight per worker), so that a worker's items
                // stay neighbours in memory.
                let run = Swift.max(1, count / (workers * 8))
                DispatchQueue.concurrentPerform(iterations: workers) { w in
                    while true {
                        let start = hpm_fetch_add(counter, run)
                        guard start < count else { break }
                        for i in start..<Swift.min(count, start + run) { work(i, w) }
                    }
                }
            }
        }
    }
}
