// Command duet is an end-to-end encrypted two-party terminal messenger over
// ZeroMQ. This file parses the command line and dispatches to one
// subcommand; each subcommand's wiring is in its own file beside it (chat.go,
// cmd_*.go) and the behaviour lives in crypto/, net/, protocol/ and ui/.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"duet/crypto"
	"duet/net"
	"duet/protocol"
	"duet/ui/screen"
	"duet/ui/termsafe"
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

// say writes "duet: " and the formatted text to w (stderr) as one line.
// The text goes through termsafe.Sanitize, the policy the full screen
// shows notices with: it carries file paths, host names, flag names and
// errors from outside, so a path holding ESC, BEL, U+202E or U+009B comes
// out escaped (\x1b, \a, \u202e, \u009b), never raw to the terminal.
func say(w io.Writer, format string, a ...any) {
	fmt.Fprintf(w, "duet: %s\n", termsafe.Sanitize(fmt.Sprintf(format, a...)))
}

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
		say(stderr, "%s; run duet --help", fmt.Sprintf(format, a...))
		return exitUsage
	}
	help := func() int {
		fmt.Fprintf(stdout, usageText, termsafe.Sanitize(defIdentity), termsafe.Sanitize(defKnown))
		return exitOK
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return runChatCommand(args, chatFlagDefaults{defIdentity, defKnown}, stdin, stdout, stderr, usageErr, help)
	}
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
		return help()
	}
	return usageErr("unknown command %q", args[0])
}

// chatFlagDefaults are the default paths the chat flags start from.
type chatFlagDefaults struct{ identity, known string }

// chatFlags is what the chat's flags say beyond chatOptions: which flags
// were given, and the raw values checked later.
type chatFlags struct {
	set             map[string]bool
	pin             string
	lines, headless bool
	args            []string // left after the flags (none allowed)
}

// runChatCommand is duet without a subcommand: its flags are parsed and
// checked (every usage error before anything starts), the full screen asks
// for missing ports, the peer's host must resolve, and then one chat runs.
func runChatCommand(args []string, def chatFlagDefaults, stdin io.Reader, stdout, stderr io.Writer, usageErr func(string, ...any) int, help func() int) int {
	o, f, err := parseChatFlags(args, def)
	if errors.Is(err, flag.ErrHelp) {
		return help()
	} else if err != nil {
		return usageErr("%v", err)
	}
	o.mode = pickFrontEnd(f, stdin, stdout)
	if o.mode == modeScreen && (!f.set["main"] || !f.set["sub"]) && len(f.args) == 0 {
		// The original asked for its ports; so does the full screen.
		choice, err := screen.RunPortForm(context.Background(), screenIO(stdin, stdout)...)
		if errors.Is(err, screen.ErrFormCancelled) {
			return exitOK
		}
		if err != nil {
			say(stderr, "%v", err)
			return exitRuntime
		}
		o.mainPort, o.subPort, o.peerHost = choice.Main, choice.Sub, choice.PeerHost
		f.set["main"], f.set["sub"] = true, true
	}
	if msg := checkChatFlags(o, f); msg != "" {
		return usageErr("%s", msg)
	}
	if f.pin != "" {
		fp, err := crypto.ParseFingerprint(f.pin)
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
		say(stderr, "--peer-host %s: %v", o.peerHost, err)
		return exitRuntime
	}
	if o.mainPort == o.subPort && net.TalksToItself(o.bind, ips) {
		return usageErr("--main and --sub are both %d and the peer host %s is this machine: duet would talk to itself; give the peer's port to --sub", o.mainPort, o.peerHost)
	}
	return runChat(o, stdin, stdout, stderr)
}

// parseChatFlags parses the chat's flags (flag.ErrHelp for --help).
func parseChatFlags(args []string, def chatFlagDefaults) (chatOptions, chatFlags, error) {
	fs := flag.NewFlagSet("duet", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o chatOptions
	fs.IntVar(&o.mainPort, "main", -1, "")
	fs.IntVar(&o.subPort, "sub", -1, "")
	fs.StringVar(&o.peerHost, "peer-host", "127.0.0.1", "")
	fs.StringVar(&o.bind, "bind", "127.0.0.1", "")
	fs.StringVar(&o.name, "name", os.Getenv("USER"), "")
	fs.StringVar(&o.peerName, "peer-name", "peer", "")
	fs.StringVar(&o.identityPath, "identity", def.identity, "")
	fs.StringVar(&o.knownPath, "known-peers", def.known, "")
	pin := fs.String("peer-fingerprint", "", "")
	fs.BoolVar(&o.ephemeral, "ephemeral", false, "")
	fs.DurationVar(&o.window, "window", 30*time.Second, "")
	fs.DurationVar(&o.ping, "ping", time.Second, "")
	fs.BoolVar(&o.noHistory, "no-history", false, "")
	fs.IntVar(&o.historyDays, "history-days", 0, "")
	lines := fs.Bool("lines", false, "")
	headless := fs.Bool("headless", false, "")
	if err := fs.Parse(args); err != nil {
		return o, chatFlags{}, err
	}
	f := chatFlags{set: map[string]bool{}, pin: *pin, lines: *lines, headless: *headless, args: fs.Args()}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	return o, f, nil
}

// pickFrontEnd chooses the front end: --headless, else the line mode when
// asked or when stdin or stdout is not a terminal, else the full screen.
func pickFrontEnd(f chatFlags, stdin io.Reader, stdout io.Writer) frontEnd {
	switch {
	case f.headless:
		return modeHeadless
	case f.lines || !isTerminal(stdin) || !isTerminal(stdout):
		return modeLines
	}
	return modeScreen
}

// checkChatFlags returns what is wrong with the chat's flags as a usage
// error's text, or "" when nothing is.
func checkChatFlags(o chatOptions, f chatFlags) string {
	switch {
	case len(f.args) > 0:
		return fmt.Sprintf("unexpected argument %q", f.args[0])
	case f.headless && f.lines:
		return "--headless and --lines exclude each other"
	case !f.set["main"]:
		return "--main PORT is required"
	case !f.set["sub"]:
		return "--sub PORT is required"
	case o.mainPort < 0 || o.mainPort > 65535:
		return fmt.Sprintf("--main %d: not a port", o.mainPort)
	case o.subPort < 1 || o.subPort > 65535:
		return fmt.Sprintf("--sub %d: not a port", o.subPort)
	case o.window < minWindow || o.window > maxWindow:
		return fmt.Sprintf("--window %v: must be between %v and %v", o.window, minWindow, maxWindow)
	case o.ping < minPing || o.ping > maxPing:
		return fmt.Sprintf("--ping %v: must be between %v and %v", o.ping, minPing, maxPing)
	case o.historyDays < 0 || o.historyDays > maxHistoryDays:
		return fmt.Sprintf("--history-days %d: must be between 0 (keep all) and %d (100 years)", o.historyDays, maxHistoryDays)
	case o.peerHost == "":
		return "--peer-host must not be empty"
	case o.ephemeral && f.set["identity"]:
		return "--ephemeral and --identity exclude each other"
	case !o.ephemeral && o.identityPath == "":
		return "no default identity path: give --identity FILE"
	case f.pin == "" && o.knownPath == "":
		return "no default known_peers path: give --known-peers FILE"
	}
	return ""
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

// maxHistoryDays bounds --history-days: 100 years, well inside what a
// time.Duration (int64 nanoseconds, about 106,751 days) can hold, so the
// retention never wraps (TestHistoryDaysBounded).
const maxHistoryDays = 36500

// Compile-time checks that net carries what protocol sends.
var _ protocol.Transport = (*net.Transport)(nil)

const (
	_ = uint(net.MaxMessageSize - protocol.MaxMessageSize) // net's limits must equal protocol's
	_ = uint(protocol.MaxMessageSize - net.MaxMessageSize)
	_ = uint(net.MaxBatch - protocol.MaxBatch)
	_ = uint(protocol.MaxBatch - net.MaxBatch)
)
