public import BillingDomain

/// A final invoice (invoicing): its totals as exact decimals and the whole invoice as JSON.
public struct StoredInvoice: Sendable, Hashable {
    public var tenantId: String
    public var invoiceId: String
    public var customerId: String
    public var currency: String
    public var issueDate: CalendarDate
    public var subtotal: Rational
    public var discountTotal: Rational
    public var total: Rational
    public var body: [UInt8]

    public init(
        tenantId: String, invoiceId: String, customerId: String, currency: String, issueDate: CalendarDate,
        subtotal: Rational, discountTotal: Rational, total: Rational, body: [UInt8]
    ) {
        self.tenantId = tenantId
        self.invoiceId = invoiceId
        self.customerId = customerId
        self.currency = currency
        self.issueDate = issueDate
        self.subtotal = subtotal
        self.discountTotal = discountTotal
        self.total = total
        self.body = body
    }
}

/// One webhook delivery attempt (notification).
public struct DeliveryRecord: Sendable, Hashable {
    public var eventId: String
    public var target: String
    public var attempt: Int
    public var status: String
    public var responseCode: Int?
    /// Seconds since 1970.
    public var at: Int64

    public init(eventId: String, target: String, attempt: Int, status: String, responseCode: Int?, at: Int64) {
        self.eventId = eventId
        self.target = target
        self.attempt = attempt
        self.status = status
        self.responseCode = responseCode
        self.at = at
    }
}
