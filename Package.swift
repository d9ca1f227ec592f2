// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "HardPixelMining",
    // Apple platforms: the Span entry points back-deploy (Swift 6.2's Span runs from macOS
    // 10.14.4 / iOS 12.2), so these minimums are the package's own; Linux and Windows need
    // nothing but a Swift 6.1 toolchain (6.2 for the Span entry points).
    platforms: [.macOS(.v13), .iOS(.v16), .tvOS(.v16), .watchOS(.v9), .visionOS(.v1)],
    products: [
        // The only product a trainer links: the losses, weight maps and pacing.
        .library(name: "HardPixelMining", targets: ["HardPixelMining"]),
    ],
    targets: [
        // The API layer (types, validation, docs) and the engine (passes, workspace, threads).
        // Depends on nothing but the Swift toolchain.
        .target(name: "HardPixelMining", dependencies: ["HardPixelMiningKernels", "CHardPixelMiningSupport"]),
        // The unsafe SIMD loops, behind `package` access: the engine calls them, the API
        // cannot see past them to anything but what they export to the package.
        .target(name: "HardPixelMiningKernels", dependencies: ["CHardPixelMiningSupport"]),
        // A few lines of C for what Swift cannot express: non-temporal stores, and the
        // target's vector width and FMA as compile-time constants.
        .target(name: "CHardPixelMiningSupport"),
        // A readable scalar implementation of every equation, generic over the
        // floating-point type, so that tests can run it in Float64. Not shipped.
        .target(name: "HardPixelMiningReference", dependencies: ["HardPixelMining"]),
        // Fixture loading, finite differences and tolerance helpers for tests.
        .target(
            name: "HardPixelMiningTestSupport",
            dependencies: ["HardPixelMining", "HardPixelMiningReference", "HPMRandom"]),
        // The package's one random generator (SplitMix64), shared by tests, demo and network.
        .target(name: "HPMRandom"),
        // A small CPU encoder-decoder with hand-written backward, synthetic RGB-D scenes and
        // training: the end-to-end proof of the losses. Not in the product trainers link.
        .target(name: "HPMReferenceNetwork", dependencies: ["HardPixelMining", "HPMRandom"]),
        // The main job: trains the reference network for every Table II row and prints the table.
        .executableTarget(name: "hpm-ablation", dependencies: ["HardPixelMining", "HPMReferenceNetwork"]),
        // Evaluates the objective on a generated batch and prints every term.
        .executableTarget(name: "hpm-demo", dependencies: ["HardPixelMining", "HPMReferenceNetwork", "HPMRandom"]),
        .testTarget(
            name: "HardPixelMiningTests",
            dependencies: [
                "HardPixelMining", "HardPixelMiningReference", "HardPixelMiningTestSupport", "HPMReferenceNetwork",
                "HPMRandom",
            ]),
    ],
    swiftLanguageModes: [.v6]
)
