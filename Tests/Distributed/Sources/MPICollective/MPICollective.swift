import COpenMPI
import HardPixelMining

/// ``BatchCollective`` on Open MPI's `MPI_COMM_WORLD`: `allGather` as `MPI_Allgather` of the
/// counts then `MPI_Allgatherv` of the values, `allReduceSum` as `MPI_Allreduce` with
/// `MPI_SUM` on `MPI_UINT64_T`. Call ``initialize()`` once before and ``finalize()`` after.
public struct MPICollective: BatchCollective, Sendable {
    public let rank: Int
    public let rankCount: Int

    /// The error an MPI call returned.
    public struct Failure: Error, CustomStringConvertible {
        public var call: String
        public var code: Int32
        public var description: String { "\(call) returned \(code)" }
        public init(call: String, code: Int32) { (self.call, self.code) = (call, code) }
    }

    public static func initialize() {
        MPI_Init(nil, nil)
    }

    public static func finalize() {
        MPI_Finalize()
    }

    public init() {
        var rank: Int32 = 0, size: Int32 = 0
        MPI_Comm_rank(hpm_mpi_comm_world(), &rank)
        MPI_Comm_size(hpm_mpi_comm_world(), &size)
        self.rank = Int(rank)
        self.rankCount = Int(size)
    }

    private func check(_ code: Int32, _ call: String) throws {
        if code != hpm_mpi_success() { throw Failure(call: call, code: code) }
    }

    public func allGather(_ values: [Double]) throws -> [[Double]] {
        var mine = Int32(values.count)
        var counts = [Int32](repeating: 0, count: rankCount)
        try check(MPI_Allgather(&mine, 1, hpm_mpi_int(), &counts, 1, hpm_mpi_int(), hpm_mpi_comm_world()), "MPI_Allgather")
        var offsets = [Int32](repeating: 0, count: rankCount)
        for r in 1..<Swift.max(1, rankCount) { offsets[r] = offsets[r - 1] + counts[r - 1] }
        let total = Int(counts.reduce(0, +))
        var all = [Double](repeating: 0, count: Swift.max(1, total))
        var sent = values.isEmpty ? [0] : values
        try check(
            MPI_Allgatherv(&sent, mine, hpm_mpi_double(), &all, counts, offsets, hpm_mpi_double(), hpm_mpi_comm_world()),
            "MPI_Allgatherv")
        return (0..<rankCount).map { r in Array(all[Int(offsets[r])..<Int(offsets[r] + counts[r])]) }
    }

    public func allReduceSum(_ counts: [UInt64]) throws -> [UInt64] {
        var mine = counts
        var sum = [UInt64](repeating: 0, count: counts.count)
        try check(
            MPI_Allreduce(&mine, &sum, Int32(counts.count), hpm_mpi_uint64(), hpm_mpi_sum(), hpm_mpi_comm_world()),
            "MPI_Allreduce")
        return sum
    }

    /// The largest of every rank's `value` (for the checker's timings).
    public func maximum(_ value: Double) -> Double {
        var mine = value, out = 0.0
        MPI_Allreduce(&mine, &out, 1, hpm_mpi_double(), hpm_mpi_max(), hpm_mpi_comm_world())
        return out
    }
}
