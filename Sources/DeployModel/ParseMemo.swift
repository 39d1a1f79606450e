/// Remembers the parse of each distinct attribute string. A DAG of a million nodes has a few
/// dozen distinct shapes, equations and placements; parsing each once keeps decoding and
/// checking near the cost of reading the file.
public struct ParseMemo: Sendable {
    private var shapes: [String: Result<Shape, ShapeError>] = [:]
    private var dims: [String: Result<Dim, DimError>] = [:]
    private var einsums: [String: Result<Einsum, EinsumError>] = [:]
    private var placements: [String: Placement?] = [:]
    private var gpuLists: [String: [Int]?] = [:]

    public init() {}

    public mutating func shape(_ text: String) -> Result<Shape, ShapeError> {
        if let known = shapes[text] { return known }
        let result = Result { () throws(ShapeError) -> Shape in try Shape.parse(text) }
        shapes[text] = result
        return result
    }

    public mutating func dim(_ text: String) -> Result<Dim, DimError> {
        if let known = dims[text] { return known }
        let result = Result { () throws(DimError) -> Dim in try Dim.parse(text) }
        dims[text] = result
        return result
    }

    public mutating func einsum(_ text: String) -> Result<Einsum, EinsumError> {
        if let known = einsums[text] { return known }
        let result = Result { () throws(EinsumError) -> Einsum in try Einsum(text) }
        einsums[text] = result
        return result
    }

    public mutating func placement(_ text: String) -> Placement? {
        if let known = placements[text] { return known }
        let result = Placement.parse(text)
        placements[text] = result
        return result
    }

    public mutating func gpuList(_ text: String) -> [Int]? {
        if let known = gpuLists[text] { return known }
        let result = GPUList.parse(text)
        gpuLists[text] = result
        return result
    }

    /// A decimal integer with optional ASCII white space around it.
    public func integer(_ text: String) -> Int? {
        // Most values are a few plain digits: read in place, without trimming a copy. Anything
        // else (signs, spaces, long numbers) takes the general path.
        let plain = text.utf8.withContiguousStorageIfAvailable { digits -> Int? in
            guard !digits.isEmpty, digits.count <= 18 else { return nil }
            var value = 0
            for d in digits {
                guard d &- UInt8(ascii: "0") < 10 else { return nil }
                value = value &* 10 &+ Int(d &- UInt8(ascii: "0"))
            }
            return value
        }
        if let plain, let plain { return plain }
        return Int(text.trimmingASCIISpaces())
    }
}
