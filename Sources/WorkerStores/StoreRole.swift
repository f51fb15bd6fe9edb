/// Which worker a store belongs to: each role has its own SQLite file or PostgreSQL schema.
public enum StoreRole: String, CaseIterable, Sendable {
    case provisioning
    case rating
    case invoicing
    case commitments
    case notification
    case documents
}
