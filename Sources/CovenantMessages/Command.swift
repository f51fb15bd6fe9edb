public import BillingDomain

/// A command of the AMQP interface, decoded and checked field by field.
public enum Command: Sendable {
    case tenantUpsert(TenantUpsert)
    /// `tenant.configure`: a tenant's own settings, which its users may change.
    case tenantConfigure(TenantConfigure)
    case planUpsert(Plan)
    case serviceProvision(ServiceProvision)
    case serviceChangePlan(ServiceChangePlan)
    case serviceCancel(ServiceCancel)
    case usageRecord(UsageRecord)
    case billingRun(BillingRunRequest)
    /// `webhook.resend`: one more try of a webhook delivery notification gave up, by the
    /// event's id (an operator's `covenant webhook resend`; a tenant may send it for its own).
    case webhookResend(eventId: String)
    /// `customer.upsert`: a customer's billing profile (invoicing keeps it).
    case customerUpsert(CustomerUpsert)

    /// Every command type the interface defines (also their routing keys).
    public static let types = [
        "tenant.upsert", TenantConfigure.type, "plan.upsert", "service.provision", "service.change_plan",
        "service.cancel", "usage.record",
        billingRunType, webhookResendType, CustomerUpsert.type,
    ]

    /// The commands Covenant sends itself (provisioning's billing clock, the ops CLI), named
    /// once, with their data encoded by the code that decodes it.
    public static let billingRunType = "billing.run"
    public static let webhookResendType = "webhook.resend"

    public static func billingRunData(asOf: CalendarDate) -> JSONValue {
        .object(["as_of": .string(asOf.description)])
    }

    public static func webhookResendData(eventId: String) -> JSONValue {
        .object(["event_id": .string(eventId)])
    }

    /// The command an envelope carries: `unknown_type` for a type the interface does not
    /// define, `invalid_message` (or `invalid_quantity`, `invalid_commitment`, `unsupported_term`
    /// where the rule is that specific) for data that breaks a rule.
    public static func decode(_ event: CloudEvent) -> Result<Command, Rejection> {
        do throws(Rejection) {
            let data = try Fields(event.data, path: "data")
            switch event.type {
            case "tenant.upsert": return .success(.tenantUpsert(try TenantUpsert(data, tenantId: event.tenantId)))
            case TenantConfigure.type: return .success(.tenantConfigure(try TenantConfigure(data)))
            case "plan.upsert": return .success(.planUpsert(try PlanDecoding.plan(data)))
            case "service.provision": return .success(.serviceProvision(try ServiceProvision(data)))
            case "service.change_plan": return .success(.serviceChangePlan(try ServiceChangePlan(data)))
            case "service.cancel": return .success(.serviceCancel(try ServiceCancel(data)))
            case "usage.record": return .success(.usageRecord(try UsageRecord(data)))
            case billingRunType: return .success(.billingRun(BillingRunRequest(asOf: try data.date("as_of"))))
            case webhookResendType: return .success(.webhookResend(eventId: try data.string("event_id")))
            case CustomerUpsert.type: return .success(.customerUpsert(try CustomerUpsert(data)))
            default: return .failure(Rejection(.unknownType, "unknown command type \(event.type)"))
            }
        } catch {
            return .failure(error)
        }
    }
}

extension Command {
    /// A tenant from the `data` of its `tenant.upsert` (how provisioning keeps tenants).
    public static func tenant(from data: JSONValue, tenantId: String) -> Result<TenantUpsert, Rejection> {
        Result { () throws(Rejection) in try TenantUpsert(try Fields(data, path: "data"), tenantId: tenantId) }
    }

    /// A plan from the `data` of its `plan.upsert`.
    public static func plan(from data: JSONValue) -> Result<Plan, Rejection> {
        Result { () throws(Rejection) in try PlanDecoding.plan(try Fields(data, path: "data")) }
    }
}

/// `tenant.upsert`: the tenant as it should be stored, with its webhook.
public struct TenantUpsert: Sendable, Hashable {
    public var tenant: Tenant
    public var webhookURL: String?
    /// The secrets deliveries are signed with: one, or two during a rotation.
    public var webhookSecrets: [String] = []

    /// docs/api/webhooks.md: at least 24 characters; at most 512 bytes of UTF-8.
    public static let webhookSecretLength = 24...512

    /// A `notification` object's address and secrets (`tenant.upsert`, `tenant.configure`).
    static func webhook(_ notification: Fields) throws(Rejection) -> (url: String, secrets: [String]) {
        let url = try notification.string("webhook_url")
        guard url.hasPrefix("https://") || url.hasPrefix("http://") else {
            throw Rejection(.invalidMessage, "data.notification.webhook_url must be an http(s) URL")
        }
        let one = try notification.optionalString("webhook_secret")
        let several = notification.has("webhook_secrets") ? try notification.strings("webhook_secrets") : nil
        let secrets: [String]
        switch (one, several) {
        case (let secret?, nil): secrets = [secret]
        case (nil, let given?) where (1...2).contains(given.count): secrets = given
        default:
            throw Rejection(
                .invalidMessage,
                "data.notification needs webhook_secret, or webhook_secrets with one or two secrets (a rotation)")
        }
        // Guessing is what a short secret invites; a long one is only a cost to keep.
        guard
            secrets.allSatisfy({
                $0.count >= webhookSecretLength.lowerBound && $0.utf8.count <= webhookSecretLength.upperBound
            })
        else {
            throw Rejection(
                .invalidMessage,
                "data.notification: a webhook secret has at least \(webhookSecretLength.lowerBound) "
                    + "characters and at most \(webhookSecretLength.upperBound) bytes")
        }
        return (url, secrets)
    }

    init(_ data: Fields, tenantId: String) throws(Rejection) {
        let license = try data.object("platform_license")
        let zoneName = try data.optionalString("time_zone") ?? "UTC"
        guard let zone = TenantTimeZone(identifier: zoneName) else {
            throw Rejection(.invalidMessage, "data.time_zone \(zoneName) is not an IANA time zone")
        }
        var optionalTerms: Set<OptionalTerm> = []
        for name in try data.has("optional_terms") ? data.strings("optional_terms") : [] {
            guard let term = OptionalTerm(rawValue: name) else {
                throw Rejection(.invalidMessage, "data.optional_terms: unknown term \(name)")
            }
            optionalTerms.insert(term)
        }
        tenant = Tenant(
            id: tenantId, name: try data.string("name"),
            platformLicense: PlatformLicense(
                kind: try license.choice("kind", of: PlatformLicense.Kind.self),
                status: try license.choice("status", of: PlatformLicense.Status.self)),
            serviceContractsEnabled: try data.bool("service_contracts_enabled"), timeZone: zone,
            optionalTerms: optionalTerms,
            expiryNoticeDays: try data.optionalInt("contract_expiry_notice_days", in: 1...365) ?? 30)
        if let notification = try data.optionalObject("notification") {
            (webhookURL, webhookSecrets) = try Self.webhook(notification)
        }
        _ = try BillingSettingsCoding.settings(data)
    }
}

/// `tenant.configure`: the settings a tenant's own users may change. A setting sent replaces
/// the one kept, one left out is kept, one sent as `null` returns to its default: the webhook
/// (`notification`, notification's alone) and the invoicing settings (``BillingSettingsCoding``),
/// which are checked here and merged into the stored tenant by provisioning.
public struct TenantConfigure: Sendable, Hashable {
    public static let type = "tenant.configure"

    public enum WebhookChange: Sendable, Hashable {
        /// Webhooks to this address, signed with these secrets.
        case set(url: String, secrets: [String])
        /// `notification: null`: no webhooks from now on.
        case removed
    }

    /// nil: the webhook is kept as it is.
    public var webhook: WebhookChange?

    init(_ data: Fields) throws(Rejection) {
        _ = try BillingSettingsCoding.settings(data)
        guard let notification = data.members["notification"] else { return }
        if notification == .null {
            webhook = .removed
        } else {
            let (url, secrets) = try TenantUpsert.webhook(try data.object("notification"))
            webhook = .set(url: url, secrets: secrets)
        }
    }
}

/// `service.provision`.
public struct ServiceProvision: Sendable, Hashable {
    public var customerId: String
    public var serviceId: String
    public var planId: String
    public var startDate: CalendarDate
    public var billingModel: BillingModel
    public var paymentMode: PaymentMode
    /// Fixed term only.
    public var contract: ContractTerms?

    init(_ data: Fields) throws(Rejection) {
        customerId = try data.string("customer_id")
        serviceId = try data.string("service_id")
        planId = try data.string("plan_id")
        startDate = try data.date("start_date")
        billingModel = try data.choice("billing_model", of: BillingModel.self)
        paymentMode = try data.choice("payment_mode", of: PaymentMode.self)
        switch billingModel {
        case .fixedTerm:
            contract = try ContractDecoding.terms(try data.object("contract"))
        case .payg:
            guard !data.has("contract") else {
                throw Rejection(.invalidMessage, "data.contract is for fixed_term services only")
            }
            guard paymentMode == .postpaid else {
                throw Rejection(
                    paymentMode == .prepaid ? .prepaidNotSupported : .invalidMessage,
                    "PAYG services are postpaid, not \(paymentMode.rawValue)")
            }
            contract = nil
        }
    }
}

/// `service.change_plan`.
public struct ServiceChangePlan: Sendable, Hashable {
    public var serviceId: String
    public var planId: String
    public var effectiveDate: CalendarDate
    public var overrides: ContractTermsOverrides

    init(_ data: Fields) throws(Rejection) {
        serviceId = try data.string("service_id")
        planId = try data.string("plan_id")
        effectiveDate = try data.date("effective_date")
        overrides = try data.optionalObject("contract").map(ContractDecoding.overrides) ?? ContractTermsOverrides()
    }
}

/// `service.cancel`.
public struct ServiceCancel: Sendable, Hashable {
    public var serviceId: String
    public var effectiveDate: CalendarDate

    init(_ data: Fields) throws(Rejection) {
        serviceId = try data.string("service_id")
        effectiveDate = try data.date("effective_date")
    }
}

/// `usage.record`.
public struct UsageRecord: Sendable, Hashable {
    public var customerId: String
    public var serviceId: String
    public var metric: String
    public var quantity: Rational
    /// RFC 3339 text; ``instant`` is its moment.
    public var timestamp: String

    init(_ data: Fields) throws(Rejection) {
        customerId = try data.string("customer_id")
        serviceId = try data.string("service_id")
        metric = try data.string("metric")
        quantity = try data.decimal("quantity", code: .invalidQuantity)
        if let rejection = UsageMonth.checkQuantity(quantity, total: quantity) { throw rejection }
        timestamp = try data.string("timestamp")
        guard RFC3339.isValid(timestamp) else {
            throw Rejection(.invalidMessage, "data.timestamp is not an RFC 3339 timestamp")
        }
    }

    /// The day of the usage in the tenant's time zone.
    public func date(in zone: TenantTimeZone) -> CalendarDate {
        zone.date(of: RFC3339.instant(timestamp)!)
    }
}

/// `billing.run`.
public struct BillingRunRequest: Sendable, Hashable {
    public var asOf: CalendarDate
}
