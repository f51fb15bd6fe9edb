import CovenantMessages
import WorkerStores

/// The inbox as the runtime reads it: messages recorded by ``CloudEvent/inboxKey`` (tenant and
/// id), so one tenant's ids never use up another's.
extension MessageStore {
    /// The inbox keys of `events` that the inbox holds. A message handled by a release that
    /// recorded bare ids (migration 3 kept those as `~<id>`) counts as handled too, so a
    /// redelivery across the upgrade is still a repeat; ids of before the upgrade are thereby
    /// shared by every tenant, as they were then.
    func handled(_ events: [CloudEvent]) async throws -> Set<String> {
        let found = try await handledMessages(among: events.flatMap { [$0.inboxKey, Self.legacyKey($0.id)] })
        return Set(
            events.filter { found.contains($0.inboxKey) || found.contains(Self.legacyKey($0.id)) }.map(\.inboxKey))
    }

    func hasHandled(_ event: CloudEvent) async throws -> Bool {
        try await !handled([event]).isEmpty
    }

    static func legacyKey(_ id: String) -> String { "~\(id)" }
}
