// libpcap as PacketCapture sees it. Nothing but the public header: the Swift wrapper
// re-declares the few constants it needs, so no macro shims are required.
#include <pcap/pcap.h>
