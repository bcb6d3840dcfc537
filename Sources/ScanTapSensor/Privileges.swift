#if canImport(Glibc)
    import Glibc
#endif

/// Gives up root after the capture handles are open, as tcpdump's `-Z` does: supplementary
/// groups, then the group, then the user — in that order, because once the uid is dropped the
/// process may no longer change its groups. Each step is checked, and so is the result.
func dropPrivileges(to user: String) throws(SensorError) {
    guard let entry = getpwnam(user) else { throw SensorError.runtime("-Z \(user): no such user") }
    let uid = entry.pointee.pw_uid
    let gid = entry.pointee.pw_gid
    func check(_ status: Int32, _ call: String) throws(SensorError) {
        guard status == 0 else {
            throw SensorError.runtime("-Z \(user): \(call) failed: \(String(cString: strerror(errno)))")
        }
    }
    try check(initgroups(user, gid), "initgroups")
    try check(setgid(gid), "setgid(\(gid))")
    try check(setuid(uid), "setuid(\(uid))")
    if uid != 0 && setuid(0) == 0 {
        throw SensorError.runtime("-Z \(user): privileges could be regained after dropping them")
    }
}
