// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "HardPixelMining",
    products: [
        // The only product a trainer links: the losses, weight maps and pacing.
        .library(name: "HardPixelMining", targets: ["HardPixelMining"]),
    ],
    targets: [
        // The API layer (validation, shapes, configuration) and the SIMD kernels.
        // Depends on nothing but the Swift toolchain.
        .target(name: "HardPixelMining"),
        // A readable scalar implementation of every equation, generic over the
        // floating-point type, so that tests can run it in Float64. Not shipped.
        .target(name: "HardPixelMiningReference", dependencies: ["HardPixelMining"]),
        // Fixture loading, finite differences and tolerance helpers for tests.
        .target(
            name: "HardPixelMiningTestSupport",
            dependencies: ["HardPixelMining", "HardPixelMiningReference"]),
        // The main job: evaluates the objective on a generated batch and prints every term.
        .executableTarget(name: "hpm-demo", dependencies: ["HardPixelMining"]),
        .testTarget(
            name: "HardPixelMiningTests",
            dependencies: ["HardPixelMining", "HardPixelMiningReference", "HardPixelMiningTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
