package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"duet/crypto"
	"duet/protocol"
)

// Result holds one in-process run's figures.
type Result struct {
	RawRate, DuetRate           map[int]float64 // msgs/s by payload size
	DurableRate                 map[int]float64 // msgs/s by payload size, with databases
	RawLatency, DuetLatency     []time.Duration // sorted one-way samples
	DurableLatency              []time.Duration // sorted one-way samples, with databases
	Handshakes                  []time.Duration // sorted
	HandshakeCPUTotal, WallTime time.Duration
}

var sizes = []int{64, 1024}

// Run measures raw zmq4 against duet's encrypted session, two nodes in
// this process on loopback, in one run and writes a table with the ratios
// to w.
func Run(ctx context.Context, w io.Writer, opts Options) (*Result, error) {
	opts = opts.withDefaults()
	// Two stored identities, made before anything is timed: no key
	// generation is measured.
	var ids [2]*crypto.Identity
	for i := range ids {
		id, err := crypto.GenerateIdentity(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("bench: identity: %w", err)
		}
		ids[i] = id
	}
	res := &Result{RawRate: map[int]float64{}, DuetRate: map[int]float64{}, DurableRate: map[int]float64{}}
	start := time.Now()
	for _, size := range sizes {
		r, err := rawRate(ctx, size, opts.Messages)
		if err != nil {
			return nil, fmt.Errorf("bench: raw %d B: %w", size, err)
		}
		res.RawRate[size] = r
	}
	var err error
	if res.RawLatency, err = rawLatency(ctx, opts.LatencySamples); err != nil {
		return nil, fmt.Errorf("bench: raw latency: %w", err)
	}
	for i := 0; i < opts.Handshakes; i++ {
		d, err := timeHandshake(ctx, ids)
		if err != nil {
			return nil, fmt.Errorf("bench: handshake: %w", err)
		}
		res.Handshakes = append(res.Handshakes, d)
	}
	slices.Sort(res.Handshakes)
	if res.DuetLatency, err = measureDuet(ctx, ids, [2]protocol.Store{}, opts, res.DuetRate); err != nil {
		return nil, err
	}
	a, b, closeStores, err := openStores(ids)
	if err != nil {
		return nil, fmt.Errorf("bench: stores: %w", err)
	}
	defer closeStores()
	if res.DurableLatency, err = measureDuet(ctx, ids, [2]protocol.Store{a, b}, opts, res.DurableRate); err != nil {
		return nil, fmt.Errorf("durable: %w", err)
	}
	res.WallTime = time.Since(start)
	writeTable(w, res, opts)
	return res, nil
}

// measureDuet measures one duet pair (with stores, if not nil): the
// throughput for each size into rates, and the idle latency it returns.
func measureDuet(ctx context.Context, ids [2]*crypto.Identity, stores [2]protocol.Store, opts Options, rates map[int]float64) ([]time.Duration, error) {
	pair, err := startPair(ctx, ids, stores)
	if err != nil {
		return nil, fmt.Errorf("bench: duet pair: %w", err)
	}
	defer pair.close()
	for _, size := range sizes {
		r, err := pair.rate(ctx, size, opts.Messages)
		if err != nil {
			return nil, fmt.Errorf("bench: duet %d B: %w", size, err)
		}
		rates[size] = r
	}
	lat, err := pair.latency(ctx, opts.LatencySamples)
	if err != nil {
		return nil, fmt.Errorf("bench: duet latency: %w", err)
	}
	return lat, nil
}

func rawRate(ctx context.Context, size, n int) (float64, error) {
	link, err := openRawPair(ctx)
	if err != nil {
		return 0, err
	}
	defer link.Close()
	// Warm up: the dial is asynchronous.
	if err := link.Send([]byte("warm")); err != nil {
		return 0, err
	}
	if _, err := link.Recv(); err != nil {
		return 0, err
	}
	payload := make([]byte, size)
	done := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			if _, err := link.Recv(); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	t0 := time.Now()
	for i := 0; i < n; i++ {
		if err := link.Send(payload); err != nil {
			return 0, err
		}
	}
	if err := <-done; err != nil {
		return 0, err
	}
	return float64(n) / time.Since(t0).Seconds(), nil
}

// rawLatency sends one 64-byte message every 2 ms carrying its send
// time and measures one-way latency at the receiver (same clock).
func rawLatency(ctx context.Context, samples int) ([]time.Duration, error) {
	link, err := openRawPair(ctx)
	if err != nil {
		return nil, err
	}
	defer link.Close()
	if err := link.Send([]byte("warm")); err != nil {
		return nil, err
	}
	if _, err := link.Recv(); err != nil {
		return nil, err
	}
	base := time.Now()
	out := make([]time.Duration, 0, samples)
	for i := 0; i < samples; i++ {
		msg := make([]byte, 64)
		stamp := time.Since(base)
		copy(msg, fmt.Sprintf("%020d", int64(stamp)))
		if err := link.Send(msg); err != nil {
			return nil, err
		}
		if _, err := link.Recv(); err != nil {
			return nil, err
		}
		out = append(out, time.Since(base)-stamp)
		time.Sleep(2 * time.Millisecond)
	}
	slices.Sort(out)
	return out, nil
}

// pair is two nodes with an established session.
type pair struct {
	a, b      *protocol.Node
	cancel    context.CancelFunc
	closeBoth func()
	wg        sync.WaitGroup
	received  atomic.Int64
	onMessage atomic.Pointer[func(protocol.MessageEvent)]
}

func startPair(ctx context.Context, ids [2]*crypto.Identity, stores [2]protocol.Store) (*pair, error) {
	ta, tb, closeBoth, err := openLoopbackPair(ctx)
	if err != nil {
		return nil, err
	}
	p := &pair{closeBoth: closeBoth}
	estA, estB := make(chan struct{}), make(chan struct{})
	var onceA, onceB sync.Once
	emitA := func(e protocol.Event) {
		if s, ok := e.(protocol.SessionEvent); ok && s.State == protocol.SessionEstablished {
			onceA.Do(func() { close(estA) })
		}
	}
	emitB := func(e protocol.Event) {
		switch ev := e.(type) {
		case protocol.SessionEvent:
			if ev.State == protocol.SessionEstablished {
				onceB.Do(func() { close(estB) })
			}
		case protocol.MessageEvent:
			p.received.Add(1)
			if f := p.onMessage.Load(); f != nil {
				(*f)(ev)
			}
		}
	}
	cfg := protocol.Config{MaxUnacked: 1 << 20}
	cfg.Identity, cfg.Store = ids[0], stores[0]
	if p.a, err = protocol.NewNode(cfg, ta, emitA); err != nil {
		closeBoth()
		return nil, err
	}
	cfg.Identity, cfg.Store = ids[1], stores[1]
	if p.b, err = protocol.NewNode(cfg, tb, emitB); err != nil {
		closeBoth()
		return nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	p.cancel = cancel
	p.wg.Add(2)
	go func() { defer p.wg.Done(); p.a.Run(rctx) }()
	go func() { defer p.wg.Done(); p.b.Run(rctx) }()
	timeout := time.After(10 * time.Second)
	for _, c := range []chan struct{}{estA, estB} {
		select {
		case <-c:
		case <-timeout:
			p.close()
			return nil, fmt.Errorf("no session within 10 s")
		}
	}
	return p, nil
}

func (p *pair) close() {
	p.cancel()
	p.closeBoth()
	p.wg.Wait()
}

// batchLines is the most lines one SendMessages call of the in-process
// measure carries. It equals ui's inputBatchLines (ui/run.go), the most
// stdin lines the line and headless input loop hands to SendMessages at
// once, so that a burst here is batched as a user's burst is; it is a copy
// rather than an import because the bench is not a front end and imports
// no ui package. Change both together.
const batchLines = 1024

// rate sends n chat messages of size bytes from A, in batches of up to
// batchLines as the input loop hands a burst of stdin lines to
// SendMessages, and waits until B has shown all of them.
func (p *pair) rate(ctx context.Context, size, n int) (float64, error) {
	text := strings.Repeat("x", size-16) // the chat payload adds id and time
	batch := make([]string, batchLines)
	for i := range batch {
		batch[i] = text
	}
	base := p.received.Load()
	t0 := time.Now()
	for sent := 0; sent < n; {
		k := min(len(batch), n-sent)
		if _, err := p.a.SendMessages(batch[:k]); err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			time.Sleep(time.Millisecond) // queue full: let receipts drain it
			continue
		}
		sent += k
	}
	deadline := time.Now().Add(2 * time.Minute)
	for p.received.Load()-base < int64(n) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, fmt.Errorf("only %d of %d messages arrived", p.received.Load()-base, n)
		}
		time.Sleep(200 * time.Microsecond)
	}
	return float64(n) / time.Since(t0).Seconds(), nil
}

// latency measures idle one-way latency: one 64-byte message every 2 ms,
// from Send to B's message event.
func (p *pair) latency(ctx context.Context, samples int) ([]time.Duration, error) {
	got := make(chan time.Duration, samples)
	f := func(ev protocol.MessageEvent) { got <- time.Since(ev.SentAt) }
	p.onMessage.Store(&f)
	defer p.onMessage.Store(nil)
	out := make([]time.Duration, 0, samples)
	for i := 0; i < samples; i++ {
		if _, err := p.a.Send(strings.Repeat("l", 48)); err != nil {
			return nil, err
		}
		select {
		case d := <-got:
			out = append(out, d)
		case <-time.After(5 * time.Second):
			return nil, fmt.Errorf("message %d not delivered", i)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		time.Sleep(2 * time.Millisecond)
	}
	slices.Sort(out)
	return out, nil
}

// timeHandshake times one handshake between stored identities over
// connected loopback transports: from both nodes starting to both
// established.
func timeHandshake(ctx context.Context, ids [2]*crypto.Identity) (time.Duration, error) {
	t0 := time.Now()
	p, err := startPair(ctx, ids, [2]protocol.Store{})
	if err != nil {
		return 0, err
	}
	d := time.Since(t0)
	p.close()
	return d, nil
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return sorted[i]
}

func writeTable(w io.Writer, r *Result, o Options) {
	fmt.Fprintf(w, "duet bench: the protocol's own cost: two nodes in one process, on loopback (duet bench --processes: two real processes); %d messages per throughput run, %d latency samples, %d handshakes\n\n", o.Messages, o.LatencySamples, o.Handshakes)
	fmt.Fprintf(w, "%-30s %16s %20s %10s\n", "measure", "raw zmq4", "duet (encrypted)", "duet/raw")
	fmt.Fprintf(w, "%s\n", strings.Repeat("-", 79))
	for _, s := range sizes {
		fmt.Fprintf(w, "%-30s %12.0f /s %16.0f /s %10.2f\n", fmt.Sprintf("throughput, %d B messages", s), r.RawRate[s], r.DuetRate[s], r.DuetRate[s]/r.RawRate[s])
	}
	rm, dm := percentile(r.RawLatency, 0.5), percentile(r.DuetLatency, 0.5)
	rp, dp := percentile(r.RawLatency, 0.99), percentile(r.DuetLatency, 0.99)
	fmt.Fprintf(w, "%-30s %16s %20s %10.2f\n", "one-way latency, idle, median", fmtDur(rm), fmtDur(dm), float64(dm)/float64(rm))
	fmt.Fprintf(w, "%-30s %16s %20s %10.2f\n", "one-way latency, idle, p99", fmtDur(rp), fmtDur(dp), float64(dp)/float64(rp))
	if len(r.DurableLatency) > 0 {
		for _, s := range sizes {
			fmt.Fprintf(w, "%-30s %12.0f /s %16.0f /s %10.2f\n", fmt.Sprintf("durable, %d B messages", s), r.RawRate[s], r.DurableRate[s], r.DurableRate[s]/r.RawRate[s])
		}
		dm, dp := percentile(r.DurableLatency, 0.5), percentile(r.DurableLatency, 0.99)
		fmt.Fprintf(w, "%-30s %16s %20s %10.2f\n", "durable latency, idle, median", fmtDur(rm), fmtDur(dm), float64(dm)/float64(rm))
		fmt.Fprintf(w, "%-30s %16s %20s %10.2f\n", "durable latency, idle, p99", fmtDur(rp), fmtDur(dp), float64(dp)/float64(rp))
	}
	fmt.Fprintf(w, "%-30s %16s %20s %10s\n", "handshake, median", "-", fmtDur(percentile(r.Handshakes, 0.5)), "")
	fmt.Fprintf(w, "%-30s %16s %20s %10s\n", "handshake, max", "-", fmtDur(percentile(r.Handshakes, 1)), "")
	if len(r.DurableLatency) > 0 {
		fmt.Fprintf(w, "\ncost of durability (durable / in memory): 64 B %.2f, 1024 B %.2f; durable: every message committed (bbolt, fsync) to the sender's outbox before it is sent and to the receiver's database before it is shown and acknowledged\n",
			r.DurableRate[64]/r.DuetRate[64], r.DurableRate[1024]/r.DuetRate[1024])
	}
	fmt.Fprintf(w, "\n%s\n", originalReference)
	fmt.Fprintf(w, "total bench time %s\n", r.WallTime.Round(time.Millisecond))
}

// originalReference are the original Python program's figures, as measured
// elsewhere (../shared/seed/README.md), printed as a reference and never as
// part of this run's measurement.
const originalReference = "reference, not measured in this run: the original Python design (../shared/seed/README.md) managed " +
	"14,500-14,800 msg/s for a 2,000 x 1 KB burst, an idle one-way latency median of 47.9 ms (p99 99 ms) " +
	"and a handshake of 1.26-1.42 s after the first pong"

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	default:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	}
}
