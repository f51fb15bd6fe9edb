extension Contract {
    /// The day `contract.expiring` is due: `noticeDays` before the term end.
    public func expiryNoticeDate(noticeDays: Int) -> CalendarDate {
        termEnd.adding(days: -noticeDays)
    }

    /// Whether the reminder is due on `date`: on or after the notice date, before the end, and
    /// only for a contract still running to its term (a cancelled or replaced one gets none).
    public func isExpiryNoticeDue(on date: CalendarDate, noticeDays: Int) -> Bool {
        closing == nil && date >= expiryNoticeDate(noticeDays: noticeDays) && date < termEnd
    }
}
