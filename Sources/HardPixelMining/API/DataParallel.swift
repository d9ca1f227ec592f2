/// The two collective operations a data-parallel trainer supplies, so that a loss over a
/// batch split across processes ("ranks") is the loss of the whole batch.
///
/// The library stays free of any communication library: implement these on what your trainer
/// already uses (MPI, NCCL, Gloo, a socket). Every rank calls the same operations in the same
/// order; each call must return only when every rank has contributed.
///
///     struct MPICollective: BatchCollective {          // Tests/Distributed has this one
///         var rank: Int { … }                          // MPI_Comm_rank
///         var rankCount: Int { … }                     // MPI_Comm_size
///         func allGather(_ values: [Double]) throws -> [[Double]] { … }   // MPI_Allgatherv
///         func allReduceSum(_ counts: [UInt64]) throws -> [UInt64] { … }  // MPI_Allreduce(MPI_SUM)
///     }
public protocol BatchCollective {
    /// This process's rank, in `0..<rankCount`. Rank r holds the batch's images after those of
    /// ranks 0..<r (whole images, any number, 0 included).
    var rank: Int { get }
    /// The number of ranks.
    var rankCount: Int { get }
    /// Every rank's `values`, in rank order (ranks may contribute different counts).
    func allGather(_ values: [Double]) throws -> [[Double]]
    /// The element-wise sum of every rank's `counts` (the same count on every rank).
    func allReduceSum(_ counts: [UInt64]) throws -> [UInt64]
}

/// How a loss treats a batch split over ranks (``BatchCollective``).
public struct DataParallel {
    /// What the loss of a split batch means.
    public enum Semantics: Sendable, Hashable {
        /// The loss of the whole batch, as one process computes it: every image counts in the
        /// per-image mean, pooled divisors (``Reduction/mean``, class weights) and batch mining
        /// (``PixelMining/batchTopFraction(_:)``, ``PixelMining/ohem(threshold:minimumKept:averageNonIgnored:)``)
        /// span all ranks, a pooled SILog pools every rank's pixels. Values, gradients,
        /// selections and counts are bitwise those of one process evaluating the whole batch.
        case globalBatch
        /// Each rank's loss of its own images, as PyTorch DDP with mmsegmentation or DeepLab
        /// computes it (DDP then averages the ranks' gradients): to match an old run. The
        /// inputs are still checked on every rank together, so that a bad input on one rank
        /// makes every rank throw.
        case perRank
    }

    public var collective: any BatchCollective
    public var semantics: Semantics

    public init(_ collective: any BatchCollective, semantics: Semantics = .globalBatch) {
        self.collective = collective
        self.semantics = semantics
    }
}
