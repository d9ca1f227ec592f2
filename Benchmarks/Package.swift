// swift-tools-version: 6.1
// The microbenchmarks of HardPixelMining, as a package of their own so that the
// library itself depends on nothing.
//
//     cd Benchmarks && swift package benchmark
import Foundation
import PackageDescription

// A path dependency is identified by its folder's name, which is whatever the
// clone was called; read it rather than guess it.
let libraryFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()

let package = Package(
    name: "HardPixelMiningBenchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(path: libraryFolder.path),
        .package(url: "https://github.com/ordo-one/package-benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "HardPixelMiningBenchmarks",
            dependencies: [
                "BenchmarkWorkload", "CMemoryFloor", "CReferenceKernel",
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "HardPixelMining", package: libraryFolder.lastPathComponent),
            ],
            path: "Benchmarks/HardPixelMiningBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        // The generated batches the benchmarks time (and the allocation test calls).
        .target(
            name: "BenchmarkWorkload",
            dependencies: [.product(name: "HardPixelMining", package: libraryFolder.lastPathComponent)],
            path: "Benchmarks/BenchmarkWorkload"),
        // The memory floor in plain C (non-temporal stores), measured in the same run.
        .target(name: "CMemoryFloor", path: "Benchmarks/CMemoryFloor"),
        // An independent C kernel of the package's one-pass cross-entropy: the yardstick.
        .target(name: "CReferenceKernel", path: "Benchmarks/CReferenceKernel"),
        // The C kernel against the NumPy float64 fixtures of the package's tests.
        .testTarget(name: "CReferenceKernelTests", dependencies: ["CReferenceKernel"], path: "Tests/CReferenceKernelTests"),
        // A steady-state call of the library allocates nothing: every heap allocation of the
        // test process counted (AllocationCounter replaces malloc and its relatives).
        .target(name: "AllocationCounter", path: "Tests/AllocationCounter"),
        .testTarget(
            name: "AllocationTests",
            dependencies: [
                "AllocationCounter", "BenchmarkWorkload",
                .product(name: "HardPixelMining", package: libraryFolder.lastPathComponent),
            ],
            path: "Tests/AllocationTests"),
    ]
)
