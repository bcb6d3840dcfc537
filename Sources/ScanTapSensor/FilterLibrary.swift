/// Finds the BPF filter text for `--filter NAME|FILE|EXPR`.
///
/// A NAME is looked up as `NAME.bpf` in `$SCANTAP_BPF_DIR`, then the installed `bpf/` folders
/// (`DataFiles`). An argument that names an existing file is read as a filter file. Anything
/// else is a filter expression.
public enum FilterLibrary {
    /// The compiled-in name of the filter used when `--filter` is not given.
    public static let defaultName = "default"

    /// A filter as the user chose it, before it is compiled for a link type.
    public struct Filter: Sendable, Equatable {
        /// The expression from the file (comments stripped) or the command line.
        public let expression: String
        /// Whether it came from a filter file. Files are written link-agnostic (no `vlan`
        /// keyword); the sensor extends them to tagged frames where the link type has tags.
        public let fromFile: Bool

        public init(expression: String, fromFile: Bool) {
            self.expression = expression
            self.fromFile = fromFile
        }

        /// The expression to compile for a libpcap data-link type. On Ethernet a filter file
        /// also matches 802.1Q/802.1ad-tagged and QinQ frames: libpcap's `vlan` shifts every
        /// later offset by one tag, so the file's expression is repeated after one and two tags.
        /// Expressions typed on the command line are compiled as given, as tcpdump does.
        public func expression(forDataLinkType dataLinkType: Int32) -> String {
            guard fromFile, dataLinkType == 1 else { return expression }
            let f = "(\(expression))"
            return "\(f) or (vlan and (\(f) or (vlan and \(f))))"
        }
    }

    /// The filter for a `--filter` argument.
    public static func filter(for specification: String) throws(SensorError) -> Filter {
        if isName(specification) {
            let directories = DataFiles.directories(named: "bpf", override: "SCANTAP_BPF_DIR")
            for directory in directories {
                let path = directory + "/" + specification + ".bpf"
                if let text = DataFiles.read(path) { return Filter(expression: stripComments(text), fromFile: true) }
            }
            if specification == defaultName {
                throw SensorError.runtime(
                    "cannot find the default filter default.bpf (looked in \(directories.joined(separator: ", "))); "
                        + "set SCANTAP_BPF_DIR or pass --filter EXPR")
            }
        }
        if let text = DataFiles.read(specification) { return Filter(expression: stripComments(text), fromFile: true) }
        return Filter(expression: specification, fromFile: false)
    }

    /// Filter files: `#` starts a comment line; the remaining lines are joined with spaces.
    public static func stripComments(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: true)
            .filter { line in line.first(where: { $0 != " " && $0 != "\t" }).map { $0 != "#" } ?? false }
            .joined(separator: " ")
    }

    static func isName(_ text: String) -> Bool {
        !text.isEmpty
            && text.utf8.allSatisfy {
                ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z"))
                    || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
                    || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_")
            }
    }
}
