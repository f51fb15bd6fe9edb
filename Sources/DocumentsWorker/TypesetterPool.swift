import Synchronization

/// One warm typesetter per core: documents go to each in turn, so as many are typeset at once
/// as there are processes.
public final class TypesetterPool: Sendable {
    public let members: [Typesetter]
    private let turn = Atomic<UInt>(0)

    /// `count` typesetters (at least one) of `configuration`, each started at its first document.
    public init(count: Int, configuration: Typesetter.Configuration) {
        members = (0..<max(count, 1)).map { _ in Typesetter(configuration: configuration) }
    }

    /// The PDF of one document's data, from the next typesetter in turn.
    public func typeset(_ data: [UInt8]) async throws(Typesetter.Failure) -> [UInt8] {
        let index = Int(turn.wrappingAdd(1, ordering: .relaxed).oldValue % UInt(members.count))
        return try await members[index].typeset(data)
    }

    /// The PDF, or why there is none, as a value.
    public func typesetResult(_ data: [UInt8]) async -> Result<[UInt8], Typesetter.Failure> {
        do throws(Typesetter.Failure) {
            return .success(try await typeset(data))
        } catch {
            return .failure(error)
        }
    }

    /// Processes started so far, over all members (a restart shows here).
    public var processesStarted: Int { members.reduce(0) { $0 + $1.processesStarted } }

    /// Stops every process.
    public func stop() {
        for member in members { member.stop() }
    }
}
