import CovenantMessages
public import Foundation

/// The wall clock a worker stamps its events with (their `time`, RFC 3339): the system's in
/// production, a test's own where a test needs to know it. Injected into the runtime and each
/// handler, never read from a global.
public struct EventClock: Sendable {
    public let now: @Sendable () -> Date

    public init(_ now: @escaping @Sendable () -> Date) {
        self.now = now
    }

    public static let system = EventClock { Date() }

    /// The current time as RFC 3339 text.
    @Sendable public func timestamp() -> String {
        RFC3339.text(now())
    }
}
