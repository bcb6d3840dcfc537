// c-ares as ReverseDNS sees it: the resolver API and its reply parsers. Nothing but the public
// header: the Swift wrapper declares the three DNS record types it asks for itself, so the
// nameser.h macros are not needed.
#include <ares.h>
