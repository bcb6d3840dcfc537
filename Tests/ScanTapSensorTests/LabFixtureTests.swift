import Foundation
import Testing

/// The lab scenarios recorded by `lab/make-fixtures.sh` (real nmap, masscan, zmap, hping3,
/// benign traffic and crafted backscatter in the namespace lab), each with its truth file.
@Suite struct LabFixtureTests {
    static let directory = "\(Scantap.root)/Tests/Fixtures/lab"

    static let fixtures = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
        .filter { $0.hasSuffix(".pcap") }.sorted()

    @Test func theLabRecordsAllItsScenarios() {
        #expect(Self.fixtures.count >= 19)
    }

    @Test(arguments: fixtures)
    func everyScannerIsFoundWithItsTechniqueAndNoInnocentIsAccused(fixture: String) throws {
        let truth =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: "\(Self.directory)/\(fixture.dropLast(5)).truth.json")))
            as? [String: Any]
        let scanners = (truth?["scanners"] as? [[String: Any]]) ?? []
        let result = try Scantap.run(["read", "--format", "json", "\(Self.directory)/\(fixture)"])
        #expect(result.status == 0, "\(result.stderr)")
        let reported = Dictionary(
            result.events("scan").map { ($0["src"] as? String ?? "", $0["technique"] as? String ?? "") },
            uniquingKeysWith: { first, _ in first })
        let expected = Set(scanners.compactMap { $0["src"] as? String })
        // Nobody outside the truth's scanners is ever reported.
        #expect(Set(reported.keys).subtracting(expected).isEmpty, "\(fixture): \(reported)")
        for scanner in scanners {
            let src = scanner["src"] as? String ?? ""
            #expect(reported[src] != nil, "\(fixture): \(src) not found")
            if let technique = scanner["technique"] as? String, let got = reported[src] {
                #expect(got == technique, "\(fixture): \(src) reported \(got), truth \(technique)")
            }
        }
    }
}
