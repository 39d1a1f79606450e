/// A tensor's shape, written `[d0,d1,...]` in DOT files.
public struct Shape: Hashable, Sendable, CustomStringConvertible, ExpressibleByArrayLiteral {
    public var dims: [Dim]

    public init(_ dims: [Dim]) { self.dims = dims }

    public init(arrayLiteral elements: Dim...) { self.dims = elements }

    public var rank: Int { dims.count }

    public subscript(index: Int) -> Dim {
        get { dims[index] }
        set { dims[index] = newValue }
    }

    public var description: String {
        var text = "["
        text.reserveCapacity(8 * dims.count + 2)
        for (i, d) in dims.enumerated() {
            if i > 0 { text.append(",") }
            text.append(d.description)
        }
        text.append("]")
        return text
    }

    /// The number of elements: the product of the dimensions.
    public func elementCount() throws(DimError) -> Dim {
        var product = Dim(1)
        for d in dims { product = try product * d }
        return product
    }

    /// Parses `[d0,d1,...]`; each dimension as `Dim.parse`.
    public static func parse<S: StringProtocol>(_ text: S) throws(ShapeError) -> Shape {
        let trimmed = text.trimmingASCIISpaces()
        guard trimmed.first == "[", trimmed.last == "]", trimmed.count >= 2 else {
            throw .malformed(String(text), reason: "expected a bracketed list such as [1024,10000,8192]")
        }
        let inner = trimmed.dropFirst().dropLast()
        if inner.trimmingASCIISpaces().isEmpty { return Shape([]) }
        var dims: [Dim] = []
        for (i, piece) in inner.split(separator: ",", omittingEmptySubsequences: false).enumerated() {
            do {
                let d = try Dim.parse(piece)
                guard d.isPositive else {
                    throw ShapeError.malformed(String(text), reason: "dimension \(i) is \(d); dimensions must be positive")
                }
                dims.append(d)
            } catch let error as DimError {
                throw .malformed(String(text), reason: "dimension \(i): \(error)")
            } catch let error as ShapeError {
                throw error
            } catch {
                throw .malformed(String(text), reason: "dimension \(i)")
            }
        }
        return Shape(dims)
    }

    public func binding(_ values: [String: Int64]) throws(DimError) -> Shape {
        var result = self
        for i in result.dims.indices { result.dims[i] = try dims[i].binding(values) }
        return result
    }
}

public enum ShapeError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformed(String, reason: String)

    public var description: String {
        switch self {
        case .malformed(let text, let reason): "malformed shape '\(text)': \(reason)"
        }
    }
}
