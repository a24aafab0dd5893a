// Command duet is an end-to-end encrypted two-party terminal messenger over
// ZeroMQ. This file defines the command line (Cobra commands under Fang) and
// the chat's flags; each subcommand's wiring is in its own file beside it
// (chat.go, cmd_*.go), the flag-error hook and --version in cli.go, and the
// behaviour lives in crypto/, net/, protocol/ and ui/.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"time"

	"charm.land/fang/v2"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"duet/crypto"
	"duet/net"
	"duet/protocol"
	"duet/ui/screen"
	"duet/ui/termsafe"
)

// Exit codes, listed in --help and the man page (exitCodesText).
const (
	exitOK          = 0
	exitRuntime     = 1 // port in use, transport failure, ...
	exitUsage       = 2 // bad flag or argument; also unimplemented subcommands
	exitIdentity    = 3 // identity key (or known_peers) unusable, e.g. mode 0644
	exitPeerChanged = 4 // the peer presented a key other than the recorded/pinned one
)

// exitCodesText is the exit codes as help and the man page state them.
const exitCodesText = `Exit codes: 0 quit, 1 runtime error, 2 usage error (before anything
starts), 3 identity error, 4 peer key changed (line and headless modes end
at once; the full screen shows a warning, lets you accept the new key on
purpose, and exits 4 when you quit from it instead).`

const rootLong = `duet - end-to-end encrypted two-party messenger over ZeroMQ

Each side binds its --main port and connects to the peer's port (--sub) on
--peer-host (which must resolve at start; a peer that is down is waited for).
--main and --sub must differ when the peer host is this machine. Compare the
safety number both sides show (/verify) out of band. In a terminal, duet
without --main and --sub asks for the ports.

With stdout on a terminal duet opens a full-screen chat (press ? for keys and
commands). Otherwise, or with --lines, it runs a line mode: each line of input
is a message; /help lists the commands (/quit, /rekey, /replay, /clear,
/verify, /fingerprint); start a message with // to send a leading /. End of
input quits after waiting up to 2 s for the peer's receipts.

` + exitCodesText

const rootExample = `# try it: you and a bot, a man in the middle between you
duet demo
# save the peer once (config.toml), then chat by name
duet peer add bob --main 5555 --sub 5556 --name alice
duet chat bob
# two people on one machine, each with their own key
duet --main 5555 --sub 5556 --identity ~/.config/duet/alice.pem --name alice --peer-name bob
duet --main 5556 --sub 5555 --identity ~/.config/duet/bob.pem --name bob --peer-name alice`

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

// cli is one run of the command line: its streams, its defaults, and the
// exit code the command that ran set.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	defIdentity    string
	defKnown       string
	code           int
}

// usageErr says a usage error on stderr and returns exitUsage.
func (c *cli) usageErr(format string, a ...any) int {
	say(c.stderr, "%s; run duet --help", fmt.Sprintf(format, a...))
	return exitUsage
}

// run runs duet with args and returns its exit code. Every usage error
// (Cobra's, pflag's, and the commands' own checks) is one line on stderr
// and exit 2, before anything starts.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr}
	c.defIdentity, _ = crypto.DefaultIdentityPath()
	c.defKnown, _ = crypto.DefaultKnownPeersPath()
	root := c.rootCmd()
	root.SetFlagErrorFunc(flagError(args))
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := fang.Execute(context.Background(), root,
		fang.WithVersion(version()),
		fang.WithoutManpage(), // ours: visible, on the command's stdout, with the exit codes
		fang.WithErrorHandler(func(io.Writer, fang.Styles, error) {}))
	if err != nil {
		return c.usageErr("%v", err)
	}
	return c.code
}

// rootCmd is the command tree: duet (the chat) and its subcommands.
func (c *cli) rootCmd() *cobra.Command {
	root := c.chatCmd("duet [PEER] [flags]")
	root.Short = "end-to-end encrypted two-party messenger over ZeroMQ"
	root.Long = rootLong
	root.Example = rootExample
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return refuseFlagValues(cmd.Flags()) }
	chat := c.chatCmd("chat [PEER] [flags]")
	chat.Short = "chat with a saved peer, or as duet with flags"
	chat.Long = "duet chat bob is duet bob: the chat with the peer saved as bob (duet peer add), flags overriding\nthe config file. Without a peer it is duet itself."
	root.AddCommand(chat, c.peerCmd(), c.demoCmd(), c.fingerprintCmd(), c.benchCmd(), c.mitmCmd(), c.benchRawPeerCmd(), c.manCmd())
	return root
}

// chatCmd is a command that runs the chat: duet itself and duet chat.
func (c *cli) chatCmd(use string) *cobra.Command {
	var o chatOptions
	var f chatFlags
	cmd := &cobra.Command{
		Use:  use,
		Args: cobra.ArbitraryArgs, // the saved peer, checked by runChatCommand
		RunE: func(cmd *cobra.Command, args []string) error {
			f.args = args
			f.set = changedFlags(cmd.Flags())
			c.code = c.runChatCommand(cmd, o, f)
			return nil
		},
	}
	addChatFlags(cmd.Flags(), &o, &f, c)
	_ = cmd.RegisterFlagCompletionFunc("notify", cobra.FixedCompletions([]string{"bell", "desktop", "off"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// addChatFlags defines the chat's flags on fs: flags and defaults as
// before the move to Cobra, GNU style (two dashes).
func addChatFlags(fs *pflag.FlagSet, o *chatOptions, f *chatFlags, c *cli) {
	fs.SortFlags = false
	fs.IntVar(&o.mainPort, "main", -1, "port to bind (0 picks a free one, see \"ready\")")
	fs.IntVar(&o.subPort, "sub", -1, "the peer's port")
	fs.StringVar(&o.peerHost, "peer-host", "127.0.0.1", "the peer's host")
	fs.StringVar(&o.bind, "bind", "127.0.0.1", "address to bind")
	fs.StringVar(&o.name, "name", os.Getenv("USER"), "your display name (default $USER)")
	fs.StringVar(&o.peerName, "peer-name", "peer", "the peer's display name on your screen")
	fs.StringVar(&o.identityPath, "identity", c.defIdentity, "identity key")
	fs.StringVar(&o.knownPath, "known-peers", c.defKnown, "peer keys")
	fs.StringVar(&f.pin, "peer-fingerprint", "", "require this peer fingerprint, not known_peers")
	fs.BoolVar(&o.ephemeral, "ephemeral", false, "a fresh key in memory; no identity file used")
	fs.DurationVar(&o.window, "window", 30*time.Second, "accepted clock skew either way (1s to 24h)")
	fs.DurationVar(&o.ping, "ping", time.Second, "liveness ping interval (100ms to 1m)")
	fs.BoolVar(&o.noHistory, "no-history", false, "keep no chat history (none is recorded or shown)")
	fs.IntVar(&o.historyDays, "history-days", 0, "delete history older than N days (0 keeps all)")
	fs.StringVar(&f.notify, "notify", "bell", "announce unseen messages: bell, desktop (OSC 9/777), off")
	fs.BoolVar(&o.notifyText, "notify-text", false, "show the text in desktop notifications (lock screens too)")
	fs.BoolVar(&o.noTyping, "no-typing", false, "send no typing indicator, nor show the peer's")
	fs.BoolVar(&o.noReadReceipts, "no-read-receipts", false, "send no read receipts, nor show the peer's")
	fs.BoolVar(&f.lines, "lines", false, "line mode even on a terminal")
	fs.BoolVar(&f.headless, "headless", false, "events as JSON lines (docs/HEADLESS.md)")
	fs.StringVar(&f.config, "config", c.defConfig(), "saved peers")
	// The --name default is the user's login, which differs per machine:
	// help names it instead of showing it.
	fs.Lookup("name").DefValue = ""
	fs.Lookup("main").DefValue, fs.Lookup("sub").DefValue = "", "" // required (-1: not given)
}

// changedFlags is the set of flags given on the command line.
func changedFlags(fs *pflag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(fl *pflag.Flag) { set[fl.Name] = true })
	return set
}

// chatFlags is what the chat's flags say beyond chatOptions: which flags
// were given, and the raw values checked later.
type chatFlags struct {
	set             map[string]bool
	pin             string
	notify          string // --notify, parsed into chatOptions.notify
	notifyFrom      string // the config file that gave notify ("": the flag or the default)
	lines, headless bool
	args            []string // left after the flags: the saved peer's name, if any
	config          string   // the config file
	fromConfig      []string // flags the config file gave a value (main, sub)
}

// runChatCommand is duet without a subcommand: its flags are checked
// (every usage error before anything starts), the full screen asks for
// missing ports, the peer's host must resolve, and then one chat runs. The
// config file's defaults and the saved peer named in the arguments fill
// what the flags leave unset.
func (c *cli) runChatCommand(cmd *cobra.Command, o chatOptions, f chatFlags) int {
	stdin, stdout, stderr := c.stdin, c.stdout, c.stderr
	if msg := c.applyConfig(cmd, &o, &f); msg != "" {
		return c.usageErr("%s", msg)
	}
	if msg := parseNotify(&o, &f); msg != "" {
		return c.usageErr("%s", msg)
	}
	if f.set["no-history"] && f.set["history-days"] {
		return c.usageErr("--no-history and --history-days exclude each other (--no-history keeps nothing to delete)")
	}
	for _, name := range f.fromConfig {
		f.set[name] = true
	}
	o.mode = pickFrontEnd(f, stdin, stdout)
	if o.mode == modeScreen && (!f.set["main"] || !f.set["sub"]) {
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
		return c.usageErr("%s", msg)
	}
	if f.pin != "" {
		fp, err := crypto.ParseFingerprint(f.pin)
		if err != nil {
			return c.usageErr("--peer-fingerprint: %v", err)
		}
		o.pinned = &fp
	}
	// The peer's host must resolve now: an unresolvable name would
	// otherwise be retried forever without a word. A host that resolves
	// but is down is fine (duet keeps trying until the peer comes up).
	ips, err := net.ResolveHost(o.peerHost)
	if errors.Is(err, net.ErrNoSuchHost) {
		return c.usageErr("--peer-host %s: %v", o.peerHost, err)
	}
	if err != nil { // the resolver could not be asked: not the user's typo
		say(stderr, "--peer-host %s: %v", o.peerHost, err)
		return exitRuntime
	}
	if o.mainPort == o.subPort && net.TalksToItself(o.bind, ips) {
		return c.usageErr("--main and --sub are both %d and the peer host %s is this machine: duet would talk to itself; give the peer's port to --sub", o.mainPort, o.peerHost)
	}
	return runChat(o, stdin, stdout, stderr)
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
