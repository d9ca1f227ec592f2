import Dispatch

enum Parallel {
    /// Runs `body(i)` for every `i` in `0..<count` on up to `threads` threads, each taking a
    /// contiguous run of indices. Each index writes only its own outputs, so results do
    /// not depend on the thread count.
    static func forEach(_ count: Int, threads: Int, _ body: (Int) -> Void) {
        let workers = Swift.min(threads, count)
        if workers <= 1 {
            for i in 0..<count { body(i) }
            return
        }
        // Each index touches disjoint memory (the engine's contract), so sharing the
        // non-Sendable closure across the workers is safe.
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let work = body
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                for i in (count * w / workers)..<(count * (w + 1) / workers) { work(i) }
            }
        }
    }
}
