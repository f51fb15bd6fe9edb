/// One evaluation window of a commitment.
///
/// Windows are calendar-aligned like invoices: window k spans `frequencyMonths` months from
/// the first of the contract's start month, and its days are cut to the commitment period
/// (`[start, start + period_months)`, never past the contract's end, which a cancellation or a
/// plan change may bring forward). A window cut short has its committed amount pro rata by days.
public struct CommitmentWindow: Sendable, Hashable {
    /// 1 for the first window.
    public let number: Int
    /// The whole calendar-aligned window.
    public let nominal: BillingPeriod
    /// The window's days within the commitment period.
    public let days: BillingPeriod
    /// The exact committed amount for these days.
    public let committed: Rational

    /// The first day on which every invoice line of the window has been composed: the first of
    /// the month after the window's last day (a run whose cutoff reaches it closes the window).
    public var closesOn: CalendarDate {
        days.end.isFirstOfMonth ? days.end : days.end.startOfNextMonth
    }
}

extension Contract {
    /// The days a commitment runs: from the start for `period_months` (default the term), never
    /// past the contract's end.
    public func commitmentPeriod(_ commitment: Commitment) -> BillingPeriod {
        let periodEnd = commitment.periodMonths.map { start.adding(months: $0) } ?? termEnd
        return BillingPeriod(start: start, end: CalendarDate.max(start, CalendarDate.min(periodEnd, end)))
    }

    /// The commitment's windows in order.
    public func windows(of commitment: Commitment) -> [CommitmentWindow] {
        let period = commitmentPeriod(commitment)
        var windows: [CommitmentWindow] = []
        var number = 1
        var nominalStart = start.startOfMonth
        while nominalStart < period.end {
            let nominal = BillingPeriod(
                start: nominalStart, end: start.startOfMonth.adding(months: number * commitment.frequencyMonths))
            if let days = nominal.intersection(period) {
                let committed = commitment.committedAmount(window: number) * Rational(days.days) / nominal.days
                windows.append(CommitmentWindow(number: number, nominal: nominal, days: days, committed: committed))
            }
            nominalStart = nominal.end
            number += 1
        }
        return windows
    }

    /// The exact committed amount of the contract's `invoice_amount` commitments for the
    /// windows, or parts of windows, from `date` to the term end (partial windows pro rata by
    /// days): what `percent_of_remaining_commitments` is a percentage of. Many commitments of
    /// unlike frequencies sum over many day counts, whose common denominator can leave `Int128`:
    /// that is reported, for the cancellation to be rejected.
    public func remainingCommittedAmount(from date: CalendarDate) throws(ArithmeticOverflow) -> Rational {
        guard date < termEnd else { return .zero }
        var uncut = self
        uncut.end = termEnd
        var total = Rational.zero
        for commitment in terms.commitments where commitment.measure.isMonetary {
            for window in uncut.windows(of: commitment) {
                guard let remaining = window.days.intersection(BillingPeriod(start: date, end: termEnd)) else {
                    continue
                }
                let share = try window.committed.multiplied(by: Rational(remaining.days))
                    .divided(by: Rational(window.days.days))
                total = try total.adding(share)
            }
        }
        return total
    }
}
