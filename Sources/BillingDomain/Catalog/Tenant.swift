/// A service provider running its billing on Covenant, with the settings every rule of its
/// customers' contracts depends on.
public struct Tenant: Sendable, Hashable {
    public var id: String
    public var name: String
    public var platformLicense: PlatformLicense
    /// The global `enable_service_contract` switch: when off, nothing may create or change a
    /// contract (`contracts_disabled`); PAYG still works.
    public var serviceContractsEnabled: Bool
    public var timeZone: TenantTimeZone
    public var optionalTerms: Set<OptionalTerm>
    /// Days before a contract's end that `contract.expiring` is published.
    public var expiryNoticeDays: Int

    public init(
        id: String, name: String, platformLicense: PlatformLicense,
        serviceContractsEnabled: Bool, timeZone: TenantTimeZone = .utc,
        optionalTerms: Set<OptionalTerm> = [], expiryNoticeDays: Int = 30
    ) {
        self.id = id
        self.name = name
        self.platformLicense = platformLicense
        self.serviceContractsEnabled = serviceContractsEnabled
        self.timeZone = timeZone
        self.optionalTerms = optionalTerms
        self.expiryNoticeDays = expiryNoticeDays
    }

    /// Term lengths (months) a contract of this tenant may have: 1, 3, 6, 12, 24, 36, 48, 60,
    /// and 4 when the tenant enables `tri_annual`.
    public var allowedTerms: Set<Int> {
        var terms: Set<Int> = [1, 3, 6, 12, 24, 36, 48, 60]
        if optionalTerms.contains(.triAnnual) { terms.insert(4) }
        return terms
    }

    /// Whether a term length is allowed, as a rejection when it is not.
    public func checkTerm(_ months: Int) -> Rejection? {
        guard allowedTerms.contains(months) else {
            let allowed = allowedTerms.sorted().map(String.init).joined(separator: ", ")
            return Rejection(
                .unsupportedTerm, "a term of \(months) months is not offered (allowed: \(allowed))")
        }
        return nil
    }

    /// The checks every command that creates or changes a contract must pass.
    public func checkMayContract(paymentMode: PaymentMode) -> Rejection? {
        guard serviceContractsEnabled else {
            return Rejection(.contractsDisabled, "service contracts are disabled for tenant \(id)")
        }
        guard platformLicense.status == .active else {
            return Rejection(
                .platformLicenseRequired,
                "a fixed-term service needs an active platform license; tenant \(id)'s is inactive")
        }
        guard paymentMode != .prepaid else {
            return Rejection(
                .prepaidNotSupported, "contracts support postpaid and manual payment, not prepaid")
        }
        return nil
    }
}

/// The foundation license a tenant's services run on.
public struct PlatformLicense: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case virtual
        case bareMetal = "bare_metal"
    }

    public enum Status: String, Sendable, Hashable, CaseIterable {
        case active
        case inactive
    }

    public var kind: Kind
    public var status: Status

    public init(kind: Kind, status: Status) {
        self.kind = kind
        self.status = status
    }
}

/// Contract terms a tenant may switch on beyond the standard ones.
public enum OptionalTerm: String, Sendable, Hashable, CaseIterable {
    /// Four-month terms (three a year).
    case triAnnual = "tri_annual"
    /// Six-month terms (twice a year). Six months is always offered; the name is accepted so
    /// tenants configured from the seed documents' wording are not rejected.
    case biAnnual = "bi_annual"
}

public enum PaymentMode: String, Sendable, Hashable, CaseIterable {
    case postpaid
    case manual
    case prepaid
}

public enum BillingModel: String, Sendable, Hashable, CaseIterable {
    case fixedTerm = "fixed_term"
    case payg
}
