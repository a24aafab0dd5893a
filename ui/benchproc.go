package ui

// duet bench --processes: what users get. Each measure runs between two
// real processes on loopback, driven through stdin and stdout: two headless
// duets (--ephemeral, and durable with their databases), and as the
// baseline two raw zmq4 peers (duet bench-raw-peer) driven the same way, so
// that the ratios compare like with like.

import (
	"bufio"
	"bytes"
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	stdnet "net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"duet/protocol"
	"duet/protocol/store"
)

// ProcBenchOptions sizes `duet bench --processes`.
type ProcBenchOptions struct {
	Exe      string        // the duet binary started for every process (os.Executable())
	Runs     int           // runs, each measuring raw, --ephemeral and durable (default 5)
	Messages int           // messages per throughput measure (default 20,000)
	Samples  int           // idle latency samples (default 300)
	Timeout  time.Duration // a measure without progress for this long fails (default 60 s)
	Progress io.Writer     // one line per measured pair; nil: none
}

// procKind is what a pair of processes runs.
type procKind int

const (
	kindRaw       procKind = iota // two raw zmq4 peers (duet bench-raw-peer)
	kindEphemeral                 // two duet --ephemeral
	kindDurable                   // two duets with identities and databases
	numKinds
)

var kindNames = [numKinds]string{"raw zmq4", "duet --ephemeral", "duet durable"}

// procMeasure indexes one figure of a pair.
type procMeasure int

const (
	mRate1K      procMeasure = iota // msg/s
	mRate64                         // msg/s
	mLatMedian                      // ns
	mLatP99                         // ns
	mFloorMedian                    // ns, durable: two commits in series (the disk's part of its latency)
	mFloorP99                       // ns
	mStart                          // ns, start to session
	mRestart                        // ns, restart (kill -9) to session
	mRSS                            // bytes, peak RSS of the larger process
	numMeasures
)

// procFigures are one pair's figures; NaN where not measured.
type procFigures [numMeasures]float64

// ProcBenchResult holds every run's figures.
type ProcBenchResult struct {
	Runs       [][numKinds]procFigures // by run, then kind
	Opts       ProcBenchOptions
	Date       time.Time
	GOMAXPROCS int
	NumCPU     int
	Wall       time.Duration
}

func nanFigures() procFigures {
	var f procFigures
	for i := range f {
		f[i] = math.NaN()
	}
	return f
}

// RunProcessBench runs opts.Runs runs of raw zmq4, duet --ephemeral and
// durable duet, each between two fresh processes of opts.Exe on loopback,
// and writes the table to w.
func RunProcessBench(ctx context.Context, w io.Writer, opts ProcBenchOptions) (*ProcBenchResult, error) {
	if opts.Runs <= 0 {
		opts.Runs = 5
	}
	if opts.Messages <= 0 {
		opts.Messages = 20_000
	}
	if opts.Samples <= 0 {
		opts.Samples = 300
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 60 * time.Second
	}
	if opts.Exe == "" {
		return nil, errors.New("bench: no duet binary to start")
	}
	start := time.Now()
	res := &ProcBenchResult{Opts: opts, Date: start, GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU()}
	root, err := os.MkdirTemp("", "duet-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(root)
	h := &procHarness{opts: opts, floorDir: filepath.Join(root, "floor")}
	for i, side := range []string{"a", "b"} {
		h.dirs[i] = filepath.Join(root, side)
		if err := os.Mkdir(h.dirs[i], 0o700); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		// The identities are made once, before anything is timed, and kept
		// across runs.
		cctx, cancel := context.WithTimeout(ctx, opts.Timeout)
		out, err := exec.CommandContext(cctx, opts.Exe, "fingerprint", "--identity", h.identity(i)).CombinedOutput()
		cancel()
		if err != nil {
			return nil, fmt.Errorf("bench: creating an identity: %v: %s", err, bytes.TrimSpace(out))
		}
	}
	for run := 0; run < opts.Runs; run++ {
		var figs [numKinds]procFigures
		// Interleaved, so that drifting machine load hits all three alike.
		for _, k := range []procKind{kindRaw, kindEphemeral, kindDurable} {
			figs[k] = nanFigures()
			if err := h.measurePair(ctx, run, k, &figs[k]); err != nil {
				return nil, fmt.Errorf("bench: run %d of %d, %s: %w", run+1, opts.Runs, kindNames[k], err)
			}
			if opts.Progress != nil {
				f := &figs[k]
				fmt.Fprintf(opts.Progress, "duet bench: run %d/%d, %-16s 1 KiB %s, 64 B %s, latency %s (p99 %s)\n", run+1, opts.Runs, kindNames[k]+":",
					fmtRate(f[mRate1K]), fmtRate(f[mRate64]), fmtDur(time.Duration(f[mLatMedian])), fmtDur(time.Duration(f[mLatP99])))
			}
		}
		res.Runs = append(res.Runs, figs)
	}
	res.Wall = time.Since(start)
	writeProcTable(w, res)
	return res, nil
}

// procHarness starts and measures the pairs.
type procHarness struct {
	opts     ProcBenchOptions
	dirs     [2]string // per side: identity.pem, known_peers, delivery/
	floorDir string    // the databases of commitFloor
}

func (h *procHarness) identity(side int) string { return filepath.Join(h.dirs[side], "identity.pem") }

// cleanSide removes what one pair left in a side's directory (known_peers,
// databases), keeping the identity.
func (h *procHarness) cleanSide(side int) {
	os.Remove(filepath.Join(h.dirs[side], "known_peers"))
	os.RemoveAll(filepath.Join(h.dirs[side], "delivery"))
}

func (h *procHarness) duetArgs(kind procKind, side int, ports [2]int) []string {
	args := []string{"--headless", "--ping", "1s",
		"--main", strconv.Itoa(ports[side]), "--sub", strconv.Itoa(ports[1-side]),
		"--known-peers", filepath.Join(h.dirs[side], "known_peers")}
	if kind == kindEphemeral {
		// --ephemeral takes no --identity: it makes a fresh key.
		return append(args, "--ephemeral")
	}
	return append(args, "--identity", h.identity(side))
}

// measurePair starts one pair of fresh processes, measures it into f and
// kills it.
func (h *procHarness) measurePair(ctx context.Context, run int, kind procKind, f *procFigures) (err error) {
	var p *procPair
	for attempt := 1; ; attempt++ {
		p, err = h.startPair(ctx, kind, f)
		if err == nil {
			break
		}
		// A port taken between picking and binding it: try other ports.
		if attempt == 3 || !errors.Is(err, errEarlyExit) || ctx.Err() != nil {
			return err
		}
	}
	defer func() {
		p.close()
		if err != nil && ctx.Err() == nil {
			err = p.explain(err)
		}
	}()
	for _, s := range []struct {
		size int
		m    procMeasure
		name string
	}{{1024, mRate1K, "1 KiB"}, {64, mRate64, "64 B"}} {
		if f[s.m], err = p.throughput(ctx, "throughput, "+s.name+" messages", s.size, h.opts.Messages); err != nil {
			return err
		}
	}
	lat, err := p.latency(ctx, h.opts.Samples, uint64(run))
	if err != nil {
		return err
	}
	f[mLatMedian], f[mLatP99] = float64(percentile(lat, 0.5)), float64(percentile(lat, 0.99))
	if kind == kindDurable {
		floor, err := commitFloor(h.floorDir, floorSamples)
		if err != nil {
			return err
		}
		f[mFloorMedian], f[mFloorP99] = float64(percentile(floor, 0.5)), float64(percentile(floor, 0.99))
		// A restarted --ephemeral peer has a new key, which the other side
		// refuses as a changed key: only the durable pair can restart.
		d, err := p.restart(ctx)
		if err != nil {
			return err
		}
		f[mRestart] = float64(d)
	}
	f[mRSS] = p.peakRSS()
	return nil
}

var errEarlyExit = errors.New("exited before it was ready")

// procPair is two running processes: a sends (its stdin), b receives (its
// stdout).
type procPair struct {
	h      *procHarness
	kind   procKind
	a, b   *child
	all    []*child // every process started, for the cleanup and diagnostics
	bArgs  []string
	rssOld float64 // peak RSS of a b that was killed and restarted
	closed bool
}

func (h *procHarness) startPair(ctx context.Context, kind procKind, f *procFigures) (*procPair, error) {
	p := &procPair{h: h, kind: kind}
	err := p.start(ctx, f)
	if err != nil {
		p.close()
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, p.explain(err)
	}
	return p, nil
}

func (p *procPair) start(ctx context.Context, f *procFigures) error {
	h := p.h
	var err error
	if p.kind == kindRaw {
		ports, err := freePorts(1)
		if err != nil {
			return err
		}
		p.bArgs = []string{"bench-raw-peer", "--recv", "--listen", strconv.Itoa(ports[0])}
		if p.b, err = p.startChild("B (receiver)", true, p.bArgs); err != nil {
			return err
		}
		if err := p.waitUntil(ctx, "start", func() bool { return p.b.ready.Load() }, nil); err != nil {
			return err
		}
		if p.a, err = p.startChild("A (sender)", true, []string{"bench-raw-peer", "--send", "--connect", strconv.Itoa(ports[0])}); err != nil {
			return err
		}
		if err := p.waitUntil(ctx, "start", func() bool { return p.a.ready.Load() }, nil); err != nil {
			return err
		}
	} else {
		ports, err := freePorts(2)
		if err != nil {
			return err
		}
		for side := range h.dirs {
			h.cleanSide(side)
		}
		p.bArgs = h.duetArgs(p.kind, 1, [2]int(ports))
		if p.a, err = p.startChild("A (sender)", false, h.duetArgs(p.kind, 0, [2]int(ports))); err != nil {
			return err
		}
		if p.b, err = p.startChild("B (receiver)", false, p.bArgs); err != nil {
			return err
		}
		a, b := p.a, p.b
		if err := p.waitUntil(ctx, "start to session", func() bool { return a.sessions.Load() >= 1 && b.sessions.Load() >= 1 }, nil); err != nil {
			return err
		}
		f[mStart] = float64(max(a.sessionAt.Load(), b.sessionAt.Load()) - b.startedAt.UnixNano())
	}
	// Warm up with one message, both kinds alike.
	_, err = p.throughput(ctx, "warm-up message", 4, 1)
	return err
}

func (p *procPair) startChild(name string, raw bool, args []string) (*child, error) {
	c, err := startChild(p.h.opts.Exe, name, raw, args)
	if err != nil {
		return nil, err
	}
	p.all = append(p.all, c)
	return c, nil
}

// close kills every process of the pair and removes what they left on disk.
func (p *procPair) close() {
	if p.closed {
		return
	}
	p.closed = true
	for _, c := range p.all {
		c.kill()
	}
	if p.kind != kindRaw {
		for side := range p.h.dirs {
			p.h.cleanSide(side)
		}
	}
}

// explain adds what the processes wrote to stderr, and their last events,
// to err.
func (p *procPair) explain(err error) error {
	var b strings.Builder
	for _, c := range p.all {
		b.WriteString(c.diagnostics())
	}
	if b.Len() == 0 {
		return err
	}
	return fmt.Errorf("%w%s", err, b.String())
}

// alive reports a process of the pair that has exited.
func (p *procPair) alive() error {
	for _, c := range []*child{p.a, p.b} {
		if c == nil {
			continue
		}
		select {
		case <-c.exited:
			if !c.ready.Load() {
				return fmt.Errorf("%s %w (%v)", c.name, errEarlyExit, c.waitErr)
			}
			return fmt.Errorf("%s exited (%v)", c.name, c.waitErr)
		default:
		}
	}
	return nil
}

// waitUntil waits until cond holds. It fails when a process exits, ctx
// ends, or for the harness's timeout nothing moves: progress (nil: none)
// is a counter whose change restarts the timeout.
func (p *procPair) waitUntil(ctx context.Context, measure string, cond func() bool, progress func() (int64, string)) error {
	timeout := p.h.opts.Timeout
	deadline := time.Now().Add(timeout)
	var last int64
	if progress != nil {
		last, _ = progress()
	}
	for !cond() {
		if err := p.alive(); err != nil {
			return fmt.Errorf("%s: %w", measure, err)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", measure, context.Cause(ctx))
		}
		var state string
		if progress != nil {
			var n int64
			if n, state = progress(); n != last {
				last, deadline = n, time.Now().Add(timeout)
			}
		}
		if time.Now().After(deadline) {
			if state != "" {
				state = ": " + state
			}
			return fmt.Errorf("%s: timed out, nothing moved for %v%s", measure, timeout, state)
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// throughput writes n lines of size bytes to A's stdin as fast as it can
// and returns the rate from the first write to B's n-th message. Every
// message must arrive exactly once (and, for duet, be acknowledged).
func (p *procPair) throughput(ctx context.Context, measure string, size, n int) (float64, error) {
	a, b := p.a, p.b
	line := append(bytes.Repeat([]byte("x"), size), '\n')
	base, baseDelivered := b.msgs.Load(), a.delivered.Load()
	b.doneAt.Store(0)
	b.target.Store(base + int64(n))
	defer b.target.Store(0)
	written := make(chan error, 1)
	t0 := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			if _, err := a.bw.Write(line); err != nil {
				written <- err
				return
			}
		}
		written <- a.bw.Flush()
	}()
	arrived := func() (int64, string) {
		k := b.msgs.Load() - base
		return k, fmt.Sprintf("%d of %d messages arrived", k, n)
	}
	if err := p.waitUntil(ctx, measure, func() bool { return b.doneAt.Load() != 0 }, arrived); err != nil {
		return 0, err
	}
	d := time.Duration(b.doneAt.Load() - t0.UnixNano())
	select {
	case err := <-written:
		if err != nil {
			return 0, fmt.Errorf("%s: writing A's stdin: %w", measure, err)
		}
	case <-time.After(p.h.opts.Timeout):
		return 0, fmt.Errorf("%s: writing A's stdin did not end", measure)
	}
	if err := p.settle(ctx, measure, base, baseDelivered, n); err != nil {
		return 0, err
	}
	return float64(n) / d.Seconds(), nil
}

// settle waits until A has the receipts for n messages (duet) and checks
// that B printed exactly n messages since base.
func (p *procPair) settle(ctx context.Context, measure string, base, baseDelivered int64, n int) error {
	a, b := p.a, p.b
	if p.kind != kindRaw {
		receipts := func() (int64, string) {
			k := a.delivered.Load() - baseDelivered
			return k, fmt.Sprintf("%d of %d receipts", k, n)
		}
		if err := p.waitUntil(ctx, measure+": receipts", func() bool { return a.delivered.Load()-baseDelivered >= int64(n) }, receipts); err != nil {
			return err
		}
	}
	if got := b.msgs.Load() - base; got != int64(n) {
		return fmt.Errorf("%s: %d messages arrived for %d sent", measure, got, n)
	}
	if got := a.delivered.Load() - baseDelivered; p.kind != kindRaw && got != int64(n) {
		return fmt.Errorf("%s: %d receipts for %d messages", measure, got, n)
	}
	return nil
}

// latText is latency sample i's text: 48 bytes, unique.
func latText(i int) string {
	s := fmt.Sprintf("lat-%07d-", i)
	return s + strings.Repeat("l", 48-len(s))
}

var latMarker = []byte("lat-")

// parseLat returns the sample index in a line holding latText's text.
func parseLat(line []byte) (int, bool) {
	i := bytes.Index(line, latMarker)
	if i < 0 || len(line) < i+len(latMarker)+7 {
		return 0, false
	}
	n, err := strconv.Atoi(string(line[i+len(latMarker) : i+len(latMarker)+7]))
	return n, err == nil
}

type latArrival struct {
	i  int
	at time.Time
}

// latency sends samples 48-byte lines to A's stdin, each after a random gap
// of 1-10 ms (seeded), and returns the sorted times from writing a line to
// reading B's message for it.
func (p *procPair) latency(ctx context.Context, samples int, seed uint64) ([]time.Duration, error) {
	const measure = "idle latency"
	a, b := p.a, p.b
	arrivals := make(chan latArrival, samples+16)
	b.lat.Store(&arrivals)
	defer b.lat.Store(nil)
	rng := rand.New(rand.NewPCG(seed, 0x6475657462656e63))
	base, baseDelivered := b.msgs.Load(), a.delivered.Load()
	out := make([]time.Duration, 0, samples)
	for i := 0; i < samples; i++ {
		gap := time.Millisecond + time.Duration(rng.Int64N(int64(9*time.Millisecond)+1))
		select {
		case <-time.After(gap):
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: %w", measure, context.Cause(ctx))
		}
		a.bw.WriteString(latText(i))
		a.bw.WriteByte('\n')
		if err := a.bw.Flush(); err != nil {
			return nil, fmt.Errorf("%s: writing A's stdin: %w", measure, err)
		}
		t0 := time.Now()
		select {
		case got := <-arrivals:
			if got.i != i {
				return nil, fmt.Errorf("%s: sample %d arrived while waiting for %d", measure, got.i, i)
			}
			out = append(out, max(got.at.Sub(t0), 0))
		case <-time.After(p.h.opts.Timeout):
			return nil, fmt.Errorf("%s: sample %d of %d not delivered within %v", measure, i+1, samples, p.h.opts.Timeout)
		case <-a.exited:
			return nil, fmt.Errorf("%s: %s exited (%v)", measure, a.name, a.waitErr)
		case <-b.exited:
			return nil, fmt.Errorf("%s: %s exited (%v)", measure, b.name, b.waitErr)
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: %w", measure, context.Cause(ctx))
		}
	}
	if err := p.settle(ctx, measure, base, baseDelivered, samples); err != nil {
		return nil, err
	}
	slices.Sort(out)
	return out, nil
}

// restart kills B with SIGKILL, starts it again with the same arguments and
// returns the time from its start to both sides printing session
// established.
func (p *procPair) restart(ctx context.Context) (time.Duration, error) {
	const measure = "restart to session"
	a := p.a
	sessions := a.sessions.Load()
	p.rssOld = max(p.rssOld, vmHWM(p.b.cmd.Process.Pid))
	p.b.kill()
	b, err := p.startChild("B (receiver, restarted)", false, p.bArgs)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", measure, err)
	}
	p.b = b
	if err := p.waitUntil(ctx, measure, func() bool { return a.sessions.Load() > sessions && b.sessions.Load() >= 1 }, nil); err != nil {
		return 0, err
	}
	return time.Duration(max(a.sessionAt.Load(), b.sessionAt.Load()) - b.startedAt.UnixNano()), nil
}

// peakRSS is the larger VmHWM of the pair's processes (a killed B
// included), in bytes; NaN if unknown.
func (p *procPair) peakRSS() float64 {
	peak := p.rssOld
	for _, c := range []*child{p.a, p.b} {
		peak = max(peak, vmHWM(c.cmd.Process.Pid))
	}
	if peak <= 0 {
		return math.NaN()
	}
	return peak
}

// vmHWM reads a live process's peak resident set size (Linux), in bytes;
// 0 if unknown.
func vmHWM(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}

// freePorts returns n distinct free loopback ports.
func freePorts(n int) ([]int, error) {
	var ports []int
	for i := 0; i < n; i++ {
		l, err := stdnet.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*stdnet.TCPAddr).Port)
	}
	return ports, nil
}

// child is one running process. A reader goroutine consumes its stdout
// and keeps counts; the hot path looks for fixed byte strings only.
type child struct {
	name      string
	raw       bool // a raw peer: "ready" first, then one payload per line
	cmd       *exec.Cmd
	in        io.WriteCloser
	bw        *bufio.Writer // stdin, buffered
	startedAt time.Time
	stderr    tailBuffer
	exited    chan struct{}
	waitErr   error // valid once exited is closed

	ready     atomic.Bool
	msgs      atomic.Int64 // message events (raw: payload lines)
	target    atomic.Int64 // when msgs reaches it, doneAt is set
	doneAt    atomic.Int64 // unix ns
	delivered atomic.Int64
	sessions  atomic.Int64 // session established events
	sessionAt atomic.Int64 // unix ns of the last one
	lat       atomic.Pointer[chan latArrival]

	mu   sync.Mutex
	tail []string // the last lines that are not messages or per-message events
}

func startChild(exe, name string, raw bool, args []string) (*child, error) {
	c := &child{name: name, raw: raw, exited: make(chan struct{})}
	c.cmd = exec.Command(exe, args...)
	c.cmd.Stderr = &c.stderr
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if c.in, err = c.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	c.bw = bufio.NewWriterSize(c.in, 64<<10)
	c.startedAt = time.Now()
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		c.read(stdout)
	}()
	go func() {
		<-readDone
		c.waitErr = c.cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

// kill kills the process (SIGKILL) and waits until it is reaped.
func (c *child) kill() {
	c.cmd.Process.Kill()
	c.in.Close()
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
	}
}

var (
	evMessage     = []byte(`"event":"message"`)
	evDelivered   = []byte(`"event":"delivered"`)
	evQueued      = []byte(`"event":"queued"`)
	evSent        = []byte(`"event":"sent"`)
	evLive        = []byte(`"event":"live"`)
	evSession     = []byte(`"event":"session"`)
	evReady       = []byte(`"event":"ready"`)
	stEstablished = []byte(`"state":"established"`)
)

func (c *child) read(r io.Reader) {
	br := bufio.NewReaderSize(r, 256<<10)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// No line the bench waits for is this long: skip it.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			c.note([]byte("(a line over 256 KiB)"))
			if err != nil {
				return
			}
			continue
		}
		if len(line) > 0 {
			c.line(line)
		}
		if err != nil {
			return
		}
	}
}

func (c *child) line(line []byte) {
	if c.raw {
		if !c.ready.Load() {
			if bytes.HasPrefix(line, []byte("ready")) {
				c.ready.Store(true)
				return
			}
			c.note(line)
		}
		c.message(line)
		return
	}
	switch {
	case bytes.Contains(line, evMessage):
		c.message(line)
	case bytes.Contains(line, evDelivered):
		c.delivered.Add(1)
	case bytes.Contains(line, evQueued), bytes.Contains(line, evSent), bytes.Contains(line, evLive):
	case bytes.Contains(line, evSession) && bytes.Contains(line, stEstablished):
		c.sessionAt.Store(time.Now().UnixNano())
		c.sessions.Add(1)
		c.note(line)
	case bytes.Contains(line, evReady):
		c.ready.Store(true)
		c.note(line)
	default:
		c.note(line)
	}
}

func (c *child) message(line []byte) {
	if ch := c.lat.Load(); ch != nil {
		now := time.Now()
		if i, ok := parseLat(line); ok {
			select {
			case *ch <- latArrival{i, now}:
			default:
			}
		}
	}
	if n := c.msgs.Add(1); n == c.target.Load() {
		c.doneAt.Store(time.Now().UnixNano())
	}
}

// note keeps the last few lines for diagnostics.
func (c *child) note(line []byte) {
	s := strings.TrimRight(string(line), "\n")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.tail) == 8 {
		c.tail = c.tail[1:]
	}
	c.tail = append(c.tail, s)
}

// diagnostics is what the process wrote to stderr and its last lines.
func (c *child) diagnostics() string {
	var b strings.Builder
	if s := strings.TrimSpace(c.stderr.String()); s != "" {
		fmt.Fprintf(&b, "\n  %s (duet %s) stderr:\n    %s", c.name, strings.Join(c.cmd.Args[1:], " "), strings.ReplaceAll(s, "\n", "\n    "))
	}
	c.mu.Lock()
	tail := slices.Clone(c.tail)
	c.mu.Unlock()
	if len(tail) > 0 {
		fmt.Fprintf(&b, "\n  %s (duet %s) last lines:\n    %s", c.name, strings.Join(c.cmd.Args[1:], " "), strings.Join(tail, "\n    "))
	}
	return b.String()
}

// tailBuffer keeps the last 8 KiB written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - 8<<10; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// ---- statistics and the table ----

// procUnit is how a row's values print.
type procUnit int

const (
	unitRate  procUnit = iota // msg/s
	unitDur                   // ns
	unitBytes                 // bytes
)

// procTarget is one of issue 9's targets for one column.
type procTarget struct {
	set    bool
	atMost bool    // ≤ limit (else ≥)
	limit  float64 // in the row's unit, or a ratio
	ratio  bool    // on the median ratio to raw (else on the median value)
}

func (t procTarget) met(v float64) bool {
	if math.IsNaN(v) {
		return false
	}
	if t.atMost {
		return v <= t.limit
	}
	return v >= t.limit
}

func (t procTarget) String(u procUnit) string {
	op := "≥"
	if t.atMost {
		op = "≤"
	}
	switch {
	case t.ratio:
		return fmt.Sprintf("%s%.1fx", op, t.limit)
	case u == unitDur:
		return op + strconv.FormatFloat(t.limit/float64(time.Millisecond), 'f', -1, 64) + " ms"
	case u == unitRate:
		return op + fmtRate(t.limit)
	}
	return op + fmtBytes(t.limit)
}

// procRow is one row of the table.
type procRow struct {
	label   string
	m       procMeasure
	unit    procUnit
	ratio   bool // show duet/raw (raw measures it too)
	targets [numKinds]procTarget
}

// procRows are the table's rows, with issue 9's targets.
var procRows = []procRow{
	{label: "throughput, 1 KiB messages", m: mRate1K, unit: unitRate, ratio: true, targets: [numKinds]procTarget{
		kindEphemeral: {set: true, limit: 1.0, ratio: true},
		kindDurable:   {set: true, limit: 0.5, ratio: true},
	}},
	{label: "throughput, 64 B messages", m: mRate64, unit: unitRate, ratio: true},
	// The latency targets are judged on --ephemeral: a durable message
	// waits for two fsynced commits in series (issue 8's guarantee), whose
	// time on this disk the next two rows measure.
	{label: "idle latency, median", m: mLatMedian, unit: unitDur, ratio: true, targets: [numKinds]procTarget{kindEphemeral: {set: true, atMost: true, limit: 4, ratio: true}}},
	{label: "idle latency, p99", m: mLatP99, unit: unitDur, ratio: true, targets: [numKinds]procTarget{kindEphemeral: {set: true, atMost: true, limit: float64(time.Millisecond)}}},
	{label: "disk floor, median", m: mFloorMedian, unit: unitDur},
	{label: "disk floor, p99", m: mFloorP99, unit: unitDur},
	// The target is for stored keys: --ephemeral makes an RSA key first.
	{label: "start to session", m: mStart, unit: unitDur, targets: [numKinds]procTarget{kindDurable: {set: true, atMost: true, limit: float64(30 * time.Millisecond)}}},
	{label: "restart (kill -9) to session", m: mRestart, unit: unitDur},
	{label: "peak RSS, larger process", m: mRSS, unit: unitBytes, ratio: true},
}

// median of the values that are not NaN (the mean of the middle two for
// an even count); NaN if there are none.
func median(xs []float64) float64 {
	v := finite(xs)
	if len(v) == 0 {
		return math.NaN()
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// spread is the smallest and largest value that is not NaN.
func spread(xs []float64) (lo, hi float64) {
	v := finite(xs)
	if len(v) == 0 {
		return math.NaN(), math.NaN()
	}
	return slices.Min(v), slices.Max(v)
}

func finite(xs []float64) []float64 {
	var v []float64
	for _, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			v = append(v, x)
		}
	}
	return v
}

// column is one kind's values of measure m, by run.
func (r *ProcBenchResult) column(k procKind, m procMeasure) []float64 {
	out := make([]float64, len(r.Runs))
	for i, run := range r.Runs {
		out[i] = run[k][m]
	}
	return out
}

// ratios are kind k's values of m divided by raw's, run by run.
func (r *ProcBenchResult) ratios(k procKind, m procMeasure) []float64 {
	out := make([]float64, len(r.Runs))
	for i, run := range r.Runs {
		out[i] = run[k][m] / run[kindRaw][m]
	}
	return out
}

// cell formats one kind's values of a row: median [min-max].
func cell(xs []float64, u procUnit) string {
	med := median(xs)
	if math.IsNaN(med) {
		return "-"
	}
	lo, hi := spread(xs)
	if len(finite(xs)) == 1 {
		return fmtUnit(med, u)
	}
	switch u {
	case unitRate:
		return fmt.Sprintf("%s [%s-%s]", fmtRate(med), strings.TrimSuffix(fmtRate(lo), "/s"), strings.TrimSuffix(fmtRate(hi), "/s"))
	case unitDur:
		// One unit for the cell, the one its largest value needs.
		scale, unit, prec := durScale(hi)
		return fmt.Sprintf("%.*f %s [%.*f-%.*f]", prec, med/scale, unit, prec, lo/scale, prec, hi/scale)
	}
	return fmt.Sprintf("%.1f MiB [%.1f-%.1f]", med/(1<<20), lo/(1<<20), hi/(1<<20))
}

func durScale(ns float64) (scale float64, unit string, prec int) {
	switch {
	case ns < float64(time.Millisecond):
		return float64(time.Microsecond), "µs", 0
	case ns < float64(10*time.Millisecond):
		return float64(time.Millisecond), "ms", 2
	case ns < float64(100*time.Millisecond):
		return float64(time.Millisecond), "ms", 1
	case ns < float64(time.Second):
		return float64(time.Millisecond), "ms", 0
	}
	return float64(time.Second), "s", 2
}

func fmtUnit(v float64, u procUnit) string {
	switch u {
	case unitRate:
		return fmtRate(v)
	case unitDur:
		scale, unit, prec := durScale(v)
		return fmt.Sprintf("%.*f %s", prec, v/scale, unit)
	}
	return fmtBytes(v)
}

// fmtRate prints a rate in messages per second.
func fmtRate(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case v >= 1e6:
		return fmt.Sprintf("%.2fM/s", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk/s", v/1e3)
	}
	return fmt.Sprintf("%.0f/s", v)
}

func fmtBytes(v float64) string { return fmt.Sprintf("%.1f MiB", v/(1<<20)) }

// ratioCell is a duet column's median ratio to raw and its target with ✓
// or ✗; met is nil without a target.
func (r *ProcBenchResult) ratioCell(row procRow, k procKind) (s string, met *bool) {
	ratio := math.NaN()
	var parts []string
	if row.ratio {
		ratio = median(r.ratios(k, row.m))
		if math.IsNaN(ratio) {
			parts = append(parts, "-")
		} else {
			parts = append(parts, fmt.Sprintf("%.2fx", ratio))
		}
	}
	if t := row.targets[k]; t.set {
		v := ratio
		if !t.ratio {
			v = median(r.column(k, row.m))
		}
		ok := t.met(v)
		mark := "✗"
		if ok {
			mark = "✓"
		}
		parts = append(parts, t.String(row.unit)+" "+mark)
		met = &ok
	}
	if len(parts) == 0 {
		return "-", nil
	}
	return strings.Join(parts, " "), met
}

// floorSamples is how many pairs of commits commitFloor times.
const floorSamples = 100

// commitFloor times what a durable message waits for on the disk, in
// series: the sender's commit of its outbox (Queue) and the receiver's
// commit of its showing mark (Showing), each a bbolt transaction with two
// fdatasyncs, on two databases in dir as duet makes them. It returns n
// durations, one per pair, sorted. The durable idle latency cannot go
// below it.
func commitFloor(dir string, n int) ([]time.Duration, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("bench: disk floor: %w", err)
	}
	defer os.RemoveAll(dir)
	var dbs [2]*store.DB
	for i := range dbs {
		var key [32]byte
		if _, err := crand.Read(key[:]); err != nil {
			return nil, fmt.Errorf("bench: disk floor: %w", err)
		}
		db, err := store.Open(filepath.Join(dir, fmt.Sprintf("%c.db", 'a'+i)), key, store.Options{})
		if err != nil {
			return nil, fmt.Errorf("bench: disk floor: %w", err)
		}
		defer db.Close()
		dbs[i] = db
	}
	text := strings.Repeat("x", 48) // as the latency measure's lines
	out := make([]time.Duration, 0, n)
	for i := range n {
		id := uint64(i + 1)
		t0 := time.Now()
		if err := dbs[0].Queue([]protocol.Chat{{ID: id, SentAt: t0.UnixNano(), Text: text}}); err != nil {
			return nil, fmt.Errorf("bench: disk floor: %w", err)
		}
		if err := dbs[1].Showing([]protocol.HistoryEntry{{ID: id, Text: text, At: t0}}); err != nil {
			return nil, fmt.Errorf("bench: disk floor: %w", err)
		}
		out = append(out, time.Since(t0))
	}
	slices.Sort(out)
	return out, nil
}

func writeProcTable(w io.Writer, r *ProcBenchResult) {
	o := r.Opts
	runs := fmt.Sprintf("%d runs", len(r.Runs))
	if len(r.Runs) == 1 {
		runs = "1 run"
	}
	fmt.Fprintf(w, "duet bench --processes: what users get, two real processes on loopback for every measure\n")
	fmt.Fprintf(w, "%s · GOMAXPROCS %d · NumCPU %d · %s/%s\n", r.Date.UTC().Format("2006-01-02 15:04 MST"), r.GOMAXPROCS, r.NumCPU, runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "%s, each of raw zmq4, duet --ephemeral and duet durable in turn on fresh processes; %d messages per throughput measure, %d latency samples\n", runs, o.Messages, o.Samples)
	fmt.Fprintf(w, "values: median [min-max] over the runs; x/raw: the ratio duet/raw computed per run, then the median of the runs' ratios; targets of issue 9 beside them: ✓ met, ✗ not met\n\n")
	const lw, vw, rw = 29, 22, 19
	fmt.Fprintf(w, "%-*s %-*s %-*s %-*s %-*s %s\n", lw, "measure", vw, kindNames[kindRaw], vw, kindNames[kindEphemeral], vw, kindNames[kindDurable], rw, "--ephemeral/raw", "durable/raw")
	fmt.Fprintf(w, "%s\n", strings.Repeat("-", lw+3*(vw+1)+2*(rw+1)))
	met, total := 0, 0
	for _, row := range procRows {
		fmt.Fprintf(w, "%-*s", lw, row.label)
		for k := kindRaw; k < numKinds; k++ {
			fmt.Fprintf(w, " %-*s", vw, cell(r.column(k, row.m), row.unit))
		}
		for _, k := range []procKind{kindEphemeral, kindDurable} {
			s, ok := r.ratioCell(row, k)
			if ok != nil {
				total++
				if *ok {
					met++
				}
			}
			if k == kindEphemeral {
				fmt.Fprintf(w, " %-*s", rw, s)
			} else {
				fmt.Fprintf(w, " %s\n", s)
			}
		}
	}
	fmt.Fprintf(w, "\ntargets met: %d of %d\n", met, total)
	fmt.Fprintf(w, "\nraw zmq4: duet bench-raw-peer, a stock zmq4 DEALER -> ROUTER between two processes, each line of the sender's stdin one message, each message one line of the receiver's stdout (flushed when no more are pending)\n")
	fmt.Fprintf(w, "duet: two `duet --headless --ping 1s` with their own config directories; durable keeps its database (bbolt, fsync: a message is committed before it is sent and before it is shown); --ephemeral keeps everything in memory\n")
	fmt.Fprintf(w, "throughput: N lines written to A's stdin as fast as possible, until B printed the N-th message (each counted exactly once); latency: one 48-byte line at a time after a random 1-10 ms gap, from writing it to A's stdin to reading its message from B's stdout\n")
	fmt.Fprintf(w, "start to session: from starting B (right after A) to both printing session established; restart: B killed (SIGKILL) and started again, to both printing established; peak RSS: VmHWM\n")
	fmt.Fprintf(w, "--ephemeral makes a fresh RSA-2048 key at every start (it takes no --identity), which its start to session includes (so the 30 ms target is for stored keys); its restart is not measured (-): the restarted peer's new key is refused by the other side as a changed key\n")
	fmt.Fprintf(w, "disk floor: what a durable message waits for on this disk, timed in one process right after each durable pair: the sender's commit of its outbox, then the receiver's commit of its showing mark (two bbolt transactions of two fdatasyncs each, %d pairs); durable latency cannot go below it\n", floorSamples)
	fmt.Fprintf(w, "the latency targets are judged on --ephemeral: durable delivery commits (fsyncs) a message before it is sent and before it is shown, so a power cut loses nothing (docs/DESIGN.md, \"Two real processes\"); its latency is the disk floor plus the wire\n")
	fmt.Fprintf(w, "total bench time %s\n", r.Wall.Round(time.Millisecond))
}
