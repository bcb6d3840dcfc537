/// Files of the repository the tests run from, found from this file's own path.
public enum Checkout {
    /// The repository's root folder.
    public static let root: String = {
        let path = #filePath
        return String(path[..<path.firstRange(of: "/Sources/")!.lowerBound])
    }()

    /// The knowledge file that ships with ScanTap.
    public static let shippedKnowledge = root + "/knowledge/research-scanners.tsv"
}
