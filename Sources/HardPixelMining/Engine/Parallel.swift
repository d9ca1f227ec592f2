import Dispatch

enum Parallel {
    /// Runs `body(i)` for every `i` in `0..<count` on up to `threads` threads, each taking a
    /// contiguous run of indices. Each index writes only its own outputs, so results do
    /// not depend on the thread count.
    static func forEach(_ count: Int, threads: Int, _ body: (Int) -> Void) {
        forEach(count, threads: threads) { i, _ in body(i) }
    }

    /// As `forEach`, also passing the worker's number (in `0..<threads`), so that each
    /// worker can use its own scratch.
    static func forEach(_ count: Int, threads: Int, _ body: (_ index: Int, _ worker: Int) -> Void) {
        let workers = Swift.min(threads, count)
        if workers <= 1 {
            for i in 0..<count { body(i, 0) }
            return
        }
        // Each index touches disjoint memory (the engine's contract), so sharing the
        // non-Sendable closure across the workers is safe.
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let work = body
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                for i in (count * w / workers)..<(count * (w + 1) / workers) { work(i, w) }
            }
        }
    }
}
