import BillingDomain
import Foundation
import Logging
import PostgresNIO

/// An error for a log line. PostgreSQL's errors print only a "generic description"; their
/// debug description carries the query's bound values, which can be a tenant's documents and
/// its webhook secret, so neither is logged: the code, SQLSTATE, the server's message and the
/// underlying network error are.
public func loggableDescription(of error: any Error) -> String {
    if let transaction = error as? PostgresTransactionError {
        // Its own description prints the errors inside it in full.
        let parts: [(String, (any Error)?)] = [
            ("begin", transaction.beginError), ("statement", transaction.closureError),
            ("rollback", transaction.rollbackError), ("commit", transaction.commitError),
        ]
        return "PostgreSQL transaction failed: "
            + parts.compactMap { name, error in error.map { "\(name): \(loggableDescription(of: $0))" } }
            .joined(separator: "; ")
    }
    guard let error = error as? PSQLError else { return "\(error)" }
    var text = "PostgreSQL \(error.code)"
    if let state = error.serverInfo?[.sqlState] { text += " SQLSTATE \(state)" }
    if let message = error.serverInfo?[.message] { text += ": \(message)" }
    if let underlying = error.underlying { text += " (\(underlying))" }
    return text
}

extension StoreError {
    /// The store error `error` is, or carries: PostgreSQL's transactions wrap what their body
    /// threw (when the rollback went through; a rollback that failed is the database's own
    /// trouble). Without this a `corrupt_state` met inside a PostgreSQL transaction was retried
    /// as a fault of the database, where SQLite's was set aside.
    public static func carried(by error: any Error) -> StoreError? {
        if let error = error as? StoreError { return error }
        if let transaction = error as? PostgresTransactionError, transaction.rollbackError == nil,
            let inner = transaction.closureError
        {
            return carried(by: inner)
        }
        return nil
    }
}
