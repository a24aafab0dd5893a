package net

import (
	"errors"
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
