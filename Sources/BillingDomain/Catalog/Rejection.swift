/// Why a command has no effect: a stable code from the AMQP interface and a message for
/// people. A rejection is an expected outcome, returned, never thrown as a fault.
public struct Rejection: Error, Sendable, Hashable, CustomStringConvertible {
    public let code: RejectionCode
    public let message: String
    /// Facts a caller can act on, by snake_case name (`earliest_allowed_date`).
    public let details: [String: String]

    public init(_ code: RejectionCode, _ message: String, details: [String: String] = [:]) {
        self.code = code
        self.message = message
        self.details = details
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

/// The rejection codes of the interface (docs/api/amqp.md).
public enum RejectionCode: String, Sendable, Hashable, CaseIterable {
    case invalidMessage = "invalid_message"
    case unknownType = "unknown_type"
    case unknownTenant = "unknown_tenant"
    case unknownPlan = "unknown_plan"
    case unknownService = "unknown_service"
    case duplicateService = "duplicate_service"
    case contractsDisabled = "contracts_disabled"
    case platformLicenseRequired = "platform_license_required"
    case prepaidNotSupported = "prepaid_not_supported"
    case unsupportedTerm = "unsupported_term"
    case invalidCommitment = "invalid_commitment"
    case cancellationBlocked = "cancellation_blocked"
    case invalidQuantity = "invalid_quantity"
    case periodAlreadyInvoiced = "period_already_invoiced"
    case dateOutOfRange = "date_out_of_range"
    /// A customer names a tax code its tenant does not list.
    case unknownTaxCode = "unknown_tax_code"
    /// The publisher is not entitled to the command's tenant, or to an operator's command.
    case forbidden
    /// A message set aside after repeated faults (not a rule it broke).
    case internalError = "internal_error"
}
