import PacketCapture

/// Why a run failed, and the exit status that says so.
public enum SensorError: Error, CustomStringConvertible, Sendable {
    /// The user asked for something impossible (bad filter expression): exit 2.
    case usage(String)
    /// The input or the system failed (missing file, corrupt capture, interface down): exit 1.
    case runtime(String)

    init(_ error: CaptureError) {
        switch error.kind {
        case .filterSyntax: self = .usage("invalid filter: \(error.message)")
        default: self = .runtime(error.description)
        }
    }

    public var description: String {
        switch self {
        case .usage(let message), .runtime(let message): message
        }
    }

    public var exitStatus: Int32 {
        switch self {
        case .usage: 2
        case .runtime: 1
        }
    }
}
