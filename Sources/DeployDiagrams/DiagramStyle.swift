import DeployModel

/// Colours and shapes by operator class, shared by the diagram and its legend.
public enum DiagramStyle {
    public static func fill(_ kind: Operator.Kind) -> String {
        switch kind {
        case .boundary: "#e9ecef"
        case .matmul: "#cfe2ff"
        case .normalization: "#d1e7dd"
        case .elementwise: "#fff3cd"
        case .layout: "#e2d9f3"
        case .routing: "#ffe5d0"
        case .communication: "#f8d7da"
        }
    }

    public static func shape(_ op: Operator) -> String {
        switch op {
        case .input, .output: "ellipse"
        case .kvCache: "cylinder"
        case .sendRecv: "cds"
        case .allReduce, .allGather, .reduceScatter, .allToAll: "hexagon"
        default: "box"
        }
    }

    public static func title(_ kind: Operator.Kind) -> String {
        switch kind {
        case .boundary: "input / output / KV cache"
        case .matmul: "matmul (Get_Time(m, k, n))"
        case .normalization: "softmax / norm"
        case .elementwise: "elementwise (add, GELU)"
        case .layout: "concat / split"
        case .routing: "MoE routing (top-k, dispatch, combine)"
        case .communication: "communication (collective, send/recv)"
        }
    }
}
