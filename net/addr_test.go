package net

import (
	"errors"
	stdnet "net"
	"strconv"
	"testing"
)

// TestTalksToItself: which peer addresses count as this machine
// when --main equals --sub.
func TestTalksToItself(t *testing.T) {
	for _, c := range []struct {
		bind, host string
		self       bool
	}{
		{"127.0.0.1", "127.0.0.1", true},
		{"127.0.0.1", "127.0.0.2", true},
		{"127.0.0.1", "::1", true},
		{"127.0.0.1", "localhost", true},
		{"127.0.0.1", "0.0.0.0", true},
		{"192.0.2.7", "192.0.2.7", true},
		{"127.0.0.1", "192.0.2.7", false},
		{"127.0.0.1", "2001:db8::1", false},
		{"::", "127.0.0.1", true},
	} {
		ips, err := ResolveHost(c.host)
		if err != nil {
			t.Fatalf("resolve %s: %v", c.host, err)
		}
		if got := TalksToItself(c.bind, ips); got != c.self {
			t.Errorf("TalksToItself(bind %s, peer %s %v) = %v, want %v", c.bind, c.host, ips, got, c.self)
		}
	}
	if _, err := ResolveHost("no-such-host.invalid"); !errors.Is(err, ErrNoSuchHost) {
		t.Errorf("no-such-host.invalid: %v, want ErrNoSuchHost", err)
	}
}

// TestFreeLoopbackPortsBelowEphemeral: the ports are distinct, can be bound
// at once, and on Linux lie below the range the kernel hands out as the
// source port of outgoing connections (so none can be taken by one, nor be
// dialled into a self-connection, before duet binds it).
func TestFreeLoopbackPortsBelowEphemeral(t *testing.T) {
	ports, err := FreeLoopbackPorts(8)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	lo, linux := ephemeralStart()
	for _, p := range ports {
		if seen[p] {
			t.Fatalf("port %d returned twice in %v", p, ports)
		}
		seen[p] = true
		if linux && (p >= lo || p < lo-belowEphemeral) {
			t.Errorf("port %d outside [%d, %d)", p, lo-belowEphemeral, lo)
		}
		l, err := stdnet.Listen("tcp", stdnet.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("port %d cannot be bound: %v", p, err)
		}
		l.Close()
	}
	if !linux {
		t.Log("no ip_local_port_range here: the kernel chose the ports")
	}
}
