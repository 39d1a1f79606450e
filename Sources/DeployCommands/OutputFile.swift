import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Writes a command's output where `-o` says, the way cp, dot and jq do.
///
/// - `-` is standard output, and so are `/dev/stdout`, `/dev/fd/N` and `/proc/self/fd/N`
///   (written through the descriptor, never replaced).
/// - A symbolic link is followed: the file it points to is written, atomically, beside itself.
/// - A character device, FIFO or other file that is not a regular file is written through.
/// - A directory, or a file that is one of the command's inputs, is refused.
/// - A regular file is replaced atomically, keeping its mode and owner; one with other hard
///   links is rewritten in place once the whole new content exists, so the links stay joined.
///
/// Readers see either the old file or the complete new one, never a partial one. On Linux the
/// bytes go to an unnamed file in the target's directory (`O_TMPFILE`): if the process dies
/// while writing, even by SIGKILL, nothing is left behind. Only when complete is the file given
/// a temporary name (`linkat`) and renamed over the target. Where `O_TMPFILE` is not supported,
/// a named temporary file is used instead. Named temporaries are removed on SIGINT, SIGTERM and
/// SIGHUP, and carry the writer's process id, so a later write to the same directory removes
/// those a killed process left.
enum OutputFile {
    /// `-` on the command line: standard output.
    static let standardOutputName = "-"

    static func write(_ bytes: [UInt8], to path: String, inputs: [String] = []) throws {
        try write(to: path, inputs: inputs) { emit in try bytes.withUnsafeBytes(emit) }
    }

    static func write(_ text: String, to path: String, inputs: [String] = []) throws {
        try write(Array(text.utf8), to: path, inputs: inputs)
    }

    /// Writes the bytes `produce` hands to `emit`, in order, as the output's content: a file can
    /// be written while it is rendered. If `produce` throws, a regular file is left as it was and
    /// a stream (standard output, a pipe) gets nothing.
    ///
    /// - Parameter inputs: the files the command read; writing over one of them is refused.
    static func write(
        to path: String, inputs: [String] = [], _ produce: (_ emit: (UnsafeRawBufferPointer) throws -> Void) throws -> Void
    ) throws {
        switch try Destination.resolve(path, inputs: inputs) {
        case .descriptor(let fd):
            try writeBuffered(fd, name: path, produce)
        case .special(let resolved, let isStream):
            let fd = open(resolved, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { throw CommandError.io("cannot write \(path): \(lastError())") }
            defer { close(fd) }
            if isStream {
                try writeBuffered(fd, name: path, produce)
            } else {
                try fill(fd, path: path, produce)
            }
        case .regular(let resolved, let existing):
            try replace(resolved, shownAs: path, existing: existing, produce)
        }
    }

    /// Refuses, before any work, an output that cannot be written: a directory, an input, a
    /// missing directory. (Writing resolves the path again, so a change in between is caught.)
    static func preflight(_ paths: String?..., inputs: [String]) throws {
        for case let path? in paths { _ = try Destination.resolve(path, inputs: inputs) }
    }

    /// Whether `path` names standard output (`-`, `/dev/stdout`, or descriptor 1 by another name).
    static func isStandardOutput(_ path: String) -> Bool {
        if case .descriptor(1)? = try? Destination.resolve(path, inputs: []) { return true }
        return false
    }

    /// Where a path leads once links are followed.
    enum Destination: Equatable {
        /// An open descriptor of this process, named by `-`, `/dev/stdout` or `/dev/fd/N`.
        case descriptor(Int32)
        /// A device, FIFO or socket: opened and written through. Streams (FIFOs, sockets) get
        /// the whole output at once, after it is complete.
        case special(String, isStream: Bool)
        /// A regular file to replace, or to create when `existing` is nil.
        case regular(String, existing: FileStatus?)

        static func resolve(_ path: String, inputs: [String]) throws -> Destination {
            if path == OutputFile.standardOutputName { return .descriptor(1) }
            if path.isEmpty { throw CommandError.io("cannot write to an empty path") }
            var current = path
            for _ in 0..<40 {
                if let fd = descriptorNamed(current) { return .descriptor(fd) }
                guard let status = FileStatus(linkAt: current) else {
                    // Nothing there: a new file, in a directory that must exist.
                    try requireDirectory(of: current, shownAs: path)
                    return .regular(current, existing: nil)
                }
                if status.isSymbolicLink {
                    current = try linkTarget(current)
                    continue
                }
                if status.isDirectory { throw CommandError.io("cannot write \(path): it is a directory") }
                if status.isRegular {
                    if let input = inputs.first(where: { FileStatus(following: $0)?.sameFile(as: status) == true }) {
                        throw CommandError.io(
                            "refusing to write \(path): it is the input \(input); name another output file")
                    }
                    return .regular(current, existing: status)
                }
                return .special(current, isStream: status.isFIFO || status.isSocket)
            }
            throw CommandError.io("cannot write \(path): too many levels of symbolic links")
        }

        /// The descriptor that `/dev/stdout`, `/dev/stderr`, `/dev/fd/N`, `/proc/self/fd/N` or
        /// `/proc/PID/fd/N` (this process's) names.
        static func descriptorNamed(_ path: String) -> Int32? {
            switch path {
            case "/dev/stdin": return 0
            case "/dev/stdout": return 1
            case "/dev/stderr": return 2
            default: break
            }
            for prefix in ["/dev/fd/", "/proc/self/fd/", "/proc/thread-self/fd/", "/proc/\(getpid())/fd/"]
            where path.hasPrefix(prefix) {
                return Int32(path.dropFirst(prefix.count))
            }
            return nil
        }

        private static func linkTarget(_ link: String) throws -> String {
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let count = readlink(link, &buffer, buffer.count - 1)
            guard count >= 0 else { throw CommandError.io("cannot follow the link \(link): \(lastError())") }
            let target = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if target.hasPrefix("/") { return target }
            return directoryName(link) + "/" + target
        }

        private static func requireDirectory(of file: String, shownAs path: String) throws {
            let directory = directoryName(file)
            guard let status = FileStatus(following: directory) else {
                throw CommandError.io("cannot write \(path): the directory \(directory) does not exist")
            }
            guard status.isDirectory else { throw CommandError.io("cannot write \(path): \(directory) is not a directory") }
        }
    }

    /// `name` made into one safe file name: letters, digits, `.`, `_`, `-` and `+` kept, every
    /// other character (a `/`, a control character, a space) made `_`, no leading dot or dash,
    /// at most 120 characters; `graph` when nothing is left. For names taken from a file's contents.
    static func safeComponent(_ name: String) -> String {
        var out = String(
            name.unicodeScalars.prefix(120).map { c -> Character in
                c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c) || "._-+".unicodeScalars.contains(c))
                    ? Character(c) : "_"
            })
        while let first = out.first, first == "." || first == "-" { out.removeFirst() }
        return out.isEmpty ? "graph" : out
    }

    /// The directory part of a path ("." for a bare name).
    static func directoryName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    private static func fileName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// Collects everything `produce` emits, then writes it: an error writes nothing.
    private static func writeBuffered(
        _ fd: Int32, name: String, _ produce: (_ emit: (UnsafeRawBufferPointer) throws -> Void) throws -> Void
    ) throws {
        var pieces: [[UInt8]] = []
        try produce { pieces.append(Array($0)) }
        for piece in pieces { try piece.withUnsafeBytes { try writeAll(fd, $0, path: name) } }
    }

    /// Replaces (or creates) the regular file `path` with what `produce` emits.
    private static func replace(
        _ path: String, shownAs shown: String, existing: FileStatus?,
        _ produce: (_ emit: (UnsafeRawBufferPointer) throws -> Void) throws -> Void
    ) throws {
        let directory = directoryName(path)
        let name = fileName(path)
        StaleTemporaries.remove(for: name, in: directory)
        let temporary = directory + "/" + StaleTemporaries.name(for: name)
        #if os(Linux)
            // O_TMPFILE is __O_TMPFILE | O_DIRECTORY; Glibc's module does not export the macro.
            let oTmpfile: Int32 = 0o20_000_000 | O_DIRECTORY
            let fd = open(directory, oTmpfile | O_RDWR | O_CLOEXEC, 0o666)
            if fd >= 0 {
                defer { close(fd) }
                existing?.copyOwnership(to: fd)
                try fill(fd, path: shown, produce)
                guard fsync(fd) == 0 else { throw CommandError.io("cannot write \(shown): \(lastError())") }
                if let existing, existing.linkCount > 1 { return try copyInPlace(from: fd, to: path, shownAs: shown) }
                PendingTemporaries.add(temporary)
                defer { PendingTemporaries.remove(temporary) }
                guard linkat(AT_FDCWD, "/proc/self/fd/\(fd)", AT_FDCWD, temporary, AT_SYMLINK_FOLLOW) == 0 else {
                    throw CommandError.io("cannot write \(shown): \(lastError())")
                }
                return try moveIntoPlace(temporary, path, shownAs: shown)
            }
        #endif
        try writeNamed(produce, temporary: temporary, path: path, shownAs: shown, existing: existing)
    }

    private static func writeNamed(
        _ produce: (_ emit: (UnsafeRawBufferPointer) throws -> Void) throws -> Void, temporary: String, path: String,
        shownAs shown: String, existing: FileStatus?
    ) throws {
        PendingTemporaries.add(temporary)
        defer { PendingTemporaries.remove(temporary) }
        let fd = open(temporary, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard fd >= 0 else { throw CommandError.io("cannot create \(temporary): \(lastError())") }
        do {
            defer { close(fd) }
            existing?.copyOwnership(to: fd)
            try fill(fd, path: shown, produce)
            guard fsync(fd) == 0 else { throw CommandError.io("cannot write \(shown): \(lastError())") }
            if let existing, existing.linkCount > 1 {
                try copyInPlace(from: fd, to: path, shownAs: shown)
                unlink(temporary)
                return
            }
        } catch {
            unlink(temporary)
            throw error
        }
        try moveIntoPlace(temporary, path, shownAs: shown)
    }

    /// Writes the complete content of `source` into the existing file `path`, keeping its inode
    /// (and so its other hard links). The new content exists whole before the file is touched.
    private static func copyInPlace(from source: Int32, to path: String, shownAs shown: String) throws {
        let target = open(path, O_WRONLY | O_CLOEXEC)
        guard target >= 0 else { throw CommandError.io("cannot write \(shown): \(lastError())") }
        defer { close(target) }
        guard lseek(source, 0, SEEK_SET) == 0 else { throw CommandError.io("cannot write \(shown): \(lastError())") }
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { block.deallocate() }
        var total = 0
        while true {
            let count = read(source, block.baseAddress, block.count)
            if count < 0 {
                if errno == EINTR { continue }
                throw CommandError.io("cannot write \(shown): \(lastError())")
            }
            if count == 0 { break }
            try writeAll(target, UnsafeRawBufferPointer(rebasing: block[..<count]), path: shown)
            total += count
        }
        guard ftruncate(target, off_t(total)) == 0, fsync(target) == 0 else {
            throw CommandError.io("cannot write \(shown): \(lastError())")
        }
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

    private static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < buffer.count {
            let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw CommandError.io("cannot write \(path): \(lastError())")
            }
            offset += n
        }
    }

    private static func moveIntoPlace(_ temporary: String, _ path: String, shownAs shown: String) throws {
        guard rename(temporary, path) == 0 else {
            let reason = lastError()
            unlink(temporary)
            throw CommandError.io("cannot write \(shown): renaming \(temporary) into place failed: \(reason)")
        }
    }
}

/// What `stat` says of a path: enough to choose how to write it and to keep what it was.
struct FileStatus: Equatable {
    var mode: mode_t
    var device: UInt64
    var inode: UInt64
    var linkCount: UInt64
    var size: Int64
    var owner: uid_t
    var group: gid_t

    /// The path itself, a symbolic link not followed (`lstat`); nil when there is nothing there.
    init?(linkAt path: String) {
        var s = stat()
        guard lstat(path, &s) == 0 else { return nil }
        self.init(s)
    }

    /// What the path leads to, links followed (`stat`); nil when nothing can be reached.
    init?(following path: String) {
        var s = stat()
        guard stat(path, &s) == 0 else { return nil }
        self.init(s)
    }

    init(_ s: stat) {
        mode = s.st_mode
        device = UInt64(s.st_dev)
        inode = UInt64(s.st_ino)
        linkCount = UInt64(s.st_nlink)
        size = Int64(s.st_size)
        owner = s.st_uid
        group = s.st_gid
    }

    var isRegular: Bool { mode & S_IFMT == S_IFREG }
    var isDirectory: Bool { mode & S_IFMT == S_IFDIR }
    var isSymbolicLink: Bool { mode & S_IFMT == S_IFLNK }
    var isFIFO: Bool { mode & S_IFMT == S_IFIFO }
    var isSocket: Bool { mode & S_IFMT == S_IFSOCK }

    func sameFile(as other: FileStatus) -> Bool { device == other.device && inode == other.inode }

    /// Gives the open file `fd` this file's permission bits and, where allowed, its owner.
    func copyOwnership(to fd: Int32) {
        _ = fchown(fd, owner, group)  // only root may give a file away; a failure keeps ours
        _ = fchmod(fd, mode & 0o7777)
    }
}

/// Names of temporary files, and removal of those a killed process left.
enum StaleTemporaries {
    private static let marker = ".deploydag-"

    /// `.NAME.deploydag-PID-RANDOM.tmp`, beside the target `NAME`.
    static func name(for target: String) -> String {
        ".\(target)\(marker)\(getpid())-\(UInt32.random(in: 0...UInt32.max)).tmp"
    }

    /// Removes the temporaries of `target` in `directory` whose process no longer runs.
    static func remove(for target: String, in directory: String) {
        let prefix = ".\(target)\(marker)"
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for entry in entries where entry.hasPrefix(prefix) && entry.hasSuffix(".tmp") {
            let rest = entry.dropFirst(prefix.count).dropLast(4)
            guard let dash = rest.firstIndex(of: "-"), let pid = pid_t(rest[..<dash]), pid > 0 else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { unlink(directory + "/" + entry) }
        }
    }
}

/// Named temporary files to remove if the process is interrupted (SIGINT, SIGTERM, SIGHUP).
enum PendingTemporaries {
    nonisolated(unsafe) private static var paths: [String] = []
    nonisolated(unsafe) private static var installed = false

    static func add(_ path: String) {
        paths.append(path)
        if !installed {
            installed = true
            for sig in [SIGINT, SIGTERM, SIGHUP] {
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

/// The text of `errno`.
func lastError() -> String { String(cString: strerror(errno)) }

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
