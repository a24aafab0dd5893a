package net

// Checks of the peer's address made once at start, before anything is
// bound or dialled.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	stdnet "net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrNoSuchHost: the resolver answered that the peer's host name does not
// exist (a typo, a usage error), as opposed to a failure to ask it (no
// network, a timeout), which may pass.
var ErrNoSuchHost = errors.New("no such host (the name does not resolve)")

// ResolveTimeout bounds the look-up of the peer's host at start.
const ResolveTimeout = 15 * time.Second

// ResolveHost returns the addresses of host: an IP literal as it is,
// else the resolver's answer, which must not be empty. A name the resolver
// says does not exist is ErrNoSuchHost.
func ResolveHost(host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), ResolveTimeout)
	defer cancel()
	addrs, err := stdnet.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		var dnsErr *stdnet.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return nil, ErrNoSuchHost
		}
		return nil, fmt.Errorf("cannot resolve the name: %v", err)
	}
	if len(addrs) == 0 {
		return nil, errors.New("cannot resolve the name: no address")
	}
	for i := range addrs {
		addrs[i] = addrs[i].Unmap()
	}
	return addrs, nil
}

// TalksToItself reports whether connecting to one of ips on our own --main
// port could reach our own socket: a loopback address, our --bind
// address, or, with an unspecified --bind (0.0.0.0, ::), any address of
// this machine.
func TalksToItself(bind string, ips []netip.Addr) bool {
	b, _ := netip.ParseAddr(strings.Trim(bind, "[]"))
	b = b.Unmap()
	var local map[netip.Addr]bool
	if b.IsUnspecified() {
		local = map[netip.Addr]bool{}
		if addrs, err := stdnet.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if p, err := netip.ParsePrefix(a.String()); err == nil {
					local[p.Addr().Unmap()] = true
				}
			}
		}
	}
	for _, ip := range ips {
		if ip.IsLoopback() || ip.IsUnspecified() || ip == b || local[ip] {
			return true
		}
	}
	return false
}

// FreeLoopbackPorts returns n distinct ports that were free on 127.0.0.1 a
// moment ago, for a demo, a benchmark or a test on this machine. Another
// program may take one before it is bound: the bind then fails with a clear
// error.
//
// Where the system says which ports it hands out as the local end of
// outgoing connections (Linux: ip_local_port_range), the ports are chosen
// below that range, so no outgoing connection on the machine can be given
// one in the moment before it is bound, and a DEALER dialling a port that
// is not bound yet cannot connect to itself (TCP simultaneous open, which
// happens when the kernel picks the dialled port as the source). Elsewhere
// the kernel picks them, as before.
func FreeLoopbackPorts(n int) ([]int, error) {
	if lo, ok := ephemeralStart(); ok && lo-belowEphemeral >= 4*n {
		if ports, err := freeBelow(n, lo); err == nil {
			return ports, nil
		}
	}
	return freeFromKernel(n)
}

// belowEphemeral is how far under the ephemeral range FreeLoopbackPorts
// looks: [start-belowEphemeral, start).
const belowEphemeral = 12000

// ephemeralStart reads the first port of Linux's ephemeral range.
func ephemeralStart() (int, bool) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, false
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil || lo <= 1024+belowEphemeral || lo > 65535 {
		return 0, false
	}
	return lo, true
}

// freeBelow picks n distinct ports at random in [lo-belowEphemeral, lo) that
// can be bound on 127.0.0.1 now; it gives up after a bounded number of tries.
func freeBelow(n, lo int) ([]int, error) {
	var ls []stdnet.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries >= 64*n {
			return nil, errors.New("net: no free port below the ephemeral range")
		}
		p := lo - 1 - rand.IntN(belowEphemeral)
		l, err := stdnet.Listen("tcp", stdnet.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		ls = append(ls, l)
		ports = append(ports, p)
	}
	return ports, nil
}

// freeFromKernel asks the kernel for n ports.
func freeFromKernel(n int) ([]int, error) {
	var ls []stdnet.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := stdnet.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("net: a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*stdnet.TCPAddr).Port)
	}
	return ports, nil
}
