import Foundation
public import ServiceLifecycle

/// Gives the heap's free pages back to the system every few seconds (glibc's `malloc_trim`).
///
/// glibc keeps memory freed on the worker's threads inside their arenas: a provisioning worker
/// that had handled 60,000 `service.provision` commands held 75 MB of anonymous memory, of which
/// `malloc_trim(0)` returned 40 MB at once. The heap would otherwise stay at the high-water mark
/// of whatever burst came last. Nothing happens where the C library has no `malloc_trim`.
public struct HeapTrimmer: Service {
    let interval: Duration

    public init(interval: Duration = .seconds(5)) {
        self.interval = interval
    }

    public func run() async throws {
        guard let trim = Self.mallocTrim else {
            // A service that returns stops the group: wait for the shutdown like the others.
            try? await gracefulShutdown()
            return
        }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            _ = trim(0)
        }
    }

    /// `malloc_trim` looked up at run time: the Glibc module does not declare it.
    private static let mallocTrim: (@convention(c) (Int) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
    }()
}
