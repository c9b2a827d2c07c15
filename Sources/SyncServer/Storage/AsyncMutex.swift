import Foundation

/// Lets one task at a time run a critical section that suspends (a write transaction spanning several awaits), in
/// the order they asked.
final class AsyncMutex: @unchecked Sendable {
    // NOTE: `lock` serialises access to `isLocked` and `waiters`.
    private let lock = NSLock()
    private var isLocked = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func withLock<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        let acquired: Bool = lock.withLock {
            if isLocked { return false }
            isLocked = true
            return true
        }
        if acquired { return }
        await withCheckedContinuation { continuation in
            let granted: Bool = lock.withLock {
                // Released between the two checks: take it now.
                if !isLocked {
                    isLocked = true
                    return true
                }
                waiters.append(continuation)
                return false
            }
            if granted { continuation.resume() }
        }
    }

    private func release() {
        let next: CheckedContinuation<Void, Never>? = lock.withLock {
            if waiters.isEmpty {
                isLocked = false
                return nil
            }
            // Ownership passes straight to the next waiter; the lock stays taken.
            return waiters.removeFirst()
        }
        next?.resume()
    }
}
