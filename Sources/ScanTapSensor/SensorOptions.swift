public import PacketCapture
import ReverseDNS
public import ScanDetection
public import WireFormat

/// What `scantap` was asked to do, parsed from its arguments. Lives in a library so every form
/// is unit-tested; the executable only hands over `CommandLine.arguments`.
public struct SensorOptions: Sendable {
    public enum Mode: Sendable, Equatable {
        /// `scantap read FILE...`: savefiles as one continuous capture.
        case read(files: [String])
        /// `scantap live -i IFACE...`: one capture thread per interface.
        case live(interfaces: [String])
        /// `scantap classify ADDRESS...` or `scantap classify --episodes FILE|-`.
        case classify(addresses: [IPAddress], episodes: String?)
        /// `scantap dshield submit` (send what is spooled) or `scantap dshield status`.
        case dshield(DShieldAction)
        case help
        case version
    }

    /// What `scantap dshield` does.
    public enum DShieldAction: String, Sendable {
        case submit, status
    }

    public enum Format: String, Sendable {
        case table, json
    }

    public var mode: Mode = .help
    public var format = Format.table
    /// `--filter`: a file name in `bpf/` without `.bpf`, a path to a filter file, or an expression.
    /// Unset, `live` installs `bpf/default.bpf` in the kernel, where dropping established data
    /// saves copying it to user space; `read` runs no filter, because in user space a BPF
    /// program costs more per packet than the decoder's own look at the headers, and drops
    /// nothing the detector would count.
    public var filter: String? = nil
    public var detector = DetectorConfiguration()
    public var live = LiveCaptureOptions()
    /// `-Z USER`: drop to this user's uid, gid and groups once the capture handles are open.
    public var dropToUser: String? = nil
    /// What the shared classifier loads.
    public var classification = ClassificationOptions()
    /// DShield records: written to files by `read`, spooled by `read` and `live`, submitted on
    /// a schedule by `live`.
    public var dshield = DShieldOptions()

    /// `--home-net` and the DShield outputs.
    public struct DShieldOptions: Sendable, Equatable {
        /// `--home-net CIDR,...`: the network the sensor guards; records are inbound flows to it.
        public var homeNetwork: [IPPrefix] = []
        /// `--dshield-text FILE` / `--dshield-json FILE`: the records that would be submitted.
        public var textFile: String? = nil
        public var jsonFile: String? = nil
        /// `--dshield-policy failed|scans|all` (default `failed`, or the dshield.ini's).
        public var policy = "failed"
        public var policyGiven = false
        /// `--dshield-ipv6`: include IPv6 records.
        public var ipv6 = false
        /// `--dshield-userid N`: the DShield user id in the text format's subject and lines.
        public var userID = 0
        /// `--dshield-config FILE`: the official sensor's `dshield.ini`; `read` then also puts
        /// the records in the spool, and `dshield submit` sends them; `live` spools them and
        /// submits them itself.
        public var configFile: String? = nil
        /// `--spool DIR`: where records wait for submission.
        public var spool = "/var/spool/scantap"
        /// `--dshield-url URL`: overrides the submission URL (a test receiver, `devsubmitapi`).
        public var url: String? = nil
        /// `--submit-interval SECONDS` (live): time between scheduled submissions, each at the
        /// same random offset into its interval. 1800 by default: the official sensor submits
        /// twice an hour, at a random minute so that sensors do not all post at once. Shorter
        /// intervals are for tests and for watching a new installation.
        public var submitInterval = 1800
        /// `--dshield-exclude research`: leave out the records of sources the classifier labels
        /// research scanners. Off by default: DShield wants to see them too, and labels them
        /// itself; an operator who reports only hostile traffic turns it on.
        public var excludeResearch = false

        public var wanted: Bool { textFile != nil || jsonFile != nil || configFile != nil }
        public init() {}
    }

    /// The classifier's inputs, all local files: the sensor never needs the network to classify.
    public struct ClassificationOptions: Sendable, Equatable {
        /// `--no-classify`: report every episode `unknown`.
        public var enabled = true
        /// `--knowledge FILE`: knowledge files loaded after the shipped one.
        public var knowledgeFiles: [String] = []
        /// `--allow FILE` / `--deny FILE`: the operator's own lists.
        public var allowLists: [String] = []
        public var denyLists: [String] = []
        /// `--isc-feed FILE`: a saved copy of the ISC research feed (JSON, XML or tab).
        public var iscFeed: String? = nil
        /// `--asn-db FILE`: an IP-to-ASN database (iptoasn.com format); without it ASN rows are skipped.
        public var asnDatabase: String? = nil
        /// `--demote ORG` / `--drop ORG`.
        public var demoted: Set<String> = []
        public var dropped: Set<String> = []
        /// `--resolve`: look up each scanner's PTR name (forward-confirmed) as evidence. Off by
        /// default: live, a lookup can tip the scanner off that it was noticed.
        public var resolve = false
        /// `--resolver ADDR[:PORT]`: the DNS server to ask; the system's otherwise.
        public var resolver: String? = nil
        /// `--resolve-wait SECONDS` (read): at the end of the input, wait up to this long for
        /// lookups still in flight before the last episodes are labelled. 0 by default: reading
        /// a file never waits on DNS.
        public var resolveWait = 0

        public init() {}
    }

    public init() {}

    /// Parses `arguments` (without the program name).
    public init(parsing arguments: [String]) throws(UsageError) {
        var rest = arguments[...]
        guard let command = rest.popFirst() else {
            throw UsageError("missing command: read, live, classify or dshield (see --help)")
        }
        switch command {
        case "-h", "--help", "help":
            mode = .help
            return
        case "-V", "--version", "version":
            mode = .version
            return
        case "read", "live", "classify": break
        case "dshield":
            guard let word = rest.popFirst(), let action = DShieldAction(rawValue: word) else {
                throw UsageError("dshield needs submit or status (see --help)")
            }
            mode = .dshield(action)
        default: throw UsageError("unknown command '\(command)' (expected read, live, classify or dshield; see --help)")
        }
        var files: [String] = []
        var interfaces: [String] = []
        var episodes: String? = nil
        var timeoutGiven = false
        /// The first option that only means something with a dshield.ini, for live's check.
        var dshieldOnlyOption: String? = nil

        func value(_ option: String) throws(UsageError) -> String {
            guard let v = rest.popFirst() else { throw UsageError("option \(option) needs a value") }
            return v
        }
        func integer(_ option: String, _ range: ClosedRange<Int>) throws(UsageError) -> Int {
            let text = try value(option)
            guard let n = Int(text), range.contains(n) else {
                throw UsageError(
                    "option \(option): '\(text)' is not a number in \(range.lowerBound)...\(range.upperBound)")
            }
            return n
        }
        /// A comma-separated list of addresses and CIDR blocks.
        func prefixes(_ option: String) throws(UsageError) -> [IPPrefix] {
            var result: [IPPrefix] = []
            for item in try value(option).split(separator: ",") {
                guard let prefix = IPPrefix(item.trimmingSpaces) else {
                    throw UsageError("\(option): '\(item)' is not an address or CIDR block")
                }
                result.append(prefix)
            }
            return result
        }

        func liveOnly(_ option: String) throws(UsageError) {
            guard command == "live" else { throw UsageError("option \(option) applies to live capture only") }
        }

        while let argument = rest.popFirst() {
            // Accept both `--option value` and `--option=value`.
            if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
                rest.insert(String(argument[argument.index(after: equals)...]), at: rest.startIndex)
                rest.insert(String(argument[..<equals]), at: rest.startIndex)
                continue
            }
            // classify and dshield take few options: any other is a mistake to say, not to ignore.
            if argument.hasPrefix("-"), argument != "-", let allowed = Self.commandOptions[command],
                !allowed.contains(argument)
            {
                throw UsageError("option \(argument) does not apply to \(command) (see --help)")
            }
            switch argument {
            case "-h", "--help":
                mode = .help
                return
            case "--format":
                let text = try value(argument)
                guard let f = Format(rawValue: text) else {
                    throw UsageError("--format must be table or json, not '\(text)'")
                }
                format = f
            case "--filter":
                filter = try value(argument)
            case "--max-sources":
                detector.maxSources = try integer(argument, 16...(1 << 26))
            case "--ipv6-group":
                detector.ipv6GroupPrefixLength = try integer(argument, 16...128)
            case "--ignore":
                detector.ignoredSources += try prefixes(argument)
            case "--idle-gap":
                detector.idleGap = .seconds(try integer(argument, 1...(7 * 86_400)))
            case "--max-episode":
                detector.maxEpisodeLength = .seconds(try integer(argument, 1...(30 * 86_400)))
            case "-i", "--interface":
                try liveOnly(argument)
                interfaces.append(try value(argument))
            case "-Z", "--user":
                try liveOnly(argument)
                dropToUser = try value(argument)
            case "--snaplen":
                try liveOnly(argument)
                live.snapshotLength = Int32(try integer(argument, 68...262_144))
            case "--buffer-size":
                try liveOnly(argument)
                live.bufferSize = Int32(try integer(argument, 65_536...(1 << 30)))
            case "--timeout":
                try liveOnly(argument)
                live.timeoutMilliseconds = Int32(try integer(argument, 1...10_000))
                timeoutGiven = true
            case "--no-promiscuous":
                try liveOnly(argument)
                live.promiscuous = false
            case "--episodes" where command == "classify":
                episodes = try value(argument)
            case "--home-net":
                let home = try prefixes(argument)
                dshield.homeNetwork += home
                detector.homeNetwork += home
            case "--dshield-text" where command == "read":
                dshield.textFile = try value(argument)
            case "--dshield-json" where command == "read":
                dshield.jsonFile = try value(argument)
            case "--dshield-text" where command == "live", "--dshield-json" where command == "live":
                // A file written as records are decided would be a torn document after a kill;
                // the spool is live's durable record, and `dshield status` shows it.
                throw UsageError("\(argument) applies to read only; live spools the records (--dshield-config FILE)")
            case "--dshield-policy":
                let policy = try value(argument)
                guard ["failed", "scans", "all"].contains(policy) else {
                    throw UsageError("--dshield-policy must be failed, scans or all, not '\(policy)'")
                }
                dshield.policy = policy
                dshield.policyGiven = true
                dshieldOnlyOption = dshieldOnlyOption ?? argument
            case "--dshield-config":
                dshield.configFile = try value(argument)
            case "--spool":
                dshield.spool = try value(argument)
                dshieldOnlyOption = dshieldOnlyOption ?? argument
            case "--dshield-url":
                dshield.url = try value(argument)
                dshieldOnlyOption = dshieldOnlyOption ?? argument
            case "--submit-interval":
                try liveOnly(argument)
                dshield.submitInterval = try integer(argument, 1...86_400)
                dshieldOnlyOption = dshieldOnlyOption ?? argument
            case "--dshield-ipv6":
                dshield.ipv6 = true
                dshieldOnlyOption = dshieldOnlyOption ?? argument
            case "--dshield-exclude":
                let what = try value(argument)
                guard what == "research" else { throw UsageError("--dshield-exclude takes 'research', not '\(what)'") }
                dshield.excludeResearch = true
                dshieldOnlyOption = dshieldOnlyOption ?? argument
            case "--dshield-userid":
                dshield.userID = try integer(argument, 0...Int(Int32.max))
                dshieldOnlyOption = dshieldOnlyOption ?? argument
            case "--resolve":
                classification.resolve = true
            case "--resolver":
                let server = try value(argument)
                guard DNSServer(server) != nil else {
                    throw UsageError("--resolver: '\(server)' is not ADDR[:PORT] or [IPv6]:PORT")
                }
                classification.resolver = server
            case "--resolve-wait" where command == "read":
                classification.resolveWait = try integer(argument, 0...600)
            case "--no-classify":
                classification.enabled = false
            case "--knowledge":
                classification.knowledgeFiles.append(try value(argument))
            case "--allow":
                classification.allowLists.append(try value(argument))
            case "--deny":
                classification.denyLists.append(try value(argument))
            case "--isc-feed":
                classification.iscFeed = try value(argument)
            case "--asn-db":
                classification.asnDatabase = try value(argument)
            case "--demote":
                classification.demoted.insert(try value(argument))
            case "--drop":
                classification.dropped.insert(try value(argument))
            case "--":
                files.append(contentsOf: rest)
                rest.removeAll()
            default:
                if argument.hasPrefix("-") && argument != "-" {
                    throw UsageError("unknown option '\(argument)' for \(command) (see --help)")
                }
                guard command != "live" else {
                    throw UsageError("unexpected argument '\(argument)': live takes interfaces with -i")
                }
                files.append(argument)
            }
        }
        // A batch timeout asks for batching: immediate mode would ignore it.
        if timeoutGiven { live.immediate = false }
        // dshield.ini may name the home network (honeypotip): checked once it is read.
        if dshield.wanted && dshield.homeNetwork.isEmpty && dshield.configFile == nil {
            throw UsageError("DShield output needs --home-net CIDR,...: the network whose inbound flows are reported")
        }
        if case .dshield(let action) = mode {
            guard files.isEmpty else {
                throw UsageError("unexpected argument '\(files[0])' for dshield \(action.rawValue)")
            }
            if action == .submit && dshield.configFile == nil {
                throw UsageError("dshield submit needs --dshield-config FILE (the user id and API key)")
            }
            return
        }
        if command == "classify" {
            guard episodes != nil || !files.isEmpty else {
                throw UsageError("classify needs addresses, or --episodes FILE|-")
            }
            var addresses: [IPAddress] = []
            for text in files {
                guard let address = IPAddress(text) else {
                    throw UsageError("classify: '\(text)' is not an IP address")
                }
                addresses.append(address)
            }
            mode = .classify(addresses: addresses, episodes: episodes)
        } else if dshield.excludeResearch && !classification.enabled {
            throw UsageError("--dshield-exclude research needs the classifier: drop --no-classify")
        } else if classification.resolve && !classification.enabled {
            throw UsageError("--resolve feeds the classifier: drop --no-classify")
        } else if !classification.resolve && (classification.resolver != nil || classification.resolveWait > 0) {
            throw UsageError("--resolver and --resolve-wait need --resolve")
        } else if command == "read" {
            guard !files.isEmpty else { throw UsageError("read needs at least one capture file (or - for stdin)") }
            mode = .read(files: files)
        } else {
            guard !interfaces.isEmpty else { throw UsageError("live needs at least one -i INTERFACE") }
            if let option = dshieldOnlyOption, dshield.configFile == nil {
                throw UsageError(
                    "\(option) needs --dshield-config FILE: live reports to DShield through the spool only")
            }
            mode = .live(interfaces: interfaces)
        }
    }

    /// The options `classify` and `dshield` accept; `read` and `live` check theirs case by case.
    static let commandOptions: [String: Set<String>] = [
        "classify": [
            "-h", "--help", "--episodes", "--resolve", "--resolver", "--knowledge", "--allow", "--deny", "--isc-feed",
            "--asn-db", "--demote", "--drop", "--",
        ],
        "dshield": ["-h", "--help", "--dshield-config", "--spool", "--dshield-url", "--"],
    ]

    public static let usage = """
        usage: scantap read [options] FILE...        analyse pcap/pcapng files (- reads stdin)
               scantap live -i IFACE [-i IFACE...] [options] [live options]
               scantap classify [classification options] ADDRESS...
               scantap classify [classification options] --episodes FILE|-   label another sensor's scan lines
               scantap --help | --version

        options:
          --format table|json     output for people (default) or one JSON object per line
          --filter NAME|FILE|EXPR BPF filter: bpf/NAME.bpf, a filter file, or an expression
                                  (default: none for read, bpf/default.bpf for live)
          --max-sources N         sources tracked at once, memory fixed at start (default 65536,
                                  392 bytes each)
          --ipv6-group LEN        key IPv6 sources by this prefix length (default 128)
          --ignore CIDR,...       never track these sources (your own scanners)
          --idle-gap SECONDS      close an episode after this long without probes (default 900)
          --max-episode SECONDS   report and restart an episode after this long (default 3600)
        classification (research scanner, malicious or unknown; local files only):
          --knowledge FILE        more knowledge rows, after the shipped knowledge/research-scanners.tsv
          --allow FILE, --deny FILE   your own lists of addresses and CIDR blocks
          --isc-feed FILE         a saved copy of https://isc.sans.edu/api/threatcategory/research
          --asn-db FILE           an IP-to-ASN database (iptoasn.com TSV) to apply ASN rows
          --demote ORG, --drop ORG    treat an organisation as unknown, or forget it
          --no-classify           report every episode as unknown
          --resolve               use forward-confirmed PTR names as evidence (asynchronous; off by
                                  default because lookups can tip a scanner off)
          --resolver ADDR[:PORT]  the DNS server for --resolve (default: the system's)
          --resolve-wait SECONDS  read: at the end, wait this long for lookups in flight (default 0)
        DShield:
          --home-net CIDR,...     the network you guard: records are unsolicited inbound flows to it
                                  (else honeypotip in the dshield.ini; live: else the capture
                                  interfaces' own addresses)
          --dshield-text FILE     read: write the classic tab-separated DShield records to FILE
          --dshield-json FILE     read: write the submitapi JSON body (without authheader) to FILE
          --dshield-policy P      failed (default: never answered positively), scans or all
          --dshield-ipv6          include IPv6 records
          --dshield-exclude research   leave out sources the classifier labels research scanners
          --dshield-userid N      your DShield user id in text records (default 0)
          --dshield-config FILE   the official sensor's dshield.ini: spool the records (live also
                                  submits them on its schedule)
          --spool DIR             where records wait for submission (default /var/spool/scantap)
          --dshield-url URL       submit there instead of DShield (a test receiver, devsubmitapi)
          --submit-interval SECONDS   live: submit every SECONDS at a random offset (default 1800)
        scantap dshield submit --dshield-config FILE [--spool DIR] [--dshield-url URL]
        scantap dshield status [--spool DIR]
        live options:
          -i IFACE                capture on IFACE; repeat for each direction of a tap
          -Z USER                 drop privileges to USER after opening the interfaces
          --snaplen BYTES         bytes captured per packet (default 192)
          --buffer-size BYTES     kernel capture buffer (default: libpcap's)
          --timeout MS            batch packets up to MS milliseconds (default: immediate mode)
          --no-promiscuous        do not put the interfaces in promiscuous mode

        exit status: 0 success, 1 runtime error, 2 usage error
        """
}

/// A mistake in the command line: exit status 2.
public struct UsageError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
}
