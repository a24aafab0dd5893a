package main

// Tests of the command line itself: flag errors, --help of each command
// (golden files, go test -run TestHelpGolden -update), the man page and the
// completion offering every flag, and --version. They run the command tree
// in this process: every case is a usage error or help, which ends before
// anything starts.

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files of TestHelpGolden")

func init() {
	// Fang's help is as wide as the terminal (120 at most; read once):
	// the golden files are 100 columns whatever runs the tests.
	os.Setenv("__FANG_TEST_WIDTH", "100")
}

// runIn runs duet's command tree in this process.
func runIn(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(args, strings.NewReader(""), &o, &e)
	return code, o.String(), e.String()
}

// TestFlagErrors: each flag error is one line on stderr, exit 2, naming the
// flag as help does (two dashes), with the nearest flag suggested for a
// misspelt one, before anything starts.
func TestFlagErrors(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	base := []string{"--main", "1", "--sub", "2"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--hsitory-days", "3"}, "unknown flag --hsitory-days (did you mean --history-days?)"},
		{[]string{"--peer-nme", "bob"}, "unknown flag --peer-nme (did you mean --peer-name?)"},
		{[]string{"-main", "5555"}, "unknown flag -main (did you mean --main?)"},
		{[]string{"-history-days", "3"}, "unknown flag -history-days (did you mean --history-days?)"},
		{[]string{"--frobnicate"}, "unknown flag --frobnicate;"},
		{[]string{"bench", "--mesages", "5"}, "unknown flag --mesages (did you mean --messages?)"},
		{[]string{"mitm", "--a-mian", "5"}, "unknown flag --a-mian (did you mean --a-main?)"},
		{[]string{"--history-days", "--lines"}, "--history-days needs a value, got the flag --lines"},
		{append([]string{"--name", "--lines"}, base...), "--name needs a value, got the flag --lines"},
		{append([]string{"--identity", "--ephemeral"}, base...), "--identity needs a value, got the flag --ephemeral"},
		{[]string{"--main"}, "--main needs a value"},
		{[]string{"--main", "x", "--sub", "2"}, `--main "x"`},
		{append([]string{"--no-history", "--history-days", "3"}, base...), "--no-history and --history-days exclude each other"},
		{append([]string{"--notify", "loud"}, base...), `--notify "loud": want bell, desktop or off`},
		{append([]string{"chat", "--notify", "BELL"}, base...), `--notify "BELL": want bell, desktop or off`},
		{append([]string{"--notify", "--no-typing"}, base...), "--notify needs a value, got the flag --no-typing"},
		{[]string{"fingerprint", "extra"}, `fingerprint: unexpected argument "extra"`},
		{[]string{"dmeo"}, `unknown command or saved peer "dmeo"`},
		{[]string{"dmeo"}, "(did you mean duet demo?)"},
		{[]string{"peer", "add", "demo", "--sub", "5556"}, `"demo" is a duet command`},
		{[]string{"peer", "add", "help", "--sub", "5556"}, `"help" is a duet command`},
		{[]string{"peer", "add", "../bob", "--sub", "5556"}, "not a peer name"},
		{[]string{"peer", "add", "bob"}, "--sub PORT is required"},
		{[]string{"peer", "add", "bob", "--sub", "5556", "--name", "--main"}, "--name needs a value, got the flag --main"},
		{[]string{"peer", "add", "bob", "--sbu", "5556"}, "(did you mean --sub?)"},
		{[]string{"peer", "remove"}, "peer remove: give the NAME of a saved peer"},
		{[]string{"peer", "remove", "bob", "carol"}, `peer remove: unexpected argument "carol" (one NAME at a time)`},
		{[]string{"peer", "remove", "../bob"}, "not a peer name"},
		{[]string{"peer", "remove", "bob"}, "(no peers are saved)"},
	} {
		code, _, stderr := runIn(t, c.args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 ||
			!strings.HasSuffix(stderr, "; run duet --help\n") {
			t.Errorf("duet %q: exit %d (want %d), stderr %q (want one line with %q)", c.args, code, exitUsage, stderr, c.want)
		}
	}
}

// TestSuggestFlagDistance: a flag at edit distance 3 or more gets no
// suggestion; the nearest wins.
func TestSuggestFlagDistance(t *testing.T) {
	root := (&cli{}).rootCmd()
	for given, want := range map[string]string{
		"--mian":      " (did you mean --main?)",
		"--ping":      " (did you mean --ping?)",
		"--windw":     " (did you mean --window?)",
		"--xyzzy":     "",
		"--historyxx": "",
	} {
		if got := suggestFlag(root, given); got != want {
			t.Errorf("suggestFlag(%q) = %q, want %q", given, got, want)
		}
	}
}

// TestVersionFrom: a released module says its version; a build from a
// clone says devel with the revision, and -dirty when modified.
func TestVersionFrom(t *testing.T) {
	rev := "5f46d2ce38a3c7dd3f57219b111e8c320fac96df"
	vcs := func(modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	for _, c := range []struct {
		info *debug.BuildInfo
		want string
	}{
		{nil, "devel"},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "devel"},
		{&debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3"},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("false")}, "devel 5f46d2ce38a3"},
		{&debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261205234449-5f46d2ce38a3"}, Settings: vcs("false")}, "devel 5f46d2ce38a3"},
		{&debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261205234449-5f46d2ce38a3+dirty"}, Settings: vcs("true")}, "devel 5f46d2ce38a3-dirty"},
	} {
		if got := versionFrom(c.info); got != c.want {
			t.Errorf("versionFrom(%+v) = %q, want %q", c.info, got, c.want)
		}
	}
	code, stdout, _ := runIn(t, "--version")
	if code != 0 || !strings.HasPrefix(stdout, "duet version ") {
		t.Errorf("--version: exit %d, %q", code, stdout)
	}
}

// commands is every visible command of the tree, as the words that name
// it (nil for duet itself).
func commands(root *cobra.Command) [][]string {
	out := [][]string{nil}
	for _, c := range root.Commands() {
		if c.Hidden || c.Name() == "help" {
			continue
		}
		for _, sub := range commands(c) {
			out = append(out, append([]string{c.Name()}, sub...))
		}
	}
	return out
}

// TestHelpGolden: --help of each command, against testdata/help/*.golden.
func TestHelpGolden(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/home/you/.config")
	for _, words := range append(commands((&cli{}).rootCmd()), []string{"completion"}) {
		name := strings.Join(append([]string{"duet"}, words...), "-")
		code, stdout, stderr := runIn(t, append(words, "--help")...)
		if code != 0 || stderr != "" {
			t.Errorf("%s --help: exit %d, stderr %q", name, code, stderr)
		}
		path := filepath.Join("testdata", "help", name+".golden")
		if *updateGolden {
			if err := os.WriteFile(path, []byte(stdout), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (go test -run TestHelpGolden -update writes it)", err)
		}
		if stdout != string(want) {
			t.Errorf("%s --help differs from %s:\n%s", name, path, stdout)
		}
	}
}

// TestEveryFlagInManAndCompletion: the man page and the shell completion
// come from the same command tree; every flag of every command is in both.
// (The bash and zsh scripts ask `duet __complete` for the words, so that is
// what is asked here; TestE2EBashCompletion runs the bash script itself.)
func TestEveryFlagInManAndCompletion(t *testing.T) {
	code, man, _ := runIn(t, "man")
	if code != 0 || !strings.Contains(man, ".SH EXIT STATUS") {
		t.Fatalf("man: exit %d, no EXIT STATUS section:\n%s", code, man)
	}
	for _, want := range []string{".SH NOTIFICATIONS", "allow-passthrough", "saved peers, mode 0600", `\fBremove\fP NAME`, "duet peer remove write it"} {
		if !strings.Contains(man, want) {
			t.Errorf("man page lacks %q", want)
		}
	}
	for _, shell := range []string{"bash", "zsh"} {
		code, script, _ := runIn(t, "completion", shell)
		if code != 0 || !strings.Contains(script, "__complete") {
			t.Errorf("completion %s: exit %d, script does not ask duet __complete", shell, code)
		}
	}
	root := (&cli{}).rootCmd()
	for _, words := range commands(root) {
		cmd, _, err := root.Find(words)
		if err != nil {
			t.Fatal(err)
		}
		_, offered, _ := runIn(t, append(append([]string{"__complete"}, words...), "--")...)
		cmd.NonInheritedFlags().VisitAll(func(f *pflag.Flag) {
			if f.Hidden || f.Name == "help" {
				return
			}
			if !strings.Contains(man, `\fB--`+f.Name+`\fP`) {
				t.Errorf("duet %v --%s: not in the man page", words, f.Name)
			}
			if !strings.Contains(offered, "--"+f.Name+"\t") {
				t.Errorf("duet %v --%s: not offered by the completion:\n%s", words, f.Name, offered)
			}
		})
	}
}

// TestE2EBashCompletion is the check: with `duet completion bash`
// sourced in bash (and the bash-completion package, which the script
// needs), `duet --hi<TAB>` completes to --history-days.
func TestE2EBashCompletion(t *testing.T) {
	needBinary(t)
	const lib = "/usr/share/bash-completion/bash_completion"
	if _, err := os.Stat(lib); err != nil {
		t.Skip("no bash-completion package")
	}
	bin := t.TempDir()
	if err := os.Symlink(duetBin, filepath.Join(bin, "duet")); err != nil {
		t.Fatal(err)
	}
	script := `source ` + lib + `; source <(duet completion bash)
COMP_LINE="duet --hi"; COMP_POINT=${#COMP_LINE}; COMP_WORDS=(duet --hi); COMP_CWORD=1
__start_duet duet --hi duet 2>/dev/null; printf '%s\n' "${COMPREPLY[@]}"`
	cmd := exec.Command("bash", "--norc", "--noprofile", "-c", script)
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
	out, err := cmd.Output()
	if err != nil || strings.TrimSpace(string(out)) != "--history-days" {
		t.Errorf("bash completion of duet --hi: %q, %v", out, err)
	}
}

// TestPeerRemove: duet peer remove NAME takes the peer out of the config
// file (peer list no longer shows it) and says known_peers keeps its key;
// each usage error is exit 2 with one line saying what is wrong (the saved
// names when few), a peer the file defines inline is exit 1 with the file
// untouched.
func TestPeerRemove(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	const text = "# mine\nname = \"alice\"\n\n[peer.bob]\nsub = 5556\n\n[peer.carol]\nsub = 6000\n"
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	inline := filepath.Join(dir, "inline.toml")
	const inlineText = "peer.bob = { sub = 5556 }\n"
	if err := os.WriteFile(inline, []byte(inlineText), 0o600); err != nil {
		t.Fatal(err)
	}
	many := filepath.Join(dir, "many.toml")
	var b strings.Builder
	for _, n := range []string{"p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9", "bobby"} {
		b.WriteString("[peer." + n + "]\nsub = 1\n")
	}
	if err := os.WriteFile(many, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no name", []string{}, exitUsage, "give the NAME of a saved peer (duet peer list)"},
		{"two names", []string{"bob", "carol"}, exitUsage, `unexpected argument "carol" (one NAME at a time)`},
		{"bad name", []string{"Bob"}, exitUsage, `"Bob": not a peer name`},
		{"not saved lists the saved", []string{"dave"}, exitUsage, `no saved peer "dave" in ` + cfg + " (saved: bob, carol)"},
		{"not saved among many suggests", []string{"bob", "--config", many}, exitUsage, "(did you mean bobby? duet peer list shows all 10)"},
		{"no such --config", []string{"bob", "--config", filepath.Join(dir, "none.toml")}, exitUsage, "no such file"},
		{"empty --config", []string{"bob", "--config", ""}, exitUsage, "no default config path"},
		{"inline refused", []string{"bob", "--config", inline}, exitRuntime, "edit the file by hand"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"peer", "remove"}, c.args...)
			if !strings.Contains(strings.Join(c.args, " "), "--config") {
				args = append(args, "--config", cfg)
			}
			code, stdout, stderr := runIn(t, args...)
			if code != c.code || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 || stdout != "" {
				t.Errorf("duet %q: exit %d (want %d), stdout %q, stderr %q (want one line with %q)", args, code, c.code, stdout, stderr, c.want)
			}
		})
	}
	for path, want := range map[string]string{cfg: text, inline: inlineText} {
		if data, _ := os.ReadFile(path); string(data) != want {
			t.Errorf("%s changed by a refused remove:\n%s", path, data)
		}
	}

	kp := filepath.Join(dir, "known_peers")
	code, stdout, stderr := runIn(t, "peer", "remove", "bob", "--config", cfg)
	if code != exitOK || stderr != "" ||
		stdout != "removed bob from "+cfg+"\nits key and trust, if recorded, stay in "+filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "duet", "known_peers")+" (not changed)\n" {
		t.Errorf("peer remove bob: exit %d, stderr %q, stdout %q", code, stderr, stdout)
	}
	if data, _ := os.ReadFile(cfg); string(data) != "# mine\nname = \"alice\"\n\n[peer.carol]\nsub = 6000\n" {
		t.Errorf("config after remove:\n%s", data)
	}
	if _, err := os.Stat(kp); err == nil {
		t.Errorf("peer remove created %s", kp)
	}
	code, list, _ := runIn(t, "peer", "list", "--config", cfg)
	if code != exitOK || strings.Contains(list, "bob") || !strings.Contains(list, "carol") {
		t.Errorf("peer list after remove: exit %d:\n%s", code, list)
	}
	code, _, stderr = runIn(t, "peer", "remove", "bob", "--config", cfg)
	if code != exitUsage || !strings.Contains(stderr, `no saved peer "bob"`) || !strings.Contains(stderr, "(saved: carol)") {
		t.Errorf("second remove of bob: exit %d, %q", code, stderr)
	}
}

// TestPeerRemoveCompletesSavedNames: NAME completes from the saved peers
// of the --config file, and nothing after it.
func TestPeerRemoveCompletesSavedNames(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(cfg, []byte("[peer.bob]\nsub = 1\n[peer.carol]\nsub = 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, out, _ := runIn(t, "__complete", "peer", "remove", "--config", cfg, "")
	if !strings.HasPrefix(out, "bob\ncarol\n:4\n") {
		t.Errorf("completion of NAME:\n%s", out)
	}
	_, out, _ = runIn(t, "__complete", "peer", "remove", "--config", cfg, "bob", "")
	if !strings.HasPrefix(out, ":4\n") {
		t.Errorf("completion after NAME:\n%s", out)
	}
}
