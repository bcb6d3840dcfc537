import ScannerClassification

#if canImport(Glibc)
    import Glibc
#endif

/// Where the files that ship with ScanTap (`bpf/`, `knowledge/`) are found at run time.
///
/// In order: the folder an environment variable names; a folder of that name beside the
/// executable or in one of its four nearest ancestors (so `.build/release/scantap` finds the
/// checkout's); `/usr/local/share/scantap/NAME`; `/usr/share/scantap/NAME`.
enum DataFiles {
    static func directories(named name: String, override variable: String) -> [String] {
        var directories: [String] = []
        if let custom = getenv(variable) { directories.append(String(cString: custom)) }
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if length > 0 {
            var directory = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            for _ in 0..<5 {
                guard let slash = directory.lastIndex(of: "/"), slash != directory.startIndex else { break }
                directory = String(directory[..<slash])
                directories.append(directory + "/" + name)
            }
        }
        directories += ["/usr/local/share/scantap/" + name, "/usr/share/scantap/" + name]
        return directories
    }

    /// The first of `directories` holding `file`, as a path.
    static func find(_ file: String, in directories: [String]) -> String? {
        directories.map { $0 + "/" + file }.first { access($0, R_OK) == 0 }
    }

    /// The contents of a regular file, or nil if it cannot be read.
    static func read(_ path: String) -> String? { try? TextFile.read(path) }
}
