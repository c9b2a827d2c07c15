/// A counter (stock quantity): replicas add signed deltas; the server may reset the base with a recount.
///
/// The value is the base of the winning reset (0 without one) plus every delta that reset had not seen (whose
/// dot is not in the reset's context). Deltas are kept by dot, so a delta applied twice counts once; a delta that
/// arrives after a recount that had already counted it is not counted again. Concurrent resets are decided like
/// last-writer-wins (hybrid timestamp, then dot). A value below zero is reported as oversold, never clamped.
///
/// Laws: order-independent and idempotent; no delta is ever dropped from the state.
public struct Counter: MergeRule {
    public init() {}

    public struct Input: Hashable, Sendable {
        public enum Kind: Hashable, Sendable {
            case delta(Int64)
            case reset(Int64)
        }
        public var kind: Kind
        public var dot: Dot
        public var context: VectorClock
        public var timestamp: HybridTimestamp

        public init(_ kind: Kind, dot: Dot, context: VectorClock, timestamp: HybridTimestamp) {
            self.kind = kind
            self.dot = dot
            self.context = context
            self.timestamp = timestamp
        }
    }

    /// A recount: the base quantity and what it had seen.
    public struct Reset: CausallyStamped, Codable {
        public var quantity: Int64
        public var dot: Dot
        public var context: VectorClock
        public var timestamp: HybridTimestamp

        enum CodingKeys: String, CodingKey {
            case quantity, dot, context
            case timestamp = "hlc"
        }
    }

    public struct State: Hashable, Sendable, Codable {
        /// Every delta ever applied, by dot.
        public internal(set) var deltas: [Dot: Int64]
        /// The causally maximal resets.
        public internal(set) var resets: CausalSet<Reset>

        public init() {
            deltas = [:]
            resets = CausalSet()
        }

        /// The winning reset, if any.
        public var currentReset: Reset? {
            resets.max { lhs, rhs in
                lhs.timestamp != rhs.timestamp ? lhs.timestamp < rhs.timestamp : lhs.dot < rhs.dot
            }
        }

        /// The counter's value: the winning reset's quantity plus the deltas it had not seen.
        public var value: Int64 {
            let reset = currentReset
            var total = reset?.quantity ?? 0
            for (dot, delta) in deltas where !(reset?.context.contains(dot) ?? false) {
                total &+= delta
            }
            return total
        }

        /// True when more was sold than there is.
        public var isOversold: Bool { value < 0 }

        enum CodingKeys: String, CodingKey {
            case deltas, resets
        }

        private struct DeltaEntry: Codable {
            var dot: Dot
            var delta: Int64
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            let list = try container.decode([DeltaEntry].self, forKey: .deltas)
            deltas = Dictionary(list.map { ($0.dot, $0.delta) }, uniquingKeysWith: { first, _ in first })
            resets = try container.decode(CausalSet<Reset>.self, forKey: .resets)
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            let list = deltas.sorted { $0.key < $1.key }.map { DeltaEntry(dot: $0.key, delta: $0.value) }
            try container.encode(list, forKey: .deltas)
            try container.encode(resets, forKey: .resets)
        }
    }

    public func rejection(of input: Input, authority: WriteAuthority) -> ChangeRejection? {
        if case .reset = input.kind, authority == .replica {
            return ChangeRejection(.serverOwned, "stock recounts come from the server's stock import, not replicas")
        }
        return nil
    }

    public func apply(_ input: Input, to state: inout State) -> MergeStatus {
        switch input.kind {
        case .delta(let delta):
            if state.deltas[input.dot] != nil { return .duplicate }
            state.deltas[input.dot] = delta
            return .applied
        case .reset(let quantity):
            return state.resets.insert(
                Reset(quantity: quantity, dot: input.dot, context: input.context, timestamp: input.timestamp)
            )
        }
    }
}
