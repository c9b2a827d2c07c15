/// A conflict rule: how a replica or the server folds one input (a write) into the state of one field, counter,
/// or record.
///
/// A conforming type must guarantee the three laws the whole protocol rests on, for any set of inputs that came
/// from a causally consistent history (each input's context holds only dots that exist):
/// - **order-independence** (commutativity and associativity): applying the same inputs in any order gives equal
///   `State`;
/// - **idempotence**: applying an input again changes nothing and reports ``MergeStatus/duplicate`` or
///   ``MergeStatus/superseded``;
/// - **no silent loss**: an input that is not kept in `State` was seen (is in the context of) an input that is.
///
/// Rules that depend on who is writing (server-owned data) say so in ``rejection(of:authority:)``, which is checked
/// before anything is applied, so a rejected change leaves the state untouched.
public protocol MergeRule: Sendable {
    associatedtype State: Hashable & Sendable
    associatedtype Input: Sendable

    /// Why `input` may not be applied by a writer with `authority`, or nil when it may.
    func rejection(of input: Input, authority: WriteAuthority) -> ChangeRejection?

    /// Folds `input` into `state`. Call only after ``rejection(of:authority:)`` returned nil.
    func apply(_ input: Input, to state: inout State) -> MergeStatus
}

extension MergeRule {
    public func rejection(of input: Input, authority: WriteAuthority) -> ChangeRejection? { nil }
}

/// Who is writing: a replica (a rep's laptop) or the server (imports, recounts, admin edits, and every change a
/// replica pulls, which the server has already checked).
public enum WriteAuthority: String, Sendable, Hashable, Codable {
    case replica
    case server
}

/// What applying one input did.
public enum MergeStatus: Hashable, Sendable {
    /// The input is now part of the state.
    case applied
    /// The very same input (same dot) was applied before.
    case duplicate
    /// A causally later input already replaced this one; it stays in history, not in the state.
    case superseded
    /// The state refuses the input (for example a second record with an existing append-only ID).
    case rejected(ChangeRejection)
}
