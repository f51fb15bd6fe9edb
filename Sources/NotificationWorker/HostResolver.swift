import Foundation
import Glibc
import Synchronization

/// Resolves a host name to its addresses with the system's resolver (getaddrinfo), on a thread
/// of its own (the call blocks and cannot be cancelled; the caller's deadline stops waiting).
public struct HostResolver: Sendable {
    public init() {}

    /// Every address `host` resolves to (an address literal resolves to itself); empty when it
    /// does not resolve.
    /// Cancelled, it returns at once with no address (the lookup finishes on its own thread).
    public func addresses(of host: String) async -> [IPAddress] {
        let waiter = Waiter()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                waiter.wait(continuation)
                if Task.isCancelled { waiter.finish([]) }
                let thread = Thread { waiter.finish(Self.lookUp(host)) }
                thread.start()
            }
        } onCancel: {
            waiter.finish([])
        }
    }

    static func lookUp(_ host: String) -> [IPAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return [] }
        defer { freeaddrinfo(first) }
        var found: [IPAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            if let address = entry.pointee.ai_addr {
                switch Int32(address.pointee.sa_family) {
                case AF_INET:
                    address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { v4 in
                        found.append(.v4(UInt32(bigEndian: v4.pointee.sin_addr.s_addr)))
                    }
                case AF_INET6:
                    address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { v6 in
                        found.append(.v6(withUnsafeBytes(of: v6.pointee.sin6_addr) { Array($0) }))
                    }
                default:
                    break
                }
            }
            cursor = entry.pointee.ai_next
        }
        var seen = Set<IPAddress>()
        return found.filter { seen.insert($0).inserted }
    }
}

/// The one answer a lookup gives: the first of the lookup and a cancellation.
private final class Waiter: Sendable {
    private enum State {
        case idle
        case waiting(CheckedContinuation<[IPAddress], Never>)
        case done([IPAddress])
    }
    private let state = Mutex(State.idle)

    func wait(_ continuation: CheckedContinuation<[IPAddress], Never>) {
        let early = state.withLock { state -> [IPAddress]? in
            if case .done(let addresses) = state { return addresses }
            state = .waiting(continuation)
            return nil
        }
        if let early { continuation.resume(returning: early) }
    }

    func finish(_ addresses: [IPAddress]) {
        let waiting = state.withLock { state -> CheckedContinuation<[IPAddress], Never>? in
            switch state {
            case .done: return nil
            case .idle:
                state = .done(addresses)
                return nil
            case .waiting(let continuation):
                state = .done(addresses)
                return continuation
            }
        }
        waiting?.resume(returning: addresses)
    }
}
