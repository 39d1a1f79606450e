import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Writes files so that readers see either the old file or the complete new one, never a
/// partial one.
///
/// On Linux the bytes go to an unnamed file in the target's directory (`O_TMPFILE`): if the
/// process dies while writing, even by SIGKILL, nothing is left behind. Only when complete is
/// the file given a temporary name (`linkat`) and renamed over the target. Where `O_TMPFILE` is
/// not supported, a named temporary file is used instead and removed on SIGINT or SIGTERM.
enum OutputFile {
    static func write(_ bytes: [UInt8], to path: String) throws {
        try write(to: path) { emit in try bytes.withUnsafeBytes(emit) }
    }

    /// Writes the bytes `produce` hands to `emit`, in order, as the file's content: a file can
    /// be written while it is rendered. If `produce` throws, the target is left as it was.
    static func write(to path: String, _ produce: (_ emit: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CommandError.io("cannot write \(path): the directory \(directory) does not exist")
        }
        let temporary = directory + "/.\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        #if os(Linux)
            // O_TMPFILE is __O_TMPFILE | O_DIRECTORY; Glibc's module does not export the macro.
            let oTmpfile: Int32 = 0o20_000_000 | O_DIRECTORY
            let fd = open(directory, oTmpfile | O_WRONLY | O_CLOEXEC, 0o644)
            if fd >= 0 {
                defer { close(fd) }
                try fill(fd, path: path, produce)
                guard fsync(fd) == 0 else { throw CommandError.io("cannot write \(path): \(String(cString: strerror(errno)))") }
                guard linkat(AT_FDCWD, "/proc/self/fd/\(fd)", AT_FDCWD, temporary, AT_SYMLINK_FOLLOW) == 0 else {
                    throw CommandError.io("cannot write \(path): \(String(cString: strerror(errno)))")
                }
                try moveIntoPlace(temporary, path)
                return
            }
        #endif
        try writeNamed(produce, temporary: temporary, path: path)
    }

    /// Writes what `produce` emits to `fd`. On Linux every 8 MB is handed to the disk at once
    /// (`sync_file_range`), so that the closing `fsync` has little left to wait for.
    private static func fill(_ fd: Int32, path: String, _ produce: (_ emit: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws
    {
        var written = 0
        var started = 0
        try produce { buffer in
            try writeAll(fd, buffer, path: path)
            written += buffer.count
            #if os(Linux)
                if written - started >= 8 << 20 {
                    _ = startWriteback?(fd, Int64(started), Int64(written - started), 2)  // SYNC_FILE_RANGE_WRITE
                    started = written
                }
            #endif
        }
    }

    #if os(Linux)
        /// glibc's `sync_file_range`, which Swift's Glibc module leaves out (it is a GNU extension).
        private static let startWriteback: (@convention(c) (Int32, Int64, Int64, UInt32) -> Int32)? = {
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sync_file_range") else { return nil }
            return unsafeBitCast(symbol, to: (@convention(c) (Int32, Int64, Int64, UInt32) -> Int32).self)
        }()
    #endif

    static func write(_ text: String, to path: String) throws {
        try write(Array(text.utf8), to: path)
    }

    private static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < buffer.count {
            let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw CommandError.io("cannot write \(path): \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    private static func moveIntoPlace(_ temporary: String, _ path: String) throws {
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw CommandError.io("cannot rename \(temporary) to \(path): \(reason)")
        }
    }

    private static func writeNamed(
        _ produce: (_ emit: (UnsafeRawBufferPointer) throws -> Void) throws -> Void, temporary: String, path: String
    ) throws {
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CommandError.io("cannot create \(temporary): \(String(cString: strerror(errno)))") }
        PendingTemporaries.add(temporary)
        defer { PendingTemporaries.remove(temporary) }
        do {
            defer { close(fd) }
            try fill(fd, path: path, produce)
            guard fsync(fd) == 0 else { throw CommandError.io("cannot write \(path): \(String(cString: strerror(errno)))") }
        } catch {
            unlink(temporary)
            throw error
        }
        try moveIntoPlace(temporary, path)
    }
}

/// Named temporary files to remove if the process is interrupted.
enum PendingTemporaries {
    nonisolated(unsafe) private static var paths: [String] = []
    nonisolated(unsafe) private static var installed = false

    static func add(_ path: String) {
        paths.append(path)
        if !installed {
            installed = true
            for sig in [SIGINT, SIGTERM] {
                signal(sig) { received in
                    for p in PendingTemporaries.paths { unlink(p) }
                    signal(received, SIG_DFL)
                    raise(received)
                }
            }
        }
    }

    static func remove(_ path: String) { paths.removeAll { $0 == path } }
}

/// A failure a command reports as one line on stderr.
enum CommandError: Error, CustomStringConvertible {
    /// A file that cannot be read or written.
    case io(String)

    var description: String {
        switch self {
        case .io(let m): m
        }
    }
}

/// Writes to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Writes to standard output with no trailing newline added.
func writeStandardOutput(_ bytes: [UInt8]) {
    FileHandle.standardOutput.write(Data(bytes))
}
