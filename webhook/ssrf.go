package webhook

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// ErrForbiddenAddress is returned when a delivery would connect to, or an endpoint URL
// names, an internal address (see ForbiddenAddr). Dial errors wrap it, so
// errors.Is(result.Err, ErrForbiddenAddress) holds for a refused delivery.
var ErrForbiddenAddress = errors.New("webhook: forbidden destination address")

// forbiddenPrefixes are the ranges no webhook may reach: this host, private networks,
// link-local (which holds the cloud metadata services 169.254.169.254 and
// fd00:ec2::254), carrier-grade NAT (Alibaba's metadata 100.100.100.200), multicast,
// and reserved, documentation and benchmarking ranges that have no business on the
// public internet.
var forbiddenPrefixes = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		// IPv4
		"0.0.0.0/8",       // "this network", unspecified
		"10.0.0.0/8",      // RFC 1918
		"100.64.0.0/10",   // carrier-grade NAT, RFC 6598
		"127.0.0.0/8",     // loopback
		"169.254.0.0/16",  // link-local, cloud metadata
		"172.16.0.0/12",   // RFC 1918
		"192.0.0.0/24",    // IETF protocol assignments (incl. Oracle's metadata 192.0.0.192)
		"192.0.2.0/24",    // TEST-NET-1
		"192.88.99.0/24",  // 6to4 relay anycast (deprecated)
		"192.168.0.0/16",  // RFC 1918
		"198.18.0.0/15",   // benchmarking
		"198.51.100.0/24", // TEST-NET-2
		"203.0.113.0/24",  // TEST-NET-3
		"224.0.0.0/4",     // multicast
		"240.0.0.0/4",     // reserved, and 255.255.255.255 broadcast
		// IPv6
		"::/96",          // unspecified, loopback and the deprecated IPv4-compatible form
		"100::/64",       // discard-only
		"2001::/32",      // Teredo: tunnels to arbitrary IPv4 addresses
		"2001:db8::/32",  // documentation
		"64:ff9b:1::/48", // local-use NAT64
		"fc00::/7",       // unique local (incl. AWS's metadata fd00:ec2::254)
		"fe80::/10",      // link-local
		"fec0::/10",      // site-local (deprecated)
		"ff00::/8",       // multicast
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

var (
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour   = netip.MustParsePrefix("2002::/16")
	siitPrefix  = netip.MustParsePrefix("::ffff:0:0:0/96")
)

// ForbiddenAddr reports whether a webhook must not be delivered to ip: loopback,
// unspecified, private (RFC 1918, unique local fc00::/7), link-local (169.254.0.0/16,
// fe80::/10, so the cloud metadata services), carrier-grade NAT (100.64.0.0/10),
// multicast, broadcast, reserved and documentation ranges. IPv6 forms that embed an
// IPv4 address (IPv4-mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16, SIIT)
// are judged by the address they embed. An invalid address is forbidden.
func ForbiddenAddr(ip netip.Addr) bool {
	if !ip.IsValid() {
		return true
	}
	ip = ip.WithZone("").Unmap()
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64Prefix.Contains(ip), siitPrefix.Contains(ip):
			return ForbiddenAddr(netip.AddrFrom4([4]byte(b[12:16])))
		case sixToFour.Contains(ip):
			return ForbiddenAddr(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	for _, p := range forbiddenPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// DialControl is a net.Dialer Control function that refuses, with an error wrapping
// ErrForbiddenAddress, to connect to a forbidden address (see ForbiddenAddr). It runs
// after name resolution and before the connect system call, for every address the
// dialer tries, so a host name that resolves (or is rebound) to an internal address is
// caught, and no packet is sent to it.
func DialControl(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable address %q", ErrForbiddenAddress, address)
	}
	if ForbiddenAddr(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, ap.Addr())
	}
	switch network {
	case "tcp", "tcp4", "tcp6":
		return nil
	}
	return fmt.Errorf("%w: network %q", ErrForbiddenAddress, network)
}

// DialerOptions configures NewDialer. A nil *DialerOptions means the defaults.
type DialerOptions struct {
	// AllowPrivate disables the guard (sandbox and tests, whose receivers listen on
	// loopback).
	AllowPrivate bool
	// Timeout bounds connection establishment; zero means 10 seconds.
	Timeout time.Duration
	// Resolver resolves host names; nil means net.DefaultResolver.
	Resolver *net.Resolver
}

// NewDialer returns a TCP dialer whose Control function is DialControl, unless
// AllowPrivate is set.
func NewDialer(opts *DialerOptions) *net.Dialer {
	var o DialerOptions
	if opts != nil {
		o = *opts
	}
	d := &net.Dialer{Timeout: o.Timeout, KeepAlive: 30 * time.Second, Resolver: o.Resolver}
	if d.Timeout <= 0 {
		d.Timeout = 10 * time.Second
	}
	if !o.AllowPrivate {
		d.Control = DialControl
	}
	return d
}
