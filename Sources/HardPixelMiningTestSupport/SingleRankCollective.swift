import HardPixelMining

/// A collective of one rank, in the calling thread: a data-parallel call whose global batch is
/// its own (a rank without images, or a global batch that never keeps exponentials).
public struct SingleRankCollective: BatchCollective, Sendable {
    public init() {}
    public var rank: Int { 0 }
    public var rankCount: Int { 1 }
    public func allGather(_ values: [Double]) throws -> [[Double]] { [values] }
    public func allReduceSum(_ counts: [UInt64]) throws -> [UInt64] { counts }
}
