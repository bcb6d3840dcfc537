import FoundationEssentials

/// Reading the line-oriented files the classifier loads (knowledge base, lists, feeds).
enum TextFile {
    /// The whole file as UTF-8 text; malformed bytes become U+FFFD and then fail row checks.
    static func read(_ path: String) throws(KnowledgeFileError) -> String {
        do {
            return String(decoding: try Data(contentsOf: URL(filePath: path)), as: UTF8.self)
        } catch {
            throw KnowledgeFileError(file: path, line: 0, message: "cannot read: \(error)")
        }
    }

    /// Numbered (1-based) lines that carry data: blank lines and `#` comments are skipped, and a
    /// trailing carriage return (a file saved on Windows) is dropped.
    static func lines(_ text: String) -> [(number: Int, text: Substring)] {
        var result: [(Int, Substring)] = []
        // Split on scalars: as Characters, "\r\n" is one grapheme and would not split at "\n".
        for (index, scalars) in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let raw = Substring(scalars)
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) || line.hasPrefix("#") { continue }
            result.append((index + 1, line))
        }
        return result
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs.
    func trimmingBlanks() -> Substring {
        var s = self
        while let c = s.first, c == " " || c == "\t" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" { s.removeLast() }
        return s
    }
}
