package net

import (
	"bytes"
	"context"
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func freePort(t testing.TB) int {
	t.Helper()
	ports, err := FreeLoopbackPorts(1)
	if err != nil {
		t.Fatal(err)
	}
	return ports[0]
}

func mustOpen(t testing.TB, cfg Config) *Transport {
	t.Helper()
	tr, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// pair opens A and B with A.main = B.sub and B.main = A.sub, and waits until
// both DEALERs are connected.
//
// B's port is chosen before it is bound while A already dials it; if
// another program takes it in that moment (ErrPortInUse), both are opened
// again on a new port, up to three times.
func pair(t testing.TB, mod func(*Config)) (a, b *Transport) {
	t.Helper()
	for try := 1; ; try++ {
		pb := freePort(t)
		ca := Config{SubPort: pb}
		if mod != nil {
			mod(&ca)
		}
		a = mustOpen(t, ca)
		cb := Config{MainPort: pb, SubPort: a.MainPort()}
		if mod != nil {
			mod(&cb)
		}
		var err error
		b, err = Open(context.Background(), cb)
		if errors.Is(err, ErrPortInUse) && try < 3 {
			t.Logf("pair: %v; again on another port", err)
			a.Close()
			continue
		}
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { b.Close() })
		break
	}
	waitFor(t, 30*time.Second, "A and B connected", func() bool { return a.Connected() && b.Connected() })
	return a, b
}

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < d {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if cond() { // the last sleep may have overrun d on a busy machine
		return time.Since(start)
	}
	t.Fatalf("timed out after %v waiting for %s", d, what)
	return 0
}

// deliver sends msg from s to r, resending every 20 ms (sends may be lost
// or refused while connecting), until r receives it or d passes. It returns
// the time taken.
func deliver(t testing.TB, s, r *Transport, msg []byte, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	got := make(chan []byte, 1)
	go func() {
		for {
			m, err := r.Recv(ctx)
			if err != nil {
				return
			}
			if bytes.Equal(m, msg) {
				got <- m
				return
			}
		}
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		_ = s.Send(ctx, msg)
		select {
		case <-got:
			return time.Since(start)
		case <-ctx.Done():
			t.Fatalf("message not delivered within %v (sender connected=%v, stats=%+v)", d, s.Connected(), r.Stats())
			return 0
		case <-tick.C:
		}
	}
}

// legitPeerDelivers opens a fresh Transport dialling target and checks that
// it delivers a message within d.
func legitPeerDelivers(t testing.TB, target *Transport, d time.Duration) time.Duration {
	t.Helper()
	c := mustOpen(t, Config{SubPort: target.MainPort()})
	defer c.Close()
	msg := []byte("legit " + strconv.FormatInt(time.Now().UnixNano(), 10))
	return deliver(t, c, target, msg, d)
}

func fdCount() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// vmHWM returns the process's peak RSS in KiB.
func vmHWM() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				n, _ := strconv.Atoi(f[1])
				return n
			}
		}
	}
	return -1
}

func heapInuse() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

func raiseFDLimit(t testing.TB, want uint64) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Logf("getrlimit: %v", err)
		return
	}
	if rl.Cur >= want {
		return
	}
	rl.Cur = min(want, rl.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Logf("setrlimit: %v", err)
	}
	if rl.Cur < want {
		t.Skipf("fd limit %d < %d", rl.Cur, want)
	}
}

// waitBaseline polls until the fd count and goroutine count are within
// slack of the baselines, failing after d.
func waitBaseline(t testing.TB, fd0, g0, fdSlack, gSlack int, d time.Duration) (fd, g int) {
	t.Helper()
	start := time.Now()
	for {
		runtime.GC()
		fd, g = fdCount(), runtime.NumGoroutine()
		if fd <= fd0+fdSlack && g <= g0+gSlack {
			return fd, g
		}
		if time.Since(start) > d {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("not back to baseline after %v: fds %d (baseline %d), goroutines %d (baseline %d)\n%s", d, fd, fd0, g, g0, buf[:n])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
