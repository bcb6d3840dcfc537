#if canImport(Glibc)
    import Glibc
#endif

/// Reading the line-oriented files ScanTap loads (knowledge base, lists, feeds, filter files).
public enum TextFile {
    /// The whole of a regular file as UTF-8 text; malformed bytes become U+FFFD and then fail
    /// row checks.
    ///
    /// - Throws: `KnowledgeFileError` (line 0) with the system's reason.
    public static func read(_ path: String) throws(KnowledgeFileError) -> String {
        func failure(_ reason: String) -> KnowledgeFileError {
            KnowledgeFileError(file: path, line: 0, message: "cannot read: \(reason)")
        }
        var info = stat()
        guard stat(path, &info) == 0 else { throw failure(String(cString: strerror(errno))) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw failure("not a regular file") }
        guard let file = fopen(path, "r") else { throw failure(String(cString: strerror(errno))) }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            if n > 0 { bytes += chunk[0..<n] }
            if n < chunk.count {
                if ferror(file) != 0 { throw failure(String(cString: strerror(errno))) }
                break
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Numbered (1-based) lines that carry data: blank lines and `#` comments are skipped, and a
    /// trailing carriage return (a file saved on Windows) is dropped.
    static func lines(_ text: String) -> [(number: Int, text: Substring)] {
        var result: [(Int, Substring)] = []
        // Split on scalars: as Characters, "\r\n" is one grapheme and would not split at "\n".
        for (index, scalars) in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false)
            .enumerated()
        {
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
