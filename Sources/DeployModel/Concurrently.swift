import Dispatch

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs `first` on the calling thread while `second` runs on another, and returns both results.
/// Million-node checks split their independent passes this way over the machine's cores.
public func concurrently<A, B>(_ first: () throws -> A, _ second: @escaping @Sendable () -> B) rethrows -> (A, B) {
    guard Parallelism.isEnabled else { return (try first(), second()) }
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

/// Whether `concurrently` uses a second thread. The fuzz target turns it off: libdispatch keeps
/// per-thread caches that LeakSanitizer would otherwise inspect after every input.
public enum Parallelism {
    nonisolated(unsafe) public static var isEnabled = true

    /// The cores work may be spread over: one when parallelism is off.
    public static var cores: Int {
        guard isEnabled else { return 1 }
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}

/// Written by one thread before a semaphore is signalled, read by another after it is awaited.
private final class ResultBox<T>: @unchecked Sendable {
    var value: T?
}
