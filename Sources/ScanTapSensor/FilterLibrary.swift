#if canImport(Glibc)
import Glibc
#endif

/// Finds the BPF filter text for `--filter NAME|FILE|EXPR`.
///
/// A NAME is looked up as `NAME.bpf` in, in order: `$SCANTAP_BPF_DIR`; a `bpf/` folder beside
/// the executable or in one of its four nearest ancestors (so `.build/release/scantap` finds the
/// checkout's `bpf/`); `/usr/local/share/scantap/bpf`; `/usr/share/scantap/bpf`. An argument that
/// names an existing file is read as a filter file. Anything else is a filter expression.
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
            for directory in searchDirectories() {
                let path = directory + "/" + specification + ".bpf"
                if let text = readFile(path) { return Filter(expression: stripComments(text), fromFile: true) }
            }
            if specification == defaultName {
                throw SensorError.runtime(
                    "cannot find the default filter default.bpf (looked in \(searchDirectories().joined(separator: ", "))); "
                        + "set SCANTAP_BPF_DIR or pass --filter EXPR")
            }
        }
        if let text = readFile(specification) { return Filter(expression: stripComments(text), fromFile: true) }
        return Filter(expression: specification, fromFile: false)
    }

    /// Filter files: `#` starts a comment line; the remaining lines are joined with spaces.
    public static func stripComments(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: true)
            .filter { line in line.first(where: { $0 != " " && $0 != "\t" }).map { $0 != "#" } ?? false }
            .joined(separator: " ")
    }

    static func isName(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy {
            ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
                || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_")
        }
    }

    static func searchDirectories() -> [String] {
        var directories: [String] = []
        if let custom = getenv("SCANTAP_BPF_DIR") { directories.append(String(cString: custom)) }
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if length > 0 {
            var directory = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            for _ in 0..<5 {
                guard let slash = directory.lastIndex(of: "/"), slash != directory.startIndex else { break }
                directory = String(directory[..<slash])
                directories.append(directory + "/bpf")
            }
        }
        directories += ["/usr/local/share/scantap/bpf", "/usr/share/scantap/bpf"]
        return directories
    }

    /// The contents of a regular file, or nil if it cannot be read.
    static func readFile(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
