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
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"sync"
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
  duet demo                             try it: you and a bot, a man in the middle between you
  duet --main PORT --sub PORT [flags]   chat with the peer (full screen in a terminal)
  duet                                  in a terminal: asks for the ports first
  duet fingerprint [--identity FILE]    print your fingerprint (creates the key if absent)
  duet bench [--messages N]             the protocol's own cost: two nodes in one process vs raw zmq4
  duet bench --processes [--runs N]     what users get: two duet processes vs two raw zmq4 processes
  duet mitm --a-main P --a-sub P --b-main P --b-sub P
                                        a man in the middle that attacks on command
                                        (duet mitm --help)

Two people on one machine, each with their own key:
  terminal 1:  duet --main 5555 --sub 5556 --identity ~/.config/duet/alice.pem --name alice --peer-name bob
  terminal 2:  duet --main 5556 --sub 5555 --identity ~/.config/duet/bob.pem --name bob --peer-name alice
Each side binds its --main port and connects to the peer's port (--sub) on
--peer-host (which must resolve at start; a peer that is down is waited for).
--main and --sub must differ when the peer host is this machine. Compare the
safety number both sides show (/verify) out of band.

With stdout on a terminal duet opens a full-screen chat (press ? for keys and
commands). Otherwise, or with --lines, it runs a line mode: each line of input
is a message; /quit, /rekey, /replay, /clear are commands; start a message
with // to send a leading /. End of input quits after waiting up to 2 s for
the peer's receipts.

Flags:
  --main PORT            port to bind (0 picks a free one, see "ready")
  --sub PORT             the peer's port
  --peer-host HOST       the peer's host (default 127.0.0.1)
  --bind ADDR            address to bind (default 127.0.0.1)
  --name NAME            your display name (default $USER)
  --peer-name NAME       the peer's display name on your screen (default "peer")
  --identity FILE        identity key (default %s)
  --known-peers FILE     recorded peer fingerprints (default %s)
  --peer-fingerprint FP  require this peer fingerprint instead of known_peers
  --ephemeral            use a fresh in-memory key; no identity file is read or
                         written (the peer is still checked against known_peers
                         unless --peer-fingerprint is given)
  --window DURATION      accepted clock skew either way (default 30s; 1s to 24h)
  --ping DURATION        liveness ping interval (default 1s; 100ms to 1m)
  --no-history           keep no chat history (none is recorded or shown)
  --history-days N       delete history older than N days at start (default 0: keep all; at most 36500)
  --lines                line mode even on a terminal
  --headless             JSON lines on stdout for scripts (docs/HEADLESS.md)

Exit codes: 0 quit, 1 runtime error, 2 usage error, 3 identity error,
4 peer key changed (line and headless modes; the full screen shows a warning
and lets you accept the new key on purpose).
`

var errInterrupted = errors.New("interrupted")

func main() {
	// DUET_CPUPROFILE=FILE writes a CPU profile of the run (go tool pprof),
	// for finding where the time goes (docs/DESIGN.md).
	if path := os.Getenv("DUET_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil && pprof.StartCPUProfile(f) == nil {
			code := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
			pprof.StopCPUProfile()
			f.Close()
			os.Exit(code)
		}
	}
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
		case "mitm":
			return runMITM(args[1:], stdin, stdout, stderr, usageErr)
		case "demo":
			return runDemo(args[1:], stdin, stdout, stderr, usageErr)
		case "bench-raw-peer": // hidden: the raw zmq4 processes of bench --processes
			return runBenchRawPeer(args[1:], stdin, stdout, stderr, usageErr)
		case "help":
			fmt.Fprintf(stdout, usageText, defIdentity, defKnown)
			return exitOK
		}
		return usageErr("unknown command %q", args[0])
	}

	fs := flag.NewFlagSet("duet", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o chatOptions
	fs.IntVar(&o.mainPort, "main", -1, "")
	fs.IntVar(&o.subPort, "sub", -1, "")
	fs.StringVar(&o.peerHost, "peer-host", "127.0.0.1", "")
	fs.StringVar(&o.bind, "bind", "127.0.0.1", "")
	fs.StringVar(&o.name, "name", os.Getenv("USER"), "")
	fs.StringVar(&o.peerName, "peer-name", "peer", "")
	fs.StringVar(&o.identityPath, "identity", defIdentity, "")
	fs.StringVar(&o.knownPath, "known-peers", defKnown, "")
	pin := fs.String("peer-fingerprint", "", "")
	fs.BoolVar(&o.ephemeral, "ephemeral", false, "")
	fs.DurationVar(&o.window, "window", 30*time.Second, "")
	fs.DurationVar(&o.ping, "ping", time.Second, "")
	fs.BoolVar(&o.noHistory, "no-history", false, "")
	fs.IntVar(&o.historyDays, "history-days", 0, "")
	lines := fs.Bool("lines", false, "")
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
	case *headless:
		o.mode = modeHeadless
	case *lines || !isTerminal(stdin) || !isTerminal(stdout):
		o.mode = modeLines
	default:
		o.mode = modeScreen
	}
	if o.mode == modeScreen && (!set["main"] || !set["sub"]) && fs.NArg() == 0 {
		// The original asked for its ports; so does the full screen.
		choice, err := ui.RunPortForm(context.Background(), screenIO(stdin, stdout)...)
		if errors.Is(err, ui.ErrFormCancelled) {
			return exitOK
		}
		if err != nil {
			fmt.Fprintf(stderr, "duet: %v\n", err)
			return exitRuntime
		}
		o.mainPort, o.subPort, o.peerHost = choice.Main, choice.Sub, choice.PeerHost
		set["main"], set["sub"] = true, true
	}
	switch {
	case fs.NArg() > 0:
		return usageErr("unexpected argument %q", fs.Arg(0))
	case *headless && *lines:
		return usageErr("--headless and --lines exclude each other")
	case !set["main"]:
		return usageErr("--main PORT is required")
	case !set["sub"]:
		return usageErr("--sub PORT is required")
	case o.mainPort < 0 || o.mainPort > 65535:
		return usageErr("--main %d: not a port", o.mainPort)
	case o.subPort < 1 || o.subPort > 65535:
		return usageErr("--sub %d: not a port", o.subPort)
	case o.window < minWindow || o.window > maxWindow:
		return usageErr("--window %v: must be between %v and %v", o.window, minWindow, maxWindow)
	case o.ping < minPing || o.ping > maxPing:
		return usageErr("--ping %v: must be between %v and %v", o.ping, minPing, maxPing)
	case o.historyDays < 0 || o.historyDays > maxHistoryDays:
		return usageErr("--history-days %d: must be between 0 (keep all) and %d (100 years)", o.historyDays, maxHistoryDays)
	case o.peerHost == "":
		return usageErr("--peer-host must not be empty")
	case o.ephemeral && set["identity"]:
		return usageErr("--ephemeral and --identity exclude each other")
	case !o.ephemeral && o.identityPath == "":
		return usageErr("no default identity path: give --identity FILE")
	case *pin == "" && o.knownPath == "":
		return usageErr("no default known_peers path: give --known-peers FILE")
	}
	if *pin != "" {
		fp, err := crypto.ParseFingerprint(*pin)
		if err != nil {
			return usageErr("--peer-fingerprint: %v", err)
		}
		o.pinned = &fp
	}
	// The peer's host must resolve now: an unresolvable name would
	// otherwise be retried forever without a word. A host that resolves
	// but is down is fine (duet keeps trying until the peer comes up).
	ips, err := net.ResolveHost(o.peerHost)
	if err != nil {
		fmt.Fprintf(stderr, "duet: --peer-host %s: %v\n", o.peerHost, err)
		return exitRuntime
	}
	if o.mainPort == o.subPort && net.TalksToItself(o.bind, ips) {
		return usageErr("--main and --sub are both %d and the peer host %s is this machine: duet would talk to itself; give the peer's port to --sub", o.mainPort, o.peerHost)
	}
	return runChat(o, stdin, stdout, stderr)
}

// Bounds of --window and --ping. A window of hours already accepts any
// sane clock; beyond 24 h the timestamp arithmetic has no meaning (and
// near 2562047h it overflows). A ping below 100 ms only burns CPU; above a
// minute liveness is no longer shown.
const (
	minWindow = time.Second
	maxWindow = 24 * time.Hour
	minPing   = 100 * time.Millisecond
	maxPing   = time.Minute
)

// maxHistoryDays bounds --history-days: 100 years. Days become a
// time.Duration (int64 nanoseconds, at most about 106,751 days), which
// wrapped for larger values: 213504 turned into 25 minutes and silently
// deleted nearly all history, and larger ones went negative (kept all).
const maxHistoryDays = 36500

// Compile-time checks that net carries what protocol sends.
var _ protocol.Transport = (*net.Transport)(nil)

const (
	_ = uint(net.MaxMessageSize - protocol.MaxMessageSize) // net's limits must equal protocol's
	_ = uint(protocol.MaxMessageSize - net.MaxMessageSize)
	_ = uint(net.MaxBatch - protocol.MaxBatch)
	_ = uint(protocol.MaxBatch - net.MaxBatch)
)

func runBench(args []string, stdout, stderr io.Writer, usageErr func(string, ...any) int) int {
	fs := flag.NewFlagSet("duet bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o ui.BenchOptions
	fs.IntVar(&o.Messages, "messages", 50_000, "")
	fs.IntVar(&o.LatencySamples, "samples", 300, "")
	fs.IntVar(&o.Handshakes, "handshakes", 10, "")
	processes := fs.Bool("processes", false, "")
	runs := fs.Int("runs", 5, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "usage: duet bench [--messages N] [--samples N] [--handshakes N]\n"+
				"       duet bench --processes [--runs N] [--messages N] [--samples N]\n"+
				"Compares raw zmq4 with duet on loopback. Without --processes: the protocol's own cost, two nodes in one\n"+
				"process. With --processes: what users get, two real duet processes (--ephemeral and durable) beside raw\n"+
				"zmq4 between two processes, each run on fresh processes (default 5 runs, 20000 messages, 300 samples).")
			return exitOK
		}
		return usageErr("bench: %v", err)
	}
	if fs.NArg() > 0 {
		return usageErr("bench: unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *processes {
		po := ui.ProcBenchOptions{Runs: *runs, Messages: 20_000, Samples: o.LatencySamples, Progress: stderr}
		if set["messages"] {
			po.Messages = o.Messages
		}
		switch {
		case set["handshakes"]:
			return usageErr("bench: --handshakes is not a measure of --processes (start to session is)")
		case po.Runs < 1:
			return usageErr("bench: --runs %d: must be 1 or more", po.Runs)
		case po.Messages < 1:
			return usageErr("bench: --messages %d: must be 1 or more", po.Messages)
		case po.Samples < 1:
			return usageErr("bench: --samples %d: must be 1 or more", po.Samples)
		}
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintf(stderr, "duet: bench: cannot find duet's own binary: %v\n", err)
			return exitRuntime
		}
		po.Exe = exe
		// ctrl-c and SIGTERM end the bench; it kills its processes first.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if _, err := ui.RunProcessBench(ctx, stdout, po); err != nil {
			fmt.Fprintf(stderr, "duet: %v\n", err)
			return exitRuntime
		}
		return exitOK
	}
	if set["runs"] {
		return usageErr("bench: --runs needs --processes")
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
	deps.Stores = func() (protocol.Store, protocol.Store, func(), error) { return openBenchStores(deps.Identities) }
	if _, err := ui.RunBench(context.Background(), stdout, deps, o); err != nil {
		fmt.Fprintf(stderr, "duet: %v\n", err)
		return exitRuntime
	}
	return exitOK
}

// runBenchRawPeer is one raw zmq4 process of duet bench --processes: --send
// --connect PORT sends each line of stdin as one message; --recv --listen
// PORT prints each message received as a line. Both print a ready line
// first. Not for use with a peer: no encryption, no checks.
func runBenchRawPeer(args []string, stdin io.Reader, stdout, stderr io.Writer, usageErr func(string, ...any) int) int {
	fs := flag.NewFlagSet("duet bench-raw-peer", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	send := fs.Bool("send", false, "")
	recv := fs.Bool("recv", false, "")
	connect := fs.Int("connect", 0, "")
	listen := fs.Int("listen", 0, "")
	if err := fs.Parse(args); err != nil {
		return usageErr("bench-raw-peer: %v", err)
	}
	switch {
	case fs.NArg() > 0:
		return usageErr("bench-raw-peer: unexpected argument %q", fs.Arg(0))
	case *send == *recv:
		return usageErr("bench-raw-peer: give one of --send and --recv")
	case *send && (*connect < 1 || *connect > 65535):
		return usageErr("bench-raw-peer: --send needs --connect PORT")
	case *recv && (*listen < 0 || *listen > 65535):
		return usageErr("bench-raw-peer: --listen %d: not a port", *listen)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if *send {
		err = net.RawPeerSend(ctx, *connect, stdin, stdout)
	} else {
		err = net.RawPeerRecv(ctx, *listen, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "duet: bench-raw-peer: %v\n", err)
		return exitRuntime
	}
	return exitOK
}

const mitmUsage = `usage: duet mitm --a-main PORT --a-sub PORT --b-main PORT --b-sub PORT [--peer-host HOST] [--bind ADDR] [--headless] [--all]

A man in the middle between two duet peers, for seeing attacks refused. It
listens on --a-sub (where A sends: A's --sub) and --b-sub (where B sends),
and passes each message on to the other peer's --main port, unchanged until
told otherwise on stdin:
  replay a    send the last CHAT record A sent again      B refuses it: replay
  tamper a    flip one bit of A's next CHAT record         B refuses it: tampered
  reorder a   send A's next CHAT record after the next     B refuses it: reorder
  drop a      drop A's next CHAT record                    B reports a gap
  keysub a    put the MITM's own key in A's PUBLIC_KEYs    the next handshake fails: bad-signature
  impersonate a  (both ways) answer each peer as the other, with the MITM's own key,
              reading and passing on what they say         a peer that knows the other's key
                                                           refuses it: key-changed
  pass a      A's messages pass unchanged again (and impersonation stops)
(b: the same on what B sends.) A message that was kept from its receiver is
resent by its sender and shown once. It holds no key of the peers; it reads
messages only when a peer accepts it as the other (impersonate on a first
contact: the peers' safety numbers then differ, which /verify shows).

  --headless  JSON lines instead of text; --all  also show relayed pings and pongs

Example, three terminals:
  duet mitm --a-main 5555 --a-sub 6556 --b-main 5556 --b-sub 6555
  duet --main 5555 --sub 6556 --identity alice.pem
  duet --main 5556 --sub 6555 --identity bob.pem
`

// runMITM is duet mitm: two transports (one facing each peer), a
// protocol.MITM between them, commands from stdin.
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
		fmt.Fprintf(stderr, "duet: mitm: --peer-host %s: %v\n", *peerHost, err)
		return exitRuntime
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	toA, err := net.Open(ctx, net.Config{Bind: *bind, MainPort: *aSub, PeerHost: *peerHost, SubPort: *aMain})
	if err != nil {
		fmt.Fprintf(stderr, "duet: mitm: %v\n", err)
		return exitRuntime
	}
	defer toA.Close()
	toB, err := net.Open(ctx, net.Config{Bind: *bind, MainPort: *bSub, PeerHost: *peerHost, SubPort: *bMain})
	if err != nil {
		fmt.Fprintf(stderr, "duet: mitm: %v\n", err)
		return exitRuntime
	}
	defer toB.Close()
	out := ui.NewMITMOutput(stdout, *headless, *all)
	defer out.Close()
	// The MITM's own key, shown to both peers by impersonate and the first
	// of keysub's; keysub makes more when it is armed, as many as it takes
	// to keep the peers' roles (protocol.NewMITM).
	self, err := crypto.GenerateIdentity(rand.Reader)
	if err != nil {
		fmt.Fprintf(stderr, "duet: mitm: %v\n", err)
		return exitRuntime
	}
	m := protocol.NewMITM(out.Emit, self.Public())
	m.ImpersonateAs(self)
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
		fmt.Fprintf(stderr, "duet: mitm: %v\n", err1)
		return exitRuntime
	}
	return exitOK
}

// runDemo is duet demo: three fresh keys, four free loopback ports, and
// ui.RunDemo on the terminal.
func runDemo(args []string, stdin io.Reader, stdout, stderr io.Writer, usageErr func(string, ...any) int) int {
	if len(args) > 0 {
		if args[0] == "--help" || args[0] == "-h" || args[0] == "-help" {
			fmt.Fprintln(stdout, "usage: duet demo\nThe full screen as alice, chatting with bob, a bot in this process, through a man in the\nmiddle on loopback; /attack replay|tamper|reorder|drop|keysub shows each attack refused.\nNothing is read from or written to disk.")
			return exitOK
		}
		return usageErr("demo: unexpected argument %q", args[0])
	}
	if !isTerminal(stdin) || !isTerminal(stdout) {
		return usageErr("demo: needs a terminal (it is the full-screen chat); to script duet, see --headless")
	}
	ids, err := generateKeys(3)
	if err != nil {
		fmt.Fprintf(stderr, "duet: demo: %v\n", err)
		return exitRuntime
	}
	ports, err := net.FreeLoopbackPorts(4)
	if err != nil {
		fmt.Fprintf(stderr, "duet: demo: %v\n", err)
		return exitRuntime
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	deps := ui.DemoDeps{Keys: [3]*crypto.Identity(ids), Ports: [4]int(ports),
		Open: func(ctx context.Context, main, sub int) (protocol.Transport, error) {
			return net.Open(ctx, net.Config{MainPort: main, SubPort: sub, SendTimeout: 30 * time.Second})
		}}
	if err := ui.RunDemo(ctx, deps, screenIO(stdin, stdout)...); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "duet: demo: %v\n", err)
		return exitRuntime
	}
	return exitOK
}

// generateKeys makes n fresh RSA keys, two at a time.
func generateKeys(n int) ([]*crypto.Identity, error) {
	keys := make([]*crypto.Identity, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for i := range keys {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			keys[i], errs[i] = crypto.GenerateIdentity(rand.Reader)
		}()
	}
	wg.Wait()
	return keys, errors.Join(errs...)
}

// openLoopbackPair opens two duet transports that talk to each other on
// free loopback ports and waits until both are connected.
func openLoopbackPair(ctx context.Context) (protocol.Transport, protocol.Transport, func(), error) {
	ports, err := net.FreeLoopbackPorts(2)
	if err != nil {
		return nil, nil, nil, err
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
