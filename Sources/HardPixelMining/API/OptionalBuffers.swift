// The views the array and Span forms borrow for the pointer form, where an input is optional.

/// Calls `body` with a view of `array`, or nil.
func withOptionalBuffer<T, R>(_ array: [T]?, _ body: (UnsafeBufferPointer<T>?) throws -> R) rethrows -> R {
    guard let array else { return try body(nil) }
    return try array.withUnsafeBufferPointer { try body($0) }
}

/// Calls `body` with a mutable view of `array`, or nil.
func withOptionalMutableBuffer<T, R>(_ array: inout [T]?, _ body: (UnsafeMutableBufferPointer<T>?) throws -> R) rethrows -> R {
    guard array != nil else { return try body(nil) }
    return try array!.withUnsafeMutableBufferPointer { try body($0) }
}

#if compiler(>=6.2)
/// Calls `body` with a buffer view of `span`, or nil.
@available(macOS 10.14.4, iOS 12.2, watchOS 5.2, tvOS 12.2, visionOS 1.0, *)
func withOptionalSpan<T, R>(_ span: Span<T>?, _ body: (UnsafeBufferPointer<T>?) throws -> R) rethrows -> R {
    guard let span else { return try body(nil) }
    return try span.withUnsafeBufferPointer { try body($0) }
}
#endif
