// The platform C library: `rounded(_:)` on Double lowers to libm's floor/ceil, so the
// module links it explicitly (part of the toolchain, not a package dependency).
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
