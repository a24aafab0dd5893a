// Command duet is an end-to-end encrypted two-party terminal messenger over
// ZeroMQ. This file only parses flags and wires the packages together; the
// behaviour lives in crypto/, net/, protocol/ and ui/.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	stdnet "net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"duet/crypto"
	"duet/net"
	"duet/protocol"
	"duet/ui"
)

// Exit codes.
const (
	exitOK          = 0
	exitRuntime     = 1 // port in use, transport failure, ...
	exitUsage       = 2 // bad flag or argument; also unimplemented subcommands
	exitIdentity    = 3 // identity key (or known_peers) unusable, e.g. mode 0644
	exitPeerChanged = 4 // before any session: the peer presented a key other than the recorded/pinned one
)

const usageText = `duet - end-to-end encrypted two-party messenger over ZeroMQ

Usage:
  duet --main PORT --sub PORT [flags]   chat with the peer
  duet fingerprint [--identity FILE]    print your fingerprint (creates the key if absent)
  duet bench [--messages N]             raw zmq4 vs duet: throughput, latency, handshake
  duet demo                             attack demo (not yet implemented)

Two terminals on one machine:
  terminal 1:  duet --main 5555 --sub 5556
  terminal 2:  duet --main 5556 --sub 5555
Each side binds its --main port and connects to the peer's port (--sub) on
--peer-host. Compare the safety number shown by both sides out of band.

Input: each line is a message; /quit, /rekey, /replay are commands; start a
message with // to send a leading /. End of input quits after waiting up to
2 s for the peer's receipts.

Flags:
  --main PORT            port to bind (required; 0 picks a free one, see "ready")
  --sub PORT             the peer's port (required)
  --peer-host HOST       the peer's host (default 127.0.0.1)
  --bind ADDR            address to bind (default 127.0.0.1)
  --name NAME            your display name in line mode (default $USER)
  --identity FILE        identity key (default %s)
  --known-peers FILE     recorded peer fingerprints (default %s)
  --peer-fingerprint FP  require this peer fingerprint instead of known_peers
  --ephemeral            use a fresh in-memory key; no identity file is read or
                         written (the peer is still checked against known_peers
                         unless --peer-fingerprint is given)
  --window DURATION      accepted clock skew either way (default 30s)
  --ping DURATION        liveness ping interval (default 1s)
  --headless             JSON lines on stdout for scripts (docs/HEADLESS.md)

Exit codes: 0 quit, 1 runtime error, 2 usage error, 3 identity error,
4 peer key changed.
`

var errInterrupted = errors.New("interrupted")

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	defIdentity, _ := crypto.DefaultIdentityPath()
	defKnown, _ := crypto.DefaultKnownPeersPath()
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "duet: %s; run duet --help\n", fmt.Sprintf(format, a...))
		return exitUsage
	}
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "fingerprint":
			return runFingerprint(args[1:], defIdentity, stdout, stderr, usageErr)
		case "bench":
			return runBench(args[1:], stdout, stderr, usageErr)
		case "demo":
			fmt.Fprintf(stderr, "duet %s: not yet implemented\n", args[0])
			return exitUsage
		case "help":
			fmt.Fprintf(stdout, usageText, defIdentity, defKnown)
			return exitOK
		}
		return usageErr("unknown command %q", args[0])
	}

	fs := flag.NewFlagSet("duet", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	mainPort := fs.Int("main", -1, "")
	subPort := fs.Int("sub", -1, "")
	peerHost := fs.String("peer-host", "127.0.0.1", "")
	bind := fs.String("bind", "127.0.0.1", "")
	name := fs.String("name", os.Getenv("USER"), "")
	identityPath := fs.String("identity", defIdentity, "")
	knownPath := fs.String("known-peers", defKnown, "")
	pin := fs.String("peer-fingerprint", "", "")
	ephemeral := fs.Bool("ephemeral", false, "")
	window := fs.Duration("window", 30*time.Second, "")
	ping := fs.Duration("ping", time.Second, "")
	headless := fs.Bool("headless", false, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, usageText, defIdentity, defKnown)
			return exitOK
		}
		return usageErr("%v", err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case fs.NArg() > 0:
		return usageErr("unexpected argument %q", fs.Arg(0))
	case !set["main"]:
		return usageErr("--main PORT is required")
	case !set["sub"]:
		return usageErr("--sub PORT is required")
	case *mainPort < 0 || *mainPort > 65535:
		return usageErr("--main %d: not a port", *mainPort)
	case *subPort < 1 || *subPort > 65535:
		return usageErr("--sub %d: not a port", *subPort)
	case *window <= 0:
		return usageErr("--window must be positive")
	case *ping <= 0:
		return usageErr("--ping must be positive")
	case *ephemeral && set["identity"]:
		return usageErr("--ephemeral and --identity exclude each other")
	case !*ephemeral && *identityPath == "":
		return usageErr("no default identity path: give --identity FILE")
	case *pin == "" && *knownPath == "":
		return usageErr("no default known_peers path: give --known-peers FILE")
	}
	var pinned *crypto.Fingerprint
	if *pin != "" {
		fp, err := crypto.ParseFingerprint(*pin)
		if err != nil {
			return usageErr("--peer-fingerprint: %v", err)
		}
		pinned = &fp
	}

	// Identity.
	var id *crypto.Identity
	var err error
	if *ephemeral {
		id, err = crypto.GenerateIdentity(rand.Reader)
	} else {
		var created bool
		id, created, err = crypto.LoadOrCreateIdentity(*identityPath, rand.Reader)
		if err == nil && created {
			fmt.Fprintf(stderr, "duet: created a new identity in %s\n", *identityPath)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "duet: %v\n", err)
		return exitIdentity
	}

	// Peer verification: the pinned fingerprint, else known_peers.
	peerName := stdnet.JoinHostPort(*peerHost, strconv.Itoa(*subPort))
	var known *crypto.KnownPeers
	if pinned == nil {
		if known, err = crypto.OpenKnownPeers(*knownPath); err != nil {
			fmt.Fprintf(stderr, "duet: %v\n", err)
			return exitIdentity
		}
	}

	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		select {
		case <-sigs:
			cancel(errInterrupted)
		case <-ctx.Done():
		}
	}()

	// A changed peer key ends the run (exit 4) once the driver has reported
	// it; the timer covers a driver that reports nothing.
	var keyChanged atomic.Pointer[error]
	var established atomic.Bool
	var stopOnce sync.Once
	stopKeyChanged := func() {
		stopOnce.Do(func() { cancel(*keyChanged.Load()) })
	}
	verify := func(peer *crypto.PublicKey) error {
		var err error
		if pinned != nil {
			err = crypto.CheckPinned(*pinned, peer.Fingerprint())
		} else {
			_, err = known.Check(peerName, peer.Fingerprint())
		}
		// A changed key before any session is established aborts the run
		// (exit 4), as ssh does. Once a session is up, another key is only
		// a rejected attempt: anyone can hold a key, and must not be able
		// to end a verified conversation with it.
		if errors.Is(err, crypto.ErrKeyChanged) && !established.Load() {
			keyChanged.CompareAndSwap(nil, &err)
			time.AfterFunc(500*time.Millisecond, stopKeyChanged)
		}
		return err
	}

	var out ui.Output
	if *headless {
		out = ui.NewHeadless(stdout)
	} else {
		out = ui.NewLines(stdout, *name)
	}
	emit := func(ev protocol.Event) {
		out.Emit(ev)
		if s, ok := ev.(protocol.SessionEvent); ok && s.State == protocol.SessionEstablished {
			established.Store(true)
		}
		if r, ok := ev.(protocol.RejectedEvent); ok && r.Reason == protocol.ReasonKeyChanged && keyChanged.Load() != nil {
			stopKeyChanged()
		}
	}

	// Delivery state (outbox, shown ids) lives beside the identity, one log
	// per (identity, peer); --ephemeral keeps it in memory.
	var store protocol.Store
	if !*ephemeral {
		fileStore, err := protocol.OpenFileStore(deliveryLogPath(*identityPath, id.Public().Fingerprint(), peerName))
		if err != nil {
			fmt.Fprintf(stderr, "duet: %v\n", err)
			out.Close()
			return exitRuntime
		}
		defer fileStore.Close()
		store = fileStore
	}

	// SendTimeout: a slow receiver pushes back on the sender (TCP flow
	// control) instead of having its connection reset, which would lose
	// records in flight.
	tr, err := net.Open(ctx, net.Config{Bind: *bind, MainPort: *mainPort, PeerHost: *peerHost, SubPort: *subPort, SendTimeout: 30 * time.Second})
	if err != nil {
		fmt.Fprintf(stderr, "duet: %v\n", err)
		out.Close()
		return exitRuntime
	}
	defer tr.Close()
	node, err := protocol.NewNode(protocol.Config{
		Identity:     id,
		VerifyPeer:   verify,
		Window:       *window,
		PingInterval: *ping,
		Store:        store,
	}, tr, emit)
	if err != nil {
		fmt.Fprintf(stderr, "duet: %v\n", err)
		out.Close()
		return exitRuntime
	}
	out.Ready(tr.MainPort(), *subPort, id.Public().Fingerprint().String())

	err = ui.Serve(ctx, stdin, out, node, ui.InputConfig{})
	switch {
	case err == nil, errors.Is(err, errInterrupted):
		return exitOK
	case errors.Is(err, crypto.ErrKeyChanged):
		fmt.Fprintf(stderr, "duet: handshake aborted: %v\n", err)
		return exitPeerChanged
	}
	fmt.Fprintf(stderr, "duet: %v\n", err)
	return exitRuntime
}

// Compile-time checks that net carries what protocol sends.
var _ protocol.Transport = (*net.Transport)(nil)

const (
	_ = uint(net.MaxMessageSize - protocol.MaxMessageSize) // net's limits must equal protocol's
	_ = uint(protocol.MaxMessageSize - net.MaxMessageSize)
	_ = uint(net.MaxBatch - protocol.MaxBatch)
	_ = uint(protocol.MaxBatch - net.MaxBatch)
)

// deliveryLogPath names the delivery log of one (identity, peer) pair, in a
// "delivery" directory beside the identity file.
func deliveryLogPath(identityPath string, self crypto.Fingerprint, peer string) string {
	safe := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, peer)
	return filepath.Join(filepath.Dir(identityPath), "delivery", fmt.Sprintf("%x-%s.log", self[:8], safe))
}

func runBench(args []string, stdout, stderr io.Writer, usageErr func(string, ...any) int) int {
	fs := flag.NewFlagSet("duet bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o ui.BenchOptions
	fs.IntVar(&o.Messages, "messages", 50_000, "")
	fs.IntVar(&o.LatencySamples, "samples", 300, "")
	fs.IntVar(&o.Handshakes, "handshakes", 10, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "usage: duet bench [--messages N] [--samples N] [--handshakes N]\nCompares raw zmq4 with duet's encrypted session on loopback.")
			return exitOK
		}
		return usageErr("bench: %v", err)
	}
	var deps ui.BenchDeps
	for i := range deps.Identities {
		id, err := crypto.GenerateIdentity(rand.Reader)
		if err != nil {
			fmt.Fprintf(stderr, "duet: %v\n", err)
			return exitRuntime
		}
		deps.Identities[i] = id
	}
	deps.Raw = func(ctx context.Context) (ui.RawLink, error) { return net.OpenRawPair(ctx) }
	deps.Transports = openLoopbackPair
	if _, err := ui.RunBench(context.Background(), stdout, deps, o); err != nil {
		fmt.Fprintf(stderr, "duet: %v\n", err)
		return exitRuntime
	}
	return exitOK
}

// openLoopbackPair opens two duet transports that talk to each other on
// free loopback ports and waits until both are connected.
func openLoopbackPair(ctx context.Context) (protocol.Transport, protocol.Transport, func(), error) {
	var ports [2]int
	for i := range ports {
		l, err := stdnet.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, nil, err
		}
		ports[i] = l.Addr().(*stdnet.TCPAddr).Port
		l.Close()
	}
	a, err := net.Open(ctx, net.Config{MainPort: ports[0], SubPort: ports[1], SendTimeout: 30 * time.Second})
	if err != nil {
		return nil, nil, nil, err
	}
	b, err := net.Open(ctx, net.Config{MainPort: ports[1], SubPort: ports[0], SendTimeout: 30 * time.Second})
	if err != nil {
		a.Close()
		return nil, nil, nil, err
	}
	closeBoth := func() { a.Close(); b.Close() }
	for deadline := time.Now().Add(5 * time.Second); !a.Connected() || !b.Connected(); {
		if time.Now().After(deadline) {
			closeBoth()
			return nil, nil, nil, errors.New("bench transports did not connect")
		}
		time.Sleep(time.Millisecond)
	}
	return a, b, closeBoth, nil
}

func runFingerprint(args []string, defIdentity string, stdout, stderr io.Writer, usageErr func(string, ...any) int) int {
	fs := flag.NewFlagSet("duet fingerprint", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	path := fs.String("identity", defIdentity, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "usage: duet fingerprint [--identity FILE]\nPrints your fingerprint, creating the identity key if absent.")
			return exitOK
		}
		return usageErr("fingerprint: %v", err)
	}
	if fs.NArg() > 0 {
		return usageErr("fingerprint: unexpected argument %q", fs.Arg(0))
	}
	if *path == "" {
		return usageErr("fingerprint: no default identity path: give --identity FILE")
	}
	id, created, err := crypto.LoadOrCreateIdentity(*path, rand.Reader)
	if err != nil {
		fmt.Fprintf(stderr, "duet: %v\n", err)
		return exitIdentity
	}
	if created {
		fmt.Fprintf(stderr, "duet: created a new identity in %s\n", *path)
	}
	fmt.Fprintln(stdout, id.Public().Fingerprint().String())
	return exitOK
}
