/// The evaluation of one commitment window: committed, actual, and the shortfall between them.
public struct CommitmentOutcome: Sendable, Hashable {
    public let commitmentId: String
    public let contractId: String
    public let window: CommitmentWindow
    public let committed: Rational
    public let actual: Rational
    /// Whether the figures are money (an `invoice_amount` commitment) or quantities.
    public let isMonetary: Bool

    /// `committed − actual` when positive, else zero.
    public var shortfall: Rational { Rational.max(committed - actual, .zero) }
}
