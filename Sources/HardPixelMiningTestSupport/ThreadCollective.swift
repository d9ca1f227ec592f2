import Foundation
import HardPixelMining

/// A ``BatchCollective`` of R ranks that are threads of one process: each operation waits
/// until every rank has arrived, then hands each the same answer. For testing data-parallel
/// calls without MPI (Tests/Distributed runs the same checks on Open MPI).
public struct ThreadCollective: BatchCollective, Sendable {
    public let rank: Int
    public let rankCount: Int
    let meeting: Meeting
    /// When set, the operation with this 0-based call number throws.
    var failingCall: Int?
    let calls: Counter

    public func allGather(_ values: [Double]) throws -> [[Double]] {
        try fail()
        return meeting.exchange(rank, values).map { $0 as! [Double] }
    }

    public func allReduceSum(_ counts: [UInt64]) throws -> [UInt64] {
        try fail()
        let all = meeting.exchange(rank, counts).map { $0 as! [UInt64] }
        return counts.indices.map { i in all.reduce(0) { $0 + $1[i] } }
    }

    public struct Refused: Error, CustomStringConvertible {
        public var description: String { "the network is down" }
    }

    private func fail() throws {
        let call = calls.next()
        if call == failingCall { throw Refused() }
    }

    /// Runs `body` on `ranks` threads, each with its rank's collective, and returns each
    /// rank's outcome in rank order. `failingCall` makes every rank's collective throw at that
    /// call (0-based), as a broken network would.
    public static func run<R>(
        ranks: Int, failingCall: Int? = nil, _ body: @escaping @Sendable (ThreadCollective) throws -> R
    ) -> [Result<R, any Error>] {
        let meeting = Meeting(ranks: ranks)
        let results = Box<[Result<R, any Error>?]>(Array(repeating: nil, count: ranks))
        let done = DispatchGroup()
        for r in 0..<ranks {
            done.enter()
            let collective = ThreadCollective(
                rank: r, rankCount: ranks, meeting: meeting, failingCall: failingCall,
                calls: Counter())
            let thread = Thread {
                let outcome = Result { try body(collective) }
                results.lock.lock()
                results.value[r] = outcome
                results.lock.unlock()
                done.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        done.wait()
        return results.value.map { $0! }
    }
}

/// Where the ranks' threads meet: a barrier that collects one value per rank.
final class Meeting: @unchecked Sendable {
    private let condition = NSCondition()
    private let ranks: Int
    private var slots: [Any?]
    private var arrived = 0
    private var generation = 0
    private var answer: [Any] = []

    init(ranks: Int) {
        self.ranks = ranks
        slots = Array(repeating: nil, count: ranks)
    }

    /// Every rank's `value`, in rank order, once every rank has given one. A rank that has
    /// not arrived cannot be overtaken: the next round needs it too, and it reads the answer
    /// before it can arrive again.
    func exchange(_ rank: Int, _ value: Any) -> [Any] {
        condition.lock()
        defer { condition.unlock() }
        let round = generation
        slots[rank] = value
        arrived += 1
        if arrived == ranks {
            answer = slots.map { $0! }
            slots = Array(repeating: nil, count: ranks)
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            while generation == round { condition.wait() }
        }
        return answer
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        count += 1
        return count - 1
    }
}

final class Box<T>: @unchecked Sendable {
    let lock = NSLock()
    var value: T
    init(_ value: T) { self.value = value }
}
