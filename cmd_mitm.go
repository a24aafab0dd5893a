package main

// duet mitm: flags, two transports and the attack relay between them.

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"duet/crypto"
	"duet/net"
	"duet/protocol"
	"duet/protocol/mitm"
	"duet/ui"
)

const mitmUsage = `usage: duet mitm --a-main PORT --a-sub PORT --b-main PORT --b-sub PORT [--peer-host HOST] [--bind ADDR] [--window DURATION] [--headless] [--all]

A man in the middle between two duet peers, for seeing attacks refused. It
listens on --a-sub (where A sends: A's --sub) and --b-sub (where B sends),
and passes each message on to the other peer's --main port, unchanged until
told otherwise on stdin:
  replay a    send the last CHAT record A sent again      B refuses it: replay
  tamper a    flip one bit of A's next CHAT record         B refuses it: tampered
  reorder a   send A's next CHAT record after the next     B refuses it: reorder
  drop a      drop A's next CHAT record                    B reports a gap
  keysub a    put the MITM's own key in A's PUBLIC_KEYs    the next handshake fails: bad-signature
  stale a     hold A's next CHAT record and all A sends    B refuses those older than the
              after it for the window plus 1 s, then       window: stale
              release them in order
  reflect a   send A's next record back to A as well      A refuses it: reflected
  impersonate a  (both ways) answer each peer as the other, with the MITM's own key,
              reading and passing on what they say         a peer that knows the other's key
                                                           refuses it: key-changed
  pass a      A's messages pass unchanged again (and impersonation stops)
(b: the same on what B sends.) A message that was kept from its receiver is
resent by its sender and shown once. It holds no key of the peers; it reads
messages only when a peer accepts it as the other (impersonate on a first
contact: the peers' safety numbers then differ, which /verify shows).

  --window DURATION  the peers' timestamp window (their --window; default 30s): stale holds for it plus 1 s
  --headless  JSON lines instead of text; --all  also show relayed pings and pongs

Example, three terminals:
  duet mitm --a-main 5555 --a-sub 6556 --b-main 5556 --b-sub 6555
  duet --main 5555 --sub 6556 --identity alice.pem
  duet --main 5556 --sub 6555 --identity bob.pem
`

// runMITM is duet mitm: two transports (one facing each peer), a
// mitm.Relay between them, commands from stdin.
func runMITM(args []string, stdin io.Reader, stdout, stderr io.Writer, usageErr func(string, ...any) int) int {
	fs := flag.NewFlagSet("duet mitm", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	aMain := fs.Int("a-main", 0, "")
	aSub := fs.Int("a-sub", 0, "")
	bMain := fs.Int("b-main", 0, "")
	bSub := fs.Int("b-sub", 0, "")
	peerHost := fs.String("peer-host", "127.0.0.1", "")
	bind := fs.String("bind", "127.0.0.1", "")
	headless := fs.Bool("headless", false, "")
	all := fs.Bool("all", false, "")
	window := fs.Duration("window", protocol.DefaultWindow, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, mitmUsage)
			return exitOK
		}
		return usageErr("mitm: %v", err)
	}
	if fs.NArg() > 0 {
		return usageErr("mitm: unexpected argument %q", fs.Arg(0))
	}
	if *window < minWindow || *window > maxWindow {
		return usageErr("mitm: --window %v: must be between %v and %v", *window, minWindow, maxWindow)
	}
	ports := map[string]int{"--a-main": *aMain, "--a-sub": *aSub, "--b-main": *bMain, "--b-sub": *bSub}
	seen := map[int]string{}
	for _, name := range []string{"--a-main", "--a-sub", "--b-main", "--b-sub"} {
		p := ports[name]
		if p < 1 || p > 65535 {
			return usageErr("mitm: %s PORT is required (1-65535)", name)
		}
		if other, dup := seen[p]; dup {
			return usageErr("mitm: %s and %s are both %d: the four ports must differ", other, name, p)
		}
		seen[p] = name
	}
	if _, err := net.ResolveHost(*peerHost); err != nil {
		say(stderr, "mitm: --peer-host %s: %v", *peerHost, err)
		return exitRuntime
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	toA, err := net.Open(ctx, net.Config{Bind: *bind, MainPort: *aSub, PeerHost: *peerHost, SubPort: *aMain})
	if err != nil {
		say(stderr, "mitm: %v", err)
		return exitRuntime
	}
	defer toA.Close()
	toB, err := net.Open(ctx, net.Config{Bind: *bind, MainPort: *bSub, PeerHost: *peerHost, SubPort: *bMain})
	if err != nil {
		say(stderr, "mitm: %v", err)
		return exitRuntime
	}
	defer toB.Close()
	out := ui.NewMITMOutput(stdout, *headless, *all)
	defer out.Close()
	// The MITM's own key, shown to both peers by impersonate and the first
	// of keysub's; keysub makes more when it is armed, as many as it takes
	// to keep the peers' roles (mitm.New).
	self, err := crypto.GenerateIdentity(rand.Reader)
	if err != nil {
		say(stderr, "mitm: %v", err)
		return exitRuntime
	}
	m := mitm.New(out.Emit, self.Public())
	m.ImpersonateAs(self)
	m.SetWindow(*window)
	m.GenerateKeysWith(func() (*crypto.PublicKey, error) {
		id, err := crypto.GenerateIdentity(rand.Reader)
		if err != nil {
			return nil, err
		}
		return id.Public(), nil
	})
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	relayErr := make(chan error, 1)
	go func() { relayErr <- m.Run(ctx, toA, toB) }()
	out.Ready(*aMain, *aSub, *bMain, *bSub, *peerHost)
	cmdDone := make(chan error, 1)
	go func() { cmdDone <- ui.ServeMITM(ctx, stdin, out, m) }()
	var err1 error
	select {
	case err1 = <-relayErr: // the relay failed (or a signal stopped it)
	case err1 = <-cmdDone: // quit, end of input, or a signal
		cancel()
		if err := <-relayErr; err1 == nil {
			err1 = err
		}
	}
	if err1 != nil {
		say(stderr, "mitm: %v", err1)
		return exitRuntime
	}
	return exitOK
}
