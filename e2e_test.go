package main

// End-to-end tests: real duet processes talking over loopback ZeroMQ,
// driven through --headless JSON lines. TestMain builds the binary once; if
// it cannot be built, every test here skips saying why.

import (
	"bufio"
	"bytes"
	"duet/net"
	"encoding/json"
	"fmt"
	"io"
	stdnet "net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	duetBin  string // the built binary
	buildErr error  // why it could not be built
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "duet-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	duetBin = filepath.Join(dir, "duet")
	cmd := exec.Command("go", "build", "-o", duetBin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		buildErr = fmt.Errorf("go build: %v\n%s", err, out)
	}
	// The tests never read or write the user's own config directory
	// (config.toml, identities, known_peers): every duet they start, and
	// the in-process command tests, see an empty one of their own. Set
	// after the build: go's own settings (GOENV) live there too.
	if err := os.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func needBinary(t *testing.T) {
	t.Helper()
	if buildErr != nil {
		t.Skipf("duet binary could not be built (packages still being written?): %v", buildErr)
	}
}

// ---- helpers ----

// event is one headless JSON line (the union of all event fields).
type event struct {
	Event           string   `json:"event"`
	Time            string   `json:"time"`
	Main            int      `json:"main"`
	Sub             int      `json:"sub"`
	Fingerprint     string   `json:"fingerprint"`
	State           string   `json:"state"`
	Direction       string   `json:"direction"`
	RTTms           float64  `json:"rtt_ms"`
	Authenticated   bool     `json:"authenticated"`
	Step            int      `json:"step"`
	Name            string   `json:"name"`
	Ms              float64  `json:"ms"`
	Error           string   `json:"error"`
	PeerFingerprint string   `json:"peer_fingerprint"`
	SafetyNumber    string   `json:"safety_number"`
	ID              string   `json:"id"`
	Seq             *float64 `json:"seq"`
	Text            string   `json:"text"`
	SentAt          string   `json:"sent_at"`
	PossibleDup     bool     `json:"possible_duplicate"`
	Missing         uint64   `json:"missing"`
	Reason          string   `json:"reason"`
	Detail          string   `json:"detail"`
	Count           int      `json:"count"` // aggregated rejections: absent (0) means 1
	// duet mitm's events
	Flow   string `json:"flow"`
	Action string `json:"action"`
	Attack string `json:"attack"`
	Type   string `json:"type"`

	raw string
}

func (e event) String() string { return e.raw }

// proc is one running duet process.
type proc struct {
	t     *testing.T
	name  string
	args  []string
	cmd   *exec.Cmd
	stdin io.WriteCloser

	mu      sync.Mutex
	events  []event
	bad     []string      // stdout lines that are not JSON objects
	changed chan struct{} // closed and replaced on every new event
	stderr  bytes.Buffer
	exited  chan struct{}
	exit    int // exit code (-1: killed by a signal), valid after exited
}

// spawnDuet starts duet with args, stderr collected, and returns its stdout
// for the caller to read (startDuet parses it into events).
func spawnDuet(t *testing.T, name string, args ...string) (*proc, io.ReadCloser) {
	t.Helper()
	needBinary(t)
	p := &proc{t: t, name: name, args: args, changed: make(chan struct{}), exited: make(chan struct{})}
	p.cmd = exec.Command(duetBin, args...)
	p.cmd.Stderr = stderrWriter{p}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return p, stdout
}

// startDuet starts duet with args. The process is killed when the test ends.
func startDuet(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p, stdout := spawnDuet(t, name, args...)
	readDone := make(chan struct{})
	go p.read(stdout, readDone)
	go func() {
		<-readDone
		err := p.cmd.Wait()
		p.mu.Lock()
		p.exit = p.cmd.ProcessState.ExitCode()
		_ = err
		p.mu.Unlock()
		close(p.exited)
		p.notify()
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			p.dump()
		}
	})
	return p
}

// stderrWriter collects a process's stderr and wakes the waiters, as a
// new event does: stdout and stderr are separate pipes, so a line on
// stderr may arrive after an event printed later (waitStderr).
type stderrWriter struct{ p *proc }

func (w stderrWriter) Write(b []byte) (int, error) {
	n, err := w.p.stderrWrite(b)
	w.p.notify()
	return n, err
}

func (p *proc) stderrWrite(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.Write(b)
}

func (p *proc) read(r io.Reader, done chan struct{}) {
	defer close(done)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		var e event
		err := json.Unmarshal([]byte(line), &e)
		p.mu.Lock()
		if err != nil || e.Event == "" || e.Time == "" {
			p.bad = append(p.bad, line)
		} else {
			e.raw = line
			p.events = append(p.events, e)
		}
		p.mu.Unlock()
		p.notify()
	}
}

func (p *proc) notify() {
	p.mu.Lock()
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// send writes lines to the process's stdin.
func (p *proc) send(lines ...string) {
	p.t.Helper()
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	if _, err := io.WriteString(p.stdin, b.String()); err != nil {
		p.t.Fatalf("%s: writing stdin: %v", p.name, err)
	}
}

func (p *proc) kill() {
	if p.cmd.Process != nil {
		p.cmd.Process.Kill()
	}
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		p.t.Errorf("%s: not reaped after kill", p.name)
	}
}

// waitExit waits for the process to exit and returns its exit code.
func (p *proc) waitExit(timeout time.Duration) (int, bool) {
	select {
	case <-p.exited:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.exit, true
	case <-time.After(timeout):
		return 0, false
	}
}

func (p *proc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// snapshot returns the events so far.
func (p *proc) snapshot() []event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]event(nil), p.events...)
}

func (p *proc) stderrText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// waitStderr waits until stderr holds every one of wants, or the
// process has exited (its stderr is then complete), or timeout; it
// returns stderr as it then stands, for the caller to check.
func (p *proc) waitStderr(timeout time.Duration, wants ...string) string {
	deadline := time.After(timeout)
	for {
		p.mu.Lock()
		text, ch := p.stderr.String(), p.changed
		p.mu.Unlock()
		if contains(wants...)(text) {
			return text
		}
		select {
		case <-ch:
		case <-p.exited:
			return p.stderrText()
		case <-deadline:
			return text
		}
	}
}

// waitN waits until n events satisfy pred and returns the first n of them.
// It fails the test on timeout or if the process exits first.
func (p *proc) waitN(t *testing.T, n int, timeout time.Duration, what string, pred func(event) bool) []event {
	t.Helper()
	deadline := time.After(timeout)
	var got []event
	next := 0 // events before next have been looked at
	for {
		p.mu.Lock()
		for ; next < len(p.events) && len(got) < n; next++ {
			if e := p.events[next]; pred(e) {
				got = append(got, e)
			}
		}
		ch := p.changed
		p.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-ch:
		case <-p.exited:
			// Re-check once: the last lines may have arrived with the exit.
			p.mu.Lock()
			cnt := 0
			for _, e := range p.events {
				if pred(e) {
					cnt++
				}
			}
			p.mu.Unlock()
			if cnt < n {
				code, _ := p.waitExit(0)
				t.Fatalf("%s exited (code %d) before %s (%d/%d)", p.name, code, what, cnt, n)
			}
		case <-deadline:
			t.Fatalf("%s: timed out after %v waiting for %s (%d/%d)", p.name, timeout, what, len(got), n)
		}
	}
}

// waitFor waits for the first event satisfying pred.
func (p *proc) waitFor(t *testing.T, timeout time.Duration, what string, pred func(event) bool) event {
	t.Helper()
	return p.waitN(t, 1, timeout, what, pred)[0]
}

func (p *proc) count(pred func(event) bool) int {
	n := 0
	for _, e := range p.snapshot() {
		if pred(e) {
			n++
		}
	}
	return n
}

// rejections sums the rejections with reason that p reported, counting an
// aggregated event ("count": N) as N.
func (p *proc) rejections(reason string) int {
	n := 0
	for _, e := range p.snapshot() {
		if e.Event == "rejected" && e.Reason == reason {
			n += max(1, e.Count)
		}
	}
	return n
}

func (p *proc) dump() {
	evs := p.snapshot()
	const tail = 40
	from := max(0, len(evs)-tail)
	var b strings.Builder
	fmt.Fprintf(&b, "---- %s: duet %s\n", p.name, strings.Join(p.args, " "))
	fmt.Fprintf(&b, "stderr:\n%s", p.stderrText())
	p.mu.Lock()
	for _, l := range p.bad {
		fmt.Fprintf(&b, "NOT JSON: %.200s\n", l)
	}
	p.mu.Unlock()
	fmt.Fprintf(&b, "last %d of %d events:\n", len(evs)-from, len(evs))
	for _, e := range evs[from:] {
		fmt.Fprintf(&b, "  %.300s\n", e.raw)
	}
	p.t.Log(b.String())
}

// rssKiB returns VmRSS and VmHWM of a process in KiB, from /proc/PID/status.
func rssKiB(pid int) (rss, hwm int64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = v
		case "VmHWM:":
			hwm = v
		}
	}
	return rss, hwm, nil
}

// freePorts returns n distinct free TCP ports on 127.0.0.1, chosen as the
// demo chooses them (net.FreeLoopbackPorts: below the ephemeral range, so
// no outgoing connection of another test takes one before it is bound).
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports, err := net.FreeLoopbackPorts(n)
	if err != nil {
		t.Fatal(err)
	}
	return ports
}

// pair describes two peers A and B on fresh ports with their own files.
type pair struct {
	dir          string
	portA, portB int
}

func newPair(t *testing.T) pair {
	ports := freePorts(t, 2)
	return pair{dir: t.TempDir(), portA: ports[0], portB: ports[1]}
}

// args returns the flags for side "A" or "B"; identity "" means --ephemeral.
func (pr pair) args(side, identity string, extra ...string) []string {
	mainP, sub := pr.portA, pr.portB
	if side == "B" {
		mainP, sub = pr.portB, pr.portA
	}
	return peerFlags(pr.dir, side, identity, mainP, sub, extra...)
}

// peerFlags are the headless flags of side "A" or "B", files in dir;
// identity "" means --ephemeral.
func peerFlags(dir, side, identity string, mainP, sub int, extra ...string) []string {
	a := []string{"--headless", "--main", strconv.Itoa(mainP), "--sub", strconv.Itoa(sub),
		"--known-peers", filepath.Join(dir, "kp_"+side), "--ping", "200ms"}
	if identity == "" {
		a = append(a, "--ephemeral")
	} else {
		a = append(a, "--identity", filepath.Join(dir, identity))
	}
	return append(a, extra...)
}

func isEv(name string) func(event) bool {
	return func(e event) bool { return e.Event == name }
}

func established(e event) bool { return e.Event == "session" && e.State == "established" }

func textPrefix(prefix string) func(event) bool {
	return func(e event) bool { return e.Event == "message" && strings.HasPrefix(e.Text, prefix) }
}

const (
	// Deadlines, not performance targets: generous enough that only a real
	// defect misses them on a loaded machine (figures go to t.Logf).
	readyTimeout   = 30 * time.Second
	sessionTimeout = 30 * time.Second
	msgTimeout     = 30 * time.Second
	exitTimeout    = 30 * time.Second
)

// startPair starts A and B and waits for both to establish a session.
func startPair(t *testing.T, pr pair, idA, idB string) (a, b *proc) {
	t.Helper()
	a = startDuet(t, "A", pr.args("A", idA)...)
	b = startDuet(t, "B", pr.args("B", idB)...)
	a.waitFor(t, sessionTimeout, "session established", established)
	b.waitFor(t, sessionTimeout, "session established", established)
	return a, b
}

// ---- tests ----

func TestE2EHandshake(t *testing.T) {
	pr := newPair(t)
	a, b := startPair(t, pr, "", "")
	ra := a.waitFor(t, readyTimeout, "ready", isEv("ready"))
	rb := b.waitFor(t, readyTimeout, "ready", isEv("ready"))
	if ra.Main != pr.portA || ra.Sub != pr.portB || rb.Main != pr.portB || rb.Sub != pr.portA {
		t.Errorf("ready ports: A %d/%d, B %d/%d; want %d/%d", ra.Main, ra.Sub, rb.Main, rb.Sub, pr.portA, pr.portB)
	}
	if ra.Fingerprint == "" || ra.Fingerprint == rb.Fingerprint {
		t.Errorf("fingerprints %q %q", ra.Fingerprint, rb.Fingerprint)
	}
	sa := a.waitFor(t, 0, "", established)
	sb := b.waitFor(t, 0, "", established)
	if sa.SafetyNumber == "" || sa.SafetyNumber != sb.SafetyNumber {
		t.Errorf("safety numbers differ: A %q, B %q", sa.SafetyNumber, sb.SafetyNumber)
	}
	if sa.PeerFingerprint != rb.Fingerprint || sb.PeerFingerprint != ra.Fingerprint {
		t.Errorf("peer fingerprints: A sees %q (B is %q), B sees %q (A is %q)",
			sa.PeerFingerprint, rb.Fingerprint, sb.PeerFingerprint, ra.Fingerprint)
	}
	for _, p := range []*proc{a, b} {
		done := map[int]bool{}
		for _, e := range p.snapshot() {
			if established(e) {
				break
			}
			if e.Event == "handshake" && e.State == "done" {
				done[e.Step] = true
				if e.Name == "" {
					t.Errorf("%s: handshake step %d without name", p.name, e.Step)
				}
			}
		}
		for step := 1; step <= 6; step++ {
			if !done[step] {
				t.Errorf("%s: no handshake step %d done before the session", p.name, step)
			}
		}
	}
}

// sendMany writes count messages prefix+i to p, from a goroutine.
func sendMany(p *proc, prefix string, from, count int, pad string) chan error {
	errc := make(chan error, 1)
	go func() {
		w := bufio.NewWriterSize(p.stdin, 256<<10)
		for i := from; i < from+count; i++ {
			if _, err := fmt.Fprintf(w, "%s%06d%s\n", prefix, i, pad); err != nil {
				errc <- err
				return
			}
		}
		errc <- w.Flush()
	}()
	return errc
}

// checkExactlyOnceInOrder checks that the messages with prefix are exactly
// prefix000000 .. prefix(count-1), in order.
func checkExactlyOnceInOrder(t *testing.T, p *proc, prefix string, count int, pad string) {
	t.Helper()
	if d := diagnoseSequence(p, prefix, count, pad); d.bad() {
		t.Fatalf("%s: %s", p.name, d)
	}
}

// sequenceReport says how the messages with a prefix differ from the
// expected sequence.
type sequenceReport struct {
	got, want, missing, dups int
	firstWrong               int // -1 if in order
	firstGot, firstWant      string
	other                    map[string]int // gap and rejected events by reason
}

func (r sequenceReport) bad() bool { return r.missing > 0 || r.dups > 0 || r.firstWrong >= 0 }

func (r sequenceReport) String() string {
	s := fmt.Sprintf("%d messages shown for %d sent: %d missing, %d duplicates", r.got, r.want, r.missing, r.dups)
	if r.firstWrong >= 0 {
		s += fmt.Sprintf("; first out of place: #%d is %.30q, want %.30q", r.firstWrong, r.firstGot, r.firstWant)
	}
	return s + fmt.Sprintf("; events: %v", r.other)
}

func diagnoseSequence(p *proc, prefix string, count int, pad string) sequenceReport {
	r := sequenceReport{want: count, firstWrong: -1, other: map[string]int{}}
	var got []string
	for _, e := range p.snapshot() {
		switch {
		case e.Event == "message" && strings.HasPrefix(e.Text, prefix):
			got = append(got, e.Text)
		case e.Event == "gap":
			r.other[fmt.Sprintf("gap(%d)", e.Missing)]++
		case e.Event == "rejected":
			r.other["rejected "+e.Reason]++
		}
	}
	r.got = len(got)
	seen := map[string]int{}
	for _, text := range got {
		seen[text]++
	}
	for i := range count {
		want := fmt.Sprintf("%s%06d%s", prefix, i, pad)
		switch n := seen[want]; {
		case n == 0:
			r.missing++
		case n > 1:
			r.dups += n - 1
		}
		if r.firstWrong < 0 && (i >= len(got) || got[i] != want) {
			r.firstWrong, r.firstGot, r.firstWant = i, at(got, i), want
		}
	}
	if r.firstWrong < 0 && len(got) > count {
		r.firstWrong, r.firstGot, r.firstWant = count, got[count], "<none>"
	}
	return r
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "<none>"
}

// checkAllDelivered waits until every id p queued has a delivered event.
func checkAllDelivered(t *testing.T, p *proc, want int, timeout time.Duration) {
	t.Helper()
	queued := p.waitN(t, want, timeout, "queued", isEv("queued"))
	ids := map[string]bool{}
	for _, e := range queued {
		ids[e.ID] = true
	}
	if len(ids) != want {
		t.Fatalf("%s: %d distinct ids for %d messages", p.name, len(ids), want)
	}
	p.waitN(t, want, timeout, "delivered receipts", func(e event) bool { return e.Event == "delivered" && ids[e.ID] })
	seen := map[string]int{}
	for _, e := range p.snapshot() {
		if e.Event == "delivered" {
			seen[e.ID]++
		}
	}
	for id := range ids {
		if seen[id] != 1 {
			t.Errorf("%s: id %s delivered %d times", p.name, id, seen[id])
		}
	}
}

func TestE2EHundredEachWay(t *testing.T) {
	pr := newPair(t)
	a, b := startPair(t, pr, "", "")
	const n = 100
	ea := sendMany(a, "a->b ", 0, n, "")
	eb := sendMany(b, "b->a ", 0, n, "")
	for _, c := range []chan error{ea, eb} {
		if err := <-c; err != nil {
			t.Fatal(err)
		}
	}
	b.waitN(t, n, msgTimeout, "messages from A", textPrefix("a->b "))
	a.waitN(t, n, msgTimeout, "messages from B", textPrefix("b->a "))
	checkAllDelivered(t, a, n, msgTimeout)
	checkAllDelivered(t, b, n, msgTimeout)
	time.Sleep(300 * time.Millisecond) // a late duplicate would show now
	checkExactlyOnceInOrder(t, b, "a->b ", n, "")
	checkExactlyOnceInOrder(t, a, "b->a ", n, "")
	for _, e := range b.snapshot() {
		if e.Event == "message" {
			if _, err := time.Parse(time.RFC3339Nano, e.SentAt); err != nil || e.ID == "" || e.Seq == nil {
				t.Fatalf("bad message event %s", e.raw)
			}
		}
	}
}

func TestE2EBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("burst of 20,000 messages skipped in -short mode")
	}
	pr := newPair(t)
	a, b := startPair(t, pr, "", "")
	const n = 20000
	pad := " " + strings.Repeat("x", 1024-len("burst 000000 "))
	if err := <-sendMany(a, "burst ", 0, n, pad); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	b.waitN(t, n, 120*time.Second, "burst messages", textPrefix("burst "))
	t.Logf("20,000 x 1 KiB arrived %v after the last was written", time.Since(start))
	checkExactlyOnceInOrder(t, b, "burst ", n, pad)
	checkAllDelivered(t, a, n, 60*time.Second)
	if rss, hwm, err := rssKiB(b.cmd.Process.Pid); err == nil {
		t.Logf("B: VmRSS %d KiB, VmHWM %d KiB", rss, hwm)
	}
}

func TestE2EReplay(t *testing.T) {
	pr := newPair(t)
	a, b := startPair(t, pr, "", "")
	a.send("first")
	b.waitFor(t, msgTimeout, "first", func(e event) bool { return e.Event == "message" && e.Text == "first" })
	a.send("/replay")
	rej := b.waitFor(t, msgTimeout, "rejected replay", func(e event) bool { return e.Event == "rejected" })
	if rej.Reason != "replay" {
		t.Errorf("rejected with reason %q, want replay: %s", rej.Reason, rej.raw)
	}
	a.send("second")
	b.waitFor(t, msgTimeout, "second", func(e event) bool { return e.Event == "message" && e.Text == "second" })
	checkAllDelivered(t, a, 2, msgTimeout)
	if n := b.count(func(e event) bool { return e.Event == "message" && e.Text == "first" }); n != 1 {
		t.Errorf("first shown %d times", n)
	}
	if n := b.count(isEv("rejected")); n != 1 {
		t.Errorf("%d rejected events, want 1", n)
	}
}

func TestE2EKeyChange(t *testing.T) {
	pr := newPair(t)
	a, b := startPair(t, pr, "idA.pem", "") // A keeps its key across its restart below
	oldFP := b.waitFor(t, 0, "", isEv("ready")).Fingerprint
	b.kill()
	b2 := startDuet(t, "B2", pr.args("B", "")...) // another ephemeral key
	newFP := b2.waitFor(t, readyTimeout, "ready", isEv("ready")).Fingerprint
	if newFP == oldFP {
		t.Fatal("ephemeral keys are equal")
	}
	a.waitFor(t, sessionTimeout, "key-changed rejection or failed handshake", func(e event) bool {
		return (e.Event == "rejected" && e.Reason == "key-changed") ||
			(e.Event == "handshake" && e.State == "failed" && strings.Contains(e.Error, "changed"))
	})
	// A verified session existed in this run: another key is a rejected
	// attempt, not a reason to exit (anyone holding a key could otherwise
	// end the conversation). A keeps running and establishes nothing new.
	if _, exited := a.waitExit(2 * time.Second); exited {
		t.Fatal("A exited when a different key was presented mid-run")
	}
	if n := a.count(established); n != 1 {
		t.Errorf("A: %d sessions established, want only the first", n)
	}
	if n := b2.count(established); n != 0 {
		t.Errorf("B2 established a session with A")
	}

	// At start-up, a changed key aborts the run with exit 4, naming both
	// fingerprints, as ssh does: A restarts with the same known_peers.
	a.kill()
	a2 := startDuet(t, "A2", pr.args("A", "idA.pem")...)
	code, ok := a2.waitExit(exitTimeout)
	if !ok {
		t.Fatal("A2 kept running although the peer's key differs from known_peers")
	}
	if code != exitPeerChanged {
		t.Errorf("A2 exit code %d, want %d", code, exitPeerChanged)
	}
	if n := a2.count(established); n != 0 {
		t.Errorf("A2 established a session with a changed key")
	}
	stderr := a2.stderrText()
	if !strings.Contains(stderr, oldFP) || !strings.Contains(stderr, newFP) {
		t.Errorf("A2's stderr does not name both fingerprints (%s, %s):\n%s", oldFP, newFP, stderr)
	}
}

// textsByProcess returns, for each process, how many times each message text
// with prefix was shown.
func textCounts(p *proc, prefix string) map[string]int {
	m := map[string]int{}
	for _, e := range p.snapshot() {
		if e.Event == "message" && strings.HasPrefix(e.Text, prefix) {
			m[e.Text]++
		}
	}
	return m
}

// TestE2ERestartReceiver kills the receiving side with SIGKILL mid-stream
// and restarts it (same ports, same identity file, so the same delivery
// log). The sender survives and keeps its queue of unacknowledged messages:
// nothing may be lost, and the restarted receiver must not show again what
// its predecessor showed.
func TestE2ERestartReceiver(t *testing.T) {
	pr := newPair(t)
	a, b1 := startPair(t, pr, "idA.pem", "idB.pem")
	const before, during, after = 300, 100, 100
	if err := <-sendMany(a, "m ", 0, before, ""); err != nil {
		t.Fatal(err)
	}
	b1.waitN(t, 50, msgTimeout, "some messages", textPrefix("m "))
	b1.kill() // mid-stream: A is still sending and resending
	shownByB1 := textCounts(b1, "m ")
	if err := <-sendMany(a, "m ", before, during, ""); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // A notices the outage
	b2 := startDuet(t, "B2", pr.args("B", "idB.pem")...)
	b2.waitFor(t, sessionTimeout, "session established", established)
	a.waitN(t, 2, sessionTimeout, "second session", established)
	if err := <-sendMany(a, "m ", before+during, after, ""); err != nil {
		t.Fatal(err)
	}
	total := before + during + after
	checkAllDelivered(t, a, total, 60*time.Second)
	// A receipt means B2 wrote the line, not that this test has read it
	// yet: wait until every message B1 did not show is in B2's output (a
	// lost one shows below, after the deadline), then a little more for a
	// late duplicate.
	notShown := func() int {
		shown, n := textCounts(b2, "m "), 0
		for i := range total {
			if text := fmt.Sprintf("m %06d", i); shownByB1[text]+shown[text] == 0 {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(msgTimeout); notShown() > 0 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	shownByB2 := textCounts(b2, "m ")
	flagged := map[string]bool{}
	for _, e := range b2.snapshot() {
		if e.Event == "message" && e.PossibleDup {
			flagged[e.Text] = true
		}
	}
	lost, across := 0, 0
	for i := range total {
		text := fmt.Sprintf("m %06d", i)
		n1, n2 := shownByB1[text], shownByB2[text]
		if n1 > 1 || n2 > 1 {
			t.Errorf("%q shown %d times by B1 and %d by B2", text, n1, n2)
		}
		switch {
		case n1+n2 == 0:
			lost++
		case n1 > 0 && n2 > 0:
			across++
			if !flagged[text] {
				t.Errorf("%q shown by the killed receiver and again by its restart without possible_duplicate", text)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d messages lost across the receiver restart", lost, total)
	}
	t.Logf("B1 showed %d, B2 showed %d, %d shown by both", len(shownByB1), len(shownByB2), across)
	// The receiver's database marks the messages of a loop turn "showing"
	// in one commit before they are written to stdout, "seen" in the next
	// commit, and acknowledges them only then: the messages a SIGKILL can
	// catch between those commits (the last turn or two) are the only ones
	// that may be shown again, and then flagged possible_duplicate
	// (docs/PROTOCOL.md, section 9), whether B1 had written them or not
	// yet. So the flagged messages are one run in the order sent, and every
	// message B1 showed from the first flagged one on is flagged.
	var flaggedIdx []int
	for i := range total {
		if flagged[fmt.Sprintf("m %06d", i)] {
			flaggedIdx = append(flaggedIdx, i)
		}
	}
	for k := 1; k < len(flaggedIdx); k++ {
		if flaggedIdx[k] != flaggedIdx[k-1]+1 {
			t.Errorf("flagged messages are not one run: %v", flaggedIdx)
			break
		}
	}
	if len(flaggedIdx) > 0 {
		for i := flaggedIdx[0]; i < total; i++ {
			text := fmt.Sprintf("m %06d", i)
			if shownByB1[text] > 0 && !flagged[text] {
				t.Errorf("%q shown by B1 after the first flagged message but not flagged", text)
			}
		}
	}
	t.Logf("%d flagged possible_duplicate, %d of them shown by B1", len(flagged), across)
}

// TestE2ERestartSender kills the sending side with SIGKILL mid-stream and
// restarts it. The receiver survives with its memory of what it has shown.
// What the killed process had queued but not got receipts for died with it
// (the claim is about acknowledged messages): every message the old sender
// saw delivered must be shown by the receiver exactly once, nothing may be
// shown twice, and everything the restarted sender sends arrives exactly once.
func TestE2ERestartSender(t *testing.T) {
	pr := newPair(t)
	a1, b := startPair(t, pr, "idA.pem", "idB.pem")
	const first, second = 20000, 100
	errc := sendMany(a1, "k1 ", 0, first, "")
	a1.waitN(t, 500, msgTimeout, "some receipts", isEv("delivered"))
	a1.kill() // mid-stream: more lines are being written to its stdin
	<-errc    // the write fails or finishes: either is fine
	// Map A1's ids to texts: the k-th queued event is the k-th line. A
	// receipt may be printed before its queued event, so the last few
	// receipts before the kill may have no known text: those are skipped.
	idText := map[string]string{}
	for _, e := range a1.snapshot() {
		if e.Event == "queued" {
			idText[e.ID] = fmt.Sprintf("k1 %06d", len(idText))
		}
	}
	var acked []string
	for _, e := range a1.snapshot() {
		if text, ok := idText[e.ID]; ok && e.Event == "delivered" {
			acked = append(acked, text)
		}
	}
	a2 := startDuet(t, "A2", pr.args("A", "idA.pem")...)
	a2.waitFor(t, sessionTimeout, "session established", established)
	b.waitN(t, 2, sessionTimeout, "second session", established)
	if err := <-sendMany(a2, "k2 ", 0, second, ""); err != nil {
		t.Fatal(err)
	}
	b.waitN(t, second, msgTimeout, "messages from A2", textPrefix("k2 "))
	checkAllDelivered(t, a2, second, msgTimeout)
	time.Sleep(300 * time.Millisecond)
	checkExactlyOnceInOrder(t, b, "k2 ", second, "")
	shown := textCounts(b, "k1 ")
	for text, n := range shown {
		if n != 1 {
			t.Errorf("%q shown %d times", text, n)
		}
	}
	for _, text := range acked {
		if shown[text] != 1 {
			t.Errorf("%q was acknowledged to A1 but shown %d times by B", text, shown[text])
		}
	}
	t.Logf("A1 queued %d, got %d receipts; B showed %d of A1's messages", len(idText), len(acked), len(shown))
}

func runDuet(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	needBinary(t)
	cmd := exec.Command(duetBin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	cmd.Stdin = strings.NewReader("")
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("duet %v did not exit", args)
	}
	return cmd.ProcessState.ExitCode(), o.String(), e.String()
}

// TestE2EBench runs a small `duet bench` and checks that the table has
// every row with a number in each column.
func TestE2EBench(t *testing.T) {
	code, stdout, stderr := runDuet(t, "bench", "--messages", "2000", "--samples", "20", "--handshakes", "2")
	if code != 0 {
		t.Fatalf("duet bench: exit %d, stderr %q", code, stderr)
	}
	for _, row := range []string{"throughput, 64 B messages", "throughput, 1024 B messages", "one-way latency, idle, median", "one-way latency, idle, p99", "handshake, median"} {
		line := ""
		for _, l := range strings.Split(stdout, "\n") {
			if strings.HasPrefix(l, row) {
				line = l
			}
		}
		if line == "" || !strings.ContainsAny(strings.TrimPrefix(line, row), "0123456789") {
			t.Errorf("bench table row %q missing or empty:\n%s", row, stdout)
		}
	}
	// Another program's figures are never printed as part of a measurement:
	// only as a labelled reference with its source.
	for _, l := range strings.Split(stdout, "\n") {
		if strings.Contains(l, "Python") && !(strings.Contains(l, "reference, not measured in this run") && strings.Contains(l, "seed/README.md")) {
			t.Errorf("unlabelled reference figures: %q", l)
		}
	}
}

// TestE2EBenchProcesses: duet bench --processes measures two real duet
// processes beside a raw zmq4 pair of processes and prints every row with
// figures in all three columns where each applies, and the targets.
func TestE2EBenchProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 14 processes")
	}
	code, stdout, stderr := runDuet(t, "bench", "--processes", "--runs", "1", "--messages", "2000", "--samples", "20")
	if code != 0 {
		t.Fatalf("duet bench --processes: exit %d, stderr %q", code, stderr)
	}
	for _, c := range []struct {
		row     string
		figures int // value columns with a figure (raw, --ephemeral, durable)
	}{
		{"throughput, 1 KiB messages", 3},
		{"throughput, 64 B messages", 3},
		{"idle latency, median", 3},
		{"idle latency, p99", 3},
		{"start to session", 2},
		{"restart (kill -9) to session", 1},
		{"peak RSS, larger process", 3},
	} {
		line := ""
		for _, l := range strings.Split(stdout, "\n") {
			if strings.HasPrefix(l, c.row+" ") { // the table row, not a footnote
				line = strings.TrimPrefix(l, c.row)
				break
			}
		}
		// A value cell is a number with a unit ("36.0k/s", "305 µs", "13.9 MiB").
		figures := regexp.MustCompile(`[0-9.]+(k/s|M/s|/s| µs| ms| s| MiB| KiB)`).FindAllString(line, -1)
		if line == "" || len(figures) < c.figures {
			t.Errorf("row %q: %d figures, want %d:\n%s", c.row, len(figures), c.figures, stdout)
		}
	}
	if !strings.Contains(stdout, "targets met:") || !strings.Contains(stdout, "two real processes") {
		t.Errorf("no targets line or method:\n%s", stdout)
	}
	t.Logf("\n%s", stdout)
}

func TestE2EUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--bogus"},
		{"--main", "5555"},
		{"--sub", "5556"},
		{"--main", "x", "--sub", "5556"},
		{"--main", "70000", "--sub", "5556"},
		{"--main", "5555", "--sub", "5556", "--window", "fast"},
		{"--main", "5555", "--sub", "5556", "--peer-fingerprint", "nope"},
		{"--main", "5555", "--sub", "5556", "extra"},
		{"--ephemeral", "--identity", filepath.Join(dir, "k"), "--main", "1", "--sub", "2"},
		{"frobnicate"},
		{"bench", "--bogus"},
		{"mitm"},
		{"mitm", "--a-main", "5555", "--a-sub", "6556", "--b-main", "5556"},
		{"mitm", "--a-main", "5555", "--a-sub", "5555", "--b-main", "5556", "--b-sub", "6555"},
		{"mitm", "--a-main", "5555", "--a-sub", "6556", "--b-main", "5556", "--b-sub", "70000"},
		{"mitm", "--a-main", "5555", "--a-sub", "6556", "--b-main", "5556", "--b-sub", "6555", "extra"},
		{"demo"}, // not a terminal: it is the full screen
		{"demo", "extra"},
	} {
		code, _, stderr := runDuet(t, args...)
		if code != exitUsage {
			t.Errorf("duet %v: exit %d, want %d (stderr %q)", args, code, exitUsage, stderr)
		}
		lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
		if len(lines) != 1 || lines[0] == "" {
			t.Errorf("duet %v: stderr is not one line: %q", args, stderr)
		}
		if args[0] != "demo" && !strings.Contains(stderr, "duet --help") {
			t.Errorf("duet %v: stderr does not point to --help: %q", args, stderr)
		}
	}
	code, stdout, _ := runDuet(t, "--help")
	if code != 0 || !strings.Contains(stdout, "duet --main 5555 --sub 5556") || !strings.Contains(stdout, "fingerprint") {
		t.Errorf("--help: exit %d, output:\n%s", code, stdout)
	}
}

func TestE2EIdentityPermissions(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "sub", "id.pem")
	code, fp1, stderr := runDuet(t, "fingerprint", "--identity", key)
	if code != 0 || strings.TrimSpace(fp1) == "" {
		t.Fatalf("fingerprint: exit %d, stderr %q", code, stderr)
	}
	if st, err := os.Stat(key); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("identity file mode: %v %v", st.Mode(), err)
	}
	code, fp2, _ := runDuet(t, "fingerprint", "--identity", key)
	if code != 0 || fp1 != fp2 {
		t.Fatalf("fingerprint not stable: %q then %q", fp1, fp2)
	}
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"fingerprint", "--identity", key},
		{"--headless", "--identity", key, "--main", "0", "--sub", "1", "--known-peers", filepath.Join(dir, "kp")},
	} {
		code, _, stderr := runDuet(t, args...)
		if code != exitIdentity || !strings.Contains(stderr, "chmod") || !strings.Contains(stderr, key) {
			t.Errorf("duet %v with a 0644 key: exit %d (want %d), stderr %q", args, code, exitIdentity, stderr)
		}
	}
}

func TestE2EPortInUse(t *testing.T) {
	l, err := stdnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*stdnet.TCPAddr).Port
	code, _, stderr := runDuet(t, "--headless", "--ephemeral", "--main", strconv.Itoa(port), "--sub", "1",
		"--known-peers", filepath.Join(t.TempDir(), "kp"))
	if code != exitRuntime || stderr == "" {
		t.Errorf("port in use: exit %d (want %d), stderr %q", code, exitRuntime, stderr)
	}
}

func TestE2EEOFQuits(t *testing.T) {
	pr := newPair(t)
	a, b := startPair(t, pr, "", "")
	a.send("bye now")
	a.stdin.Close()
	code, ok := a.waitExit(exitTimeout)
	if !ok || code != 0 {
		t.Fatalf("A after EOF: exited %v, code %d", ok, code)
	}
	// The message sent just before EOF was delivered before A quit.
	b.waitFor(t, msgTimeout, "bye now", func(e event) bool { return e.Event == "message" && e.Text == "bye now" })
	if a.count(isEv("delivered")) != 1 {
		t.Errorf("A quit without waiting for the receipt")
	}
	b.send("/quit")
	if code, ok := b.waitExit(exitTimeout); !ok || code != 0 {
		t.Errorf("B after /quit: exited %v, code %d", ok, code)
	}
	// SIGTERM is a clean exit too.
	pr2 := newPair(t)
	c := startDuet(t, "C", pr2.args("A", "")...)
	c.waitFor(t, readyTimeout, "ready", isEv("ready"))
	c.cmd.Process.Signal(syscall.SIGTERM)
	if code, ok := c.waitExit(exitTimeout); !ok || code != 0 {
		t.Errorf("C after SIGTERM: exited %v, code %d", ok, code)
	}
}

// TestE2EHostileConnections attacks one duet's main port at the process
// level and checks that it stays up, small, and usable by the real peer.
func TestE2EHostileConnections(t *testing.T) {
	pr := newPair(t)
	a := startDuet(t, "A", pr.args("A", "")...)
	a.waitFor(t, readyTimeout, "ready", isEv("ready"))
	addr := fmt.Sprintf("127.0.0.1:%d", pr.portA)
	dial := func() stdnet.Conn {
		c, err := stdnet.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial %s: %v", addr, err)
		}
		return c
	}
	// ZMTP 3.0 greeting, NULL mechanism, as client.
	greeting := make([]byte, 64)
	greeting[0], greeting[9], greeting[10], greeting[11] = 0xff, 0x7f, 3, 0
	copy(greeting[12:], "NULL")

	// 1. Garbage.
	garbage := bytes.Repeat([]byte("\x00\xffGARBAGE\r\n"), 100000)
	c := dial()
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	c.Write(garbage) // the peer may hang up: errors are fine
	c.Close()
	// 2. A greeting then a frame header announcing 8 GiB (message and command).
	for _, flags := range []byte{0x02, 0x06} {
		c := dial()
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		c.Write(greeting)
		c.Write([]byte{flags, 0, 0, 0, 2, 0, 0, 0, 0}) // 1<<33
		c.Write(bytes.Repeat([]byte{0x41}, 1<<20))
		c.Close()
	}
	// 3. 1,000 idle connections, held open while the real peer connects.
	var idle []stdnet.Conn
	for range 1000 {
		c, err := stdnet.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Logf("idle connection %d: %v", len(idle), err)
			break
		}
		idle = append(idle, c)
	}
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	time.Sleep(time.Second)
	if !a.running() {
		t.Fatal("A died under hostile connections")
	}
	rss, hwm, err := rssKiB(a.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("A after the attack: VmRSS %d KiB, VmHWM %d KiB, %d idle connections open", rss, hwm, len(idle))
	if hwm > 100<<10 {
		t.Errorf("A's peak RSS %d KiB exceeds 100 MiB", hwm)
	}
	b := startDuet(t, "B", pr.args("B", "")...)
	a.waitFor(t, sessionTimeout, "session established despite the attack", established)
	b.waitFor(t, sessionTimeout, "session established despite the attack", established)
	a.send("still here")
	b.waitFor(t, msgTimeout, "message", func(e event) bool { return e.Event == "message" && e.Text == "still here" })
}

// TestE2EStalledReceiver freezes the receiver (SIGSTOP) for 3 s in the
// middle of a burst, as a suspended laptop or a swapped-out process would
// be. The sender is pushed back (or, past its send timeout, loses records
// that are resent); after SIGCONT every message must still arrive exactly
// once and in order.
func TestE2EStalledReceiver(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode")
	}
	pr := newPair(t)
	a, b := startPair(t, pr, "", "")
	const n = 20000
	pad := " " + strings.Repeat("y", 1000)
	errc := sendMany(a, "stall ", 0, n, pad)
	b.waitN(t, 1000, msgTimeout, "first messages", textPrefix("stall "))
	if err := b.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if err := b.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	b.waitN(t, n, 90*time.Second, "all messages", textPrefix("stall "))
	checkAllDelivered(t, a, n, 60*time.Second)
	time.Sleep(300 * time.Millisecond)
	d := diagnoseSequence(b, "stall ", n, pad)
	switch {
	case d.missing > 0 || d.dups > 0:
		t.Fatalf("B: %s", d)
	case d.firstWrong >= 0:
		t.Fatalf("B: exactly once but out of order: %s", d)
	}
}

func TestE2EPinnedFingerprint(t *testing.T) {
	pr := newPair(t)
	code, fpB, stderr := runDuet(t, "fingerprint", "--identity", filepath.Join(pr.dir, "idB.pem"))
	if code != 0 {
		t.Fatalf("fingerprint: exit %d: %s", code, stderr)
	}
	fpB = strings.TrimSpace(fpB)
	a := startDuet(t, "A", pr.args("A", "", "--peer-fingerprint", fpB)...)
	b := startDuet(t, "B", pr.args("B", "idB.pem")...)
	s := a.waitFor(t, sessionTimeout, "session with the pinned peer", established)
	if s.PeerFingerprint != fpB {
		t.Errorf("A's peer is %q, pinned %q", s.PeerFingerprint, fpB)
	}
	b.waitFor(t, sessionTimeout, "session", established)
	if _, err := os.Stat(filepath.Join(pr.dir, "kp_A")); err == nil {
		t.Error("A wrote known_peers although the peer was pinned")
	}

	// A wrong pin: A refuses the peer and exits 4.
	pr2 := newPair(t)
	wrong := strings.Repeat("0", 64)
	c := startDuet(t, "C", pr2.args("A", "", "--peer-fingerprint", wrong)...)
	startDuet(t, "D", pr2.args("B", "")...)
	if code, ok := c.waitExit(sessionTimeout); !ok || code != exitPeerChanged {
		t.Fatalf("C with a wrong pin: exited %v, code %d, want %d", ok, code, exitPeerChanged)
	}
	if c.count(established) != 0 {
		t.Error("C established a session with an unpinned peer")
	}
}
