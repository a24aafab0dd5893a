package main

// duet mitm: flags, two transports and the attack relay between them.

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"duet/crypto"
	"duet/net"
	"duet/protocol"
	"duet/protocol/mitm"
	"duet/ui"
)

const mitmLong = `A man in the middle between two duet peers, for seeing attacks refused. It
listens on --a-sub (where A sends: A's --sub) and --b-sub (where B sends),
and passes each message on to the other peer's --main port, unchanged until
told otherwise on stdin:
  replay a    send the last CHAT record A sent again      B refuses it: replay
  tamper a    flip one bit of A's next CHAT record         B refuses it: tampered
  reorder a   send A's next CHAT record after the next     B refuses it: reorder
  drop a      drop A's next CHAT record                    B reports a gap
  jump a      raise the seq of A's next CHAT record by     B refuses it: too-far
              2048 (more than 1024 ahead)
  keysub a    put the MITM's own key in A's PUBLIC_KEYs    the next handshake fails: bad-signature
  downgrade a cut the ML-KEM share out of A's HELLOs       the next handshake fails: downgrade
              (version 1's layout, 319 bytes)
  stale a     hold A's next CHAT record and all A sends    B refuses those older than the
              after it for the window plus 1 s, then       window: stale
              release them in order
  reflect a   send A's next record back to A as well      A refuses it: reflected
  impersonate a  (both ways) answer each peer as the other, with the MITM's own key,
              reading and passing on what they say         a peer that knows the other's key
                                                           refuses it: key-changed
  steal a     refused: no duet gives out its keys; only duet demo can show a theft
  pass a      A's messages pass unchanged again (and impersonation stops)
(b: the same on what B sends.) A message that was kept from its receiver is
resent by its sender and shown once. It holds no key of the peers; it reads
messages only when a peer accepts it as the other (impersonate on a first
contact: the peers' safety numbers then differ, which /verify shows).

--window is the peers' timestamp window (their --window): stale holds for
it plus 1 s.`

const mitmExample = `# three terminals: the man in the middle, alice, bob
duet mitm --a-main 5555 --a-sub 6556 --b-main 5556 --b-sub 6555
duet --main 5555 --sub 6556 --identity alice.pem --name alice --peer-name bob
duet --main 5556 --sub 6555 --identity bob.pem --name bob --peer-name alice`

// mitmOptions are duet mitm's flags.
type mitmOptions struct {
	aMain, aSub, bMain, bSub int
	peerHost, bind           string
	headless, all            bool
	window                   time.Duration
}

// mitmCmd is duet mitm.
func (c *cli) mitmCmd() *cobra.Command {
	var o mitmOptions
	cmd := &cobra.Command{
		Use:     "mitm",
		Short:   "a man in the middle that attacks on command",
		Long:    mitmLong,
		Example: mitmExample,
		Args:    noArgs,
		RunE: func(*cobra.Command, []string) error {
			c.code = runMITM(o, c.stdin, c.stdout, c.stderr, c.usageErr)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.IntVar(&o.aMain, "a-main", 0, "peer A's --main")
	fs.IntVar(&o.aSub, "a-sub", 0, "peer A's --sub (the MITM listens there)")
	fs.IntVar(&o.bMain, "b-main", 0, "peer B's --main")
	fs.IntVar(&o.bSub, "b-sub", 0, "peer B's --sub (the MITM listens there)")
	fs.StringVar(&o.peerHost, "peer-host", "127.0.0.1", "the peers' host")
	fs.StringVar(&o.bind, "bind", "127.0.0.1", "address to bind")
	fs.DurationVar(&o.window, "window", protocol.DefaultWindow, "the peers' timestamp window")
	fs.BoolVar(&o.headless, "headless", false, "print one JSON event per line instead of text")
	fs.BoolVar(&o.all, "all", false, "also show relayed pings and pongs")
	return cmd
}

// runMITM is duet mitm: two transports (one facing each peer), a
// mitm.Relay between them, commands from stdin.
func runMITM(o mitmOptions, stdin io.Reader, stdout, stderr io.Writer, usageErr func(string, ...any) int) int {
	if o.window < minWindow || o.window > maxWindow {
		return usageErr("mitm: --window %v: must be between %v and %v", o.window, minWindow, maxWindow)
	}
	ports := map[string]int{"--a-main": o.aMain, "--a-sub": o.aSub, "--b-main": o.bMain, "--b-sub": o.bSub}
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
	if _, err := net.ResolveHost(o.peerHost); errors.Is(err, net.ErrNoSuchHost) {
		return usageErr("mitm: --peer-host %s: %v", o.peerHost, err)
	} else if err != nil {
		say(stderr, "mitm: --peer-host %s: %v", o.peerHost, err)
		return exitRuntime
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	toA, err := net.Open(ctx, net.Config{Bind: o.bind, MainPort: o.aSub, PeerHost: o.peerHost, SubPort: o.aMain})
	if err != nil {
		say(stderr, "mitm: %v", err)
		return exitRuntime
	}
	defer toA.Close()
	toB, err := net.Open(ctx, net.Config{Bind: o.bind, MainPort: o.bSub, PeerHost: o.peerHost, SubPort: o.bMain})
	if err != nil {
		say(stderr, "mitm: %v", err)
		return exitRuntime
	}
	defer toB.Close()
	out := ui.NewMITMOutput(stdout, o.headless, o.all)
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
	m.SetWindow(o.window)
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
	out.Ready(o.aMain, o.aSub, o.bMain, o.bSub, o.peerHost)
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
