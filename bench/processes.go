package bench

// duet bench --processes: what users get. Each measure runs between two
// real processes on loopback, driven through stdin and stdout: two headless
// duets (--ephemeral, and durable with their databases), and as the
// baseline two raw zmq4 peers (duet bench-raw-peer) driven the same way, so
// that the ratios compare like with like.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"duet/net"
)

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

// ProcessResult holds every run's figures.
type ProcessResult struct {
	Runs       [][numKinds]procFigures // by run, then kind
	Opts       ProcessOptions
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

// RunProcesses runs opts.Runs runs of raw zmq4, duet --ephemeral and
// durable duet, each between two fresh processes of opts.Exe on loopback,
// and writes the table to w.
func RunProcesses(ctx context.Context, w io.Writer, opts ProcessOptions) (*ProcessResult, error) {
	opts = opts.withDefaults()
	if opts.Exe == "" {
		return nil, errors.New("bench: no duet binary to start")
	}
	start := time.Now()
	res := &ProcessResult{Opts: opts, Date: start, GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU()}
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
	opts     ProcessOptions
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
		ports, err := net.FreeLoopbackPorts(1)
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
		ports, err := net.FreeLoopbackPorts(2)
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

// ---- statistics and the table ----
