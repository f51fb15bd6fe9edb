public import BillingDomain

/// A service's metric in a month: what rating keeps a total of. Two keys are equal when their
/// ids are the same bytes, as the databases compare them (``StoredText``).
public struct UsageMonthKey: Sendable, Hashable {
    public var tenantId: String
    public var serviceId: String
    public var metric: String
    /// The first day of the month.
    public var month: CalendarDate

    public init(tenantId: String, serviceId: String, metric: String, month: CalendarDate) {
        self.tenantId = tenantId
        self.serviceId = serviceId
        self.metric = metric
        self.month = month.startOfMonth
    }

    public static func == (lhs: UsageMonthKey, rhs: UsageMonthKey) -> Bool {
        lhs.month == rhs.month && StoredText.equal(lhs.tenantId, rhs.tenantId)
            && StoredText.equal(lhs.serviceId, rhs.serviceId) && StoredText.equal(lhs.metric, rhs.metric)
    }

    public func hash(into hasher: inout Hasher) {
        StoredText.hash(tenantId, into: &hasher)
        StoredText.hash(serviceId, into: &hasher)
        StoredText.hash(metric, into: &hasher)
        hasher.combine(month)
    }
}

/// Usage to add to a service's total for a metric and month (rating).
public struct UsageIncrement: Sendable, Hashable {
    public var tenantId: String
    public var serviceId: String
    public var metric: String
    /// The first day of the month.
    public var month: CalendarDate
    public var quantity: Rational
    /// The most the total may reach with this quantity added; a commit that would pass it is
    /// refused as a conflict (``CommitOutcome/versionConflict(kind:key:)``, kind `usage_total`):
    /// the decision was made on a total that has grown since (another replica's commit), and
    /// is to be made again. `nil`: no limit.
    public var maximumTotal: Rational?

    public init(
        tenantId: String, serviceId: String, metric: String, month: CalendarDate, quantity: Rational,
        maximumTotal: Rational? = nil
    ) {
        self.tenantId = tenantId
        self.serviceId = serviceId
        self.metric = metric
        self.month = month.startOfMonth
        self.quantity = quantity
        self.maximumTotal = maximumTotal
    }

    public var key: UsageMonthKey {
        UsageMonthKey(tenantId: tenantId, serviceId: serviceId, metric: metric, month: month)
    }

    /// The conflict of a commit that would take the total to `total`, past its limit; nil if
    /// it stays within.
    func conflict(at total: Rational) -> CommitOutcome? {
        guard let maximumTotal, total > maximumTotal else { return nil }
        return pastLimit
    }

    /// The conflict of a commit that would take the total past its limit.
    var pastLimit: CommitOutcome {
        .versionConflict(kind: "usage_total", key: "\(tenantId)/\(serviceId)/\(metric)/\(month)")
    }
}
