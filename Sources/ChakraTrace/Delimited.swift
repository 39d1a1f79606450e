import SwiftProtobuf

/// A Chakra execution trace file: length-delimited protobuf messages (each a varint byte count,
/// then the message), a `GlobalMetadata` first and `Node`s after it, as Chakra's own
/// `encode_message` writes them.
enum Delimited {
    /// The largest one message may be: a node of a deploydag trace is a few hundred bytes.
    static let maximumMessageBytes = 1 << 26

    static func append(_ message: some SwiftProtobuf.Message, to bytes: inout [UInt8]) throws {
        let body: [UInt8] = try message.serializedBytes()
        var count = UInt64(body.count)
        repeat {
            let low = UInt8(count & 0x7f)
            count >>= 7
            bytes.append(count == 0 ? low : low | 0x80)
        } while count != 0
        bytes += body
    }

    /// The messages of a file, in order: byte ranges of their bodies.
    static func split(_ bytes: [UInt8], file: String) throws(ChakraError) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var at = 0
        while at < bytes.count {
            let start = at
            var count: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard at < bytes.count else { throw ChakraError("\(file): byte \(start): a message length runs past the end of the file") }
                let byte = bytes[at]
                at += 1
                guard shift < 63 else { throw ChakraError("\(file): byte \(start): a message length longer than 9 bytes") }
                count |= UInt64(byte & 0x7f) << shift
                shift += 7
                if byte & 0x80 == 0 { break }
            }
            guard count <= UInt64(maximumMessageBytes) else {
                throw ChakraError("\(file): byte \(start): a message of \(count) bytes (at most \(maximumMessageBytes) are read)")
            }
            guard UInt64(bytes.count - at) >= count else {
                throw ChakraError("\(file): byte \(start): a message of \(count) bytes, but only \(bytes.count - at) are left")
            }
            ranges.append(at..<(at + Int(count)))
            at += Int(count)
        }
        return ranges
    }
}

/// A trace that cannot be written or read, with where and why.
public struct ChakraError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
