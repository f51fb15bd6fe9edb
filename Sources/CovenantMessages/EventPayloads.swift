public import BillingDomain

/// The `data` of each event of the interface, built from domain values. Money travels as
/// decimal strings with the currency's minor-unit digits; dates as `YYYY-MM-DD`; periods with
/// an exclusive `end`.
public enum EventPayloads {
    /// `invoice.ready`: the lines, each with its taxes; the legal number and due date once the
    /// invoice is final; the totals (`total` = Σ amounts + `tax_total`) and `amount_due`; the
    /// customer billed (`customer`, when it has a profile) and the revision of the tenant's
    /// settings it became final under (`tenant_revision`), which its documents show.
    public static func invoiceReady(_ invoice: Invoice) -> JSONValue {
        var lines: [JSONValue] = []
        for (index, item) in invoice.lines.enumerated() {
            let taxes = index < invoice.lineTaxes.count ? invoice.lineTaxes[index] : []
            lines.append(line(item).adding(["taxes": .array(taxes.map(tax))]))
        }
        var fields: JSONObject = [
            "invoice_id": .string(invoice.id), "customer_id": .string(invoice.customerId),
            "currency": .string(invoice.currency.code), "issue_date": .string(invoice.issueDate.description),
            "lines": .array(lines), "subtotal": .money(invoice.subtotal),
            "discount_total": .money(invoice.discountTotal), "tax_total": .money(invoice.taxTotal),
            "total": .money(invoice.total), "amount_due": .money(invoice.amountDue),
        ]
        if let number = invoice.number { fields["number"] = .string(number) }
        if let dueDate = invoice.dueDate { fields["due_date"] = .string(dueDate.description) }
        if let customer = invoice.billedTo { fields["customer"] = billed(customer) }
        if let revision = invoice.settingsRevision { fields["tenant_revision"] = .number(String(revision)) }
        return .object(fields)
    }

    /// One rendered document of `invoice.document_ready`.
    public struct RenderedDocument: Sendable, Hashable {
        public var mediaType: String
        /// Lowercase hex of the SHA-256 of the bytes kept.
        public var sha256: String
        public var bytes: Int
        /// Where the HTTP API serves it (`/v1/invoices/{id}/document.pdf`).
        public var path: String

        public init(mediaType: String, sha256: String, bytes: Int, path: String) {
            self.mediaType = mediaType
            self.sha256 = sha256
            self.bytes = bytes
            self.path = path
        }
    }

    /// `invoice.document_ready`: the invoice, its number, and each of its documents.
    public static func documentReady(invoiceId: String, number: String, documents: [RenderedDocument]) -> JSONValue {
        .object([
            "invoice_id": .string(invoiceId), "number": .string(number),
            "documents": .array(
                documents.map { document in
                    .object([
                        "media_type": .string(document.mediaType), "sha256": .string(document.sha256),
                        "bytes": .number(String(document.bytes)), "path": .string(document.path),
                    ])
                }),
        ])
    }

    /// The customer as an invoice names it: `{name, address?, tax_id?}`.
    static func billed(_ customer: BilledCustomer) -> JSONValue {
        var fields: JSONObject = ["name": .string(customer.name)]
        if let address = customer.address { fields["address"] = self.address(address) }
        if let taxId = customer.taxId { fields["tax_id"] = .string(taxId) }
        return .object(fields)
    }

    /// An address as `customer.upsert` and `tenant.configure` write it.
    public static func address(_ address: PostalAddress) -> JSONValue {
        var fields: JSONObject = [
            "line1": .string(address.line1), "city": .string(address.city), "country": .string(address.country),
        ]
        if let line2 = address.line2 { fields["line2"] = .string(line2) }
        if let postalCode = address.postalCode { fields["postal_code"] = .string(postalCode) }
        if let region = address.region { fields["region"] = .string(region) }
        return .object(fields)
    }

    /// One tax of a line: its code, rate (percent) and amount.
    static func tax(_ tax: LineTax) -> JSONValue {
        .object(["code": .string(tax.code), "rate": .string(figure(tax.rate)), "amount": .money(tax.amount)])
    }

    static func line(_ line: InvoiceLine) -> JSONValue {
        var fields: JSONObject = [
            "type": .string(line.kind.rawValue), "service_id": .string(line.serviceId),
            "period": period(line.period), "description": .string(line.description),
            "gross_amount": .money(line.grossAmount), "discount_amount": .money(line.discountAmount),
            "amount": .money(line.amount),
        ]
        if let contractId = line.contractId { fields["contract_id"] = .string(contractId) }
        if let metric = line.metric { fields["metric"] = .string(metric) }
        if let quantity = line.quantity { fields["quantity"] = .string(figure(quantity)) }
        if line.late { fields["late"] = .bool(true) }
        if let outcome = line.commitment {
            let text: (Rational) -> String = {
                outcome.isMonetary ? $0.decimalText(scale: line.currency.minorUnit) : figure($0)
            }
            fields["commitment_id"] = .string(outcome.commitmentId)
            fields["committed"] = .string(text(outcome.committed))
            fields["actual"] = .string(text(outcome.actual))
            fields["shortfall"] = .string(text(outcome.shortfall))
        }
        return .object(fields)
    }

    /// A quantity as decimal text: exact when it has at most 6 decimals, else rounded half up
    /// to 6 (a prorated commitment of 100 × 17/31 units reads 54.838710).
    public static func figure(_ value: Rational) -> String {
        if let exact = value.exactDecimalText {
            let point = exact.utf8.lastIndex(of: UInt8(ascii: "."))
            if point.map({ exact.utf8.distance(from: $0, to: exact.utf8.endIndex) - 1 }) ?? 0 <= 6 { return exact }
        }
        return value.decimalText(scale: 6)
    }

    static func period(_ period: BillingPeriod) -> JSONValue {
        .object(["start": .string(period.start.description), "end": .string(period.end.description)])
    }

    /// `contract.activated`.
    public static func contractActivated(_ contract: Contract) -> JSONValue {
        .object([
            "contract_id": .string(contract.id), "customer_id": .string(contract.customerId),
            "service_id": .string(contract.serviceId), "plan_id": .string(contract.planId),
            "start_date": .string(contract.start.description), "end_date": .string(contract.termEnd.description),
            "monthly_fee": .money(contract.monthlyFee),
            "discount_percent": .string(figure(contract.terms.discountPercent)),
            "term_months": .number(String(contract.terms.termMonths)),
        ])
    }

    /// `contract.plan_changed`.
    public static func contractPlanChanged(_ change: ContractPlanChange) -> JSONValue {
        .object([
            "old_contract_id": .string(change.endedContract.id), "new_contract_id": .string(change.newContract.id),
            "service_id": .string(change.newContract.serviceId),
            "effective_date": .string(change.effectiveDate.description),
        ])
    }

    /// `contract.cancelled`.
    public static func contractCancelled(_ cancellation: ContractCancellation) -> JSONValue {
        .object([
            "contract_id": .string(cancellation.contract.id), "service_id": .string(cancellation.contract.serviceId),
            "effective_date": .string(cancellation.contract.end.description),
            "early_termination_fee": .money(
                cancellation.earlyTerminationFee?.amount ?? .zero(cancellation.contract.currency)),
        ])
    }

    /// `contract.renewed`.
    public static func contractRenewed(oldContractId: String, new: Contract) -> JSONValue {
        .object([
            "old_contract_id": .string(oldContractId), "new_contract_id": .string(new.id),
            "start_date": .string(new.start.description), "end_date": .string(new.termEnd.description),
        ])
    }

    /// `contract.expiring`: what happens at the end.
    public static func contractExpiring(_ contract: Contract) -> JSONValue {
        .object([
            "contract_id": .string(contract.id), "end_date": .string(contract.termEnd.description),
            "renewal": .string(contract.terms.renewal.name),
        ])
    }

    /// `contract.expired`.
    public static func contractExpired(contractId: String, endDate: CalendarDate) -> JSONValue {
        .object(["contract_id": .string(contractId), "end_date": .string(endDate.description)])
    }

    /// `command.rejected`; for a body that could not be read, `commandId` is the AMQP message id.
    public static func commandRejected(commandId: String, commandType: String, _ rejection: Rejection) -> JSONValue {
        var fields: JSONObject = [
            "command_id": .string(commandId), "command_type": .string(commandType),
            "code": .string(rejection.code.rawValue), "message": .string(rejection.message),
        ]
        for (key, value) in rejection.details { fields[key] = .string(value) }
        return .object(fields)
    }

    /// The tenant settings `tenant.updated` publishes: these fields of the upsert and no others,
    /// so a field added to the command later is not published until it is named here. Never
    /// `notification` (the webhook's address and secrets are notification's alone).
    public static let tenantSettingsPublished = [
        "name", "platform_license", "service_contracts_enabled", "time_zone", "optional_terms", "invoice_profile",
        "payment_terms_days", "reminder_days", "taxes",
    ]

    /// `tenant.updated`: the allowed settings of a `tenant.upsert`'s data.
    public static func tenantUpdated(_ upsert: JSONValue) -> JSONValue {
        guard case .object(let fields) = upsert else { return .object([:]) }
        var published: JSONObject = [:]
        for name in tenantSettingsPublished {
            if let value = fields[name] { published[name] = value }
        }
        return .object(published)
    }

    /// `notification.delivered`, or with `failure` (a reason code and the receiver's status, if
    /// it answered) `notification.failed`.
    public static func notificationOutcome(
        eventId: String, eventType: String, url: String, attempts: Int, failure: (reason: String, status: Int?)?
    ) -> JSONValue {
        var fields: JSONObject = [
            "event_id": .string(eventId), "event_type": .string(eventType), "url": .string(url),
            "attempts": .number(String(attempts)),
        ]
        if let failure {
            fields["reason"] = .string(failure.reason)
            if let status = failure.status { fields["status"] = .number(String(status)) }
        }
        return .object(fields)
    }

    /// `billing.run.completed`.
    public static func billingRunCompleted(asOf: CalendarDate, invoiceIds: [String]) -> JSONValue {
        .object(["as_of": .string(asOf.description), "invoice_ids": .array(invoiceIds.map(JSONValue.string))])
    }
}
