public import WireFormat

/// An operator's own list of address blocks: an allow list (sources the operator vouches for,
/// such as a contracted scanning vendor) or a deny list (sources the operator holds malicious).
///
/// One block per line, `ADDRESS` or `ADDRESS/LENGTH` in strict network form, optionally followed
/// by whitespace and a label (the organisation an allow-list entry is reported as). `#` starts a
/// comment line.
public struct AddressList: Sendable {
    public struct Entry: Sendable {
        public let prefix: IPPrefix
        public let label: String?
        public let file: String
        public let line: Int
    }

    public let entries: [Entry]

    public init(entries: [Entry]) {
        self.entries = entries
    }

    /// Reads a list file.
    ///
    /// - Throws: `KnowledgeFileError` naming the file and line of the first bad entry.
    public static func load(path: String) throws(KnowledgeFileError) -> AddressList {
        try parse(try TextFile.read(path), file: path)
    }

    public static func parse(_ text: String, file: String) throws(KnowledgeFileError) -> AddressList {
        var entries: [Entry] = []
        for (number, line) in TextFile.lines(text) {
            let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
            let block = trimmed.prefix(while: { $0 != " " && $0 != "\t" })
            let label = trimmed.dropFirst(block.count).trimmingBlanks()
            do {
                let prefix = try strictPrefix(block)
                entries.append(
                    Entry(prefix: prefix, label: label.isEmpty ? nil : String(label), file: file, line: number))
            } catch {
                throw KnowledgeFileError(file: file, line: number, message: error.message)
            }
        }
        return AddressList(entries: entries)
    }

    struct PrefixError: Error {
        let message: String
    }

    /// Parses a block and refuses host bits after the prefix length: `89.248.167.131/24` is
    /// far more likely a single address widened by mistake than a /24 meant on purpose, and
    /// silently masking it would attribute 255 neighbours (the reference's pitfall 4).
    static func strictPrefix(_ text: some StringProtocol) throws(PrefixError) -> IPPrefix {
        let address = text.split(separator: "/", maxSplits: 1).first.map { IPAddress($0) } ?? nil
        guard let prefix = IPPrefix(text), let address else {
            throw PrefixError(message: "not an address or address block: \"\(text)\"")
        }
        guard prefix.network == address else {
            throw PrefixError(message: "\(text) has host bits set; the block would be \(prefix)")
        }
        return prefix
    }
}
