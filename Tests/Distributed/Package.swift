// swift-tools-version: 6.1
// The data-parallel losses on a real engine: Open MPI. A package of its own, so that the
// library depends on nothing; needs Debian's libopenmpi-dev and openmpi-bin.
//
//     cd Tests/Distributed && swift build -c release
//     mpirun --allow-run-as-root --oversubscribe -n 3 .build/release/hpm-distributed-check
import Foundation
import PackageDescription

// A path dependency is identified by its folder's name, which is whatever the clone was called.
let libraryFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

let package = Package(
    name: "HardPixelMiningDistributed",
    dependencies: [.package(path: libraryFolder.path)],
    targets: [
        // Open MPI's C API, and a few lines of C for its macros (MPI_COMM_WORLD, MPI_DOUBLE, …).
        .systemLibrary(name: "COpenMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        // BatchCollective on MPI_COMM_WORLD.
        .target(
            name: "MPICollective",
            dependencies: ["COpenMPI", .product(name: "HardPixelMining", package: libraryFolder.lastPathComponent)]),
        // Checks every data-parallel loss against one process; prints `N passed, M failed`.
        .executableTarget(
            name: "hpm-distributed-check",
            dependencies: ["MPICollective", .product(name: "HardPixelMining", package: libraryFolder.lastPathComponent)]),
    ],
    swiftLanguageModes: [.v6]
)
