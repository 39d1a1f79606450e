import Dispatch

/// Runs `first` on the calling thread while `second` runs on another, and returns both results.
/// Million-node checks split their independent passes this way over the machine's cores.
public func concurrently<A, B>(_ first: () throws -> A, _ second: @escaping @Sendable () -> B) rethrows -> (A, B) {
    let box = ResultBox<B>()
    let done = DispatchSemaphore(value: 0)
    DispatchQueue.global(qos: .userInitiated).async {
        box.value = second()
        done.signal()
    }
    let a: A
    do {
        a = try first()
    } catch {
        done.wait()
        throw error
    }
    done.wait()
    return (a, box.value!)
}

/// Written by one thread before a semaphore is signalled, read by another after it is awaited.
private final class ResultBox<T>: @unchecked Sendable {
    var value: T?
}
