package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"duet/crypto"
	"duet/net"
	"duet/protocol"
)

// cpuTicks returns a process's user+system CPU time in clock ticks (1/100 s
// on Linux) from /proc/PID/stat.
func cpuTicks(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may contain spaces) start at ')'.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return utime + stime, nil
}

// TestE2EHelloFlood floods a running duet with an attacker's public key and
// forged hellos, 64 per ZeroMQ message, from a peer that passed the ZeroMQ
// handshake but, like any host other than the real peer, cannot see A's
// challenge. The RSA work it causes must stay bounded (here: none, the
// cookie check drops the hellos), the process must stay small, and the
// legitimate peer must still connect and chat while the flood goes on.
func TestE2EHelloFlood(t *testing.T) {
	pr := newPair(t)
	a := startDuet(t, "A", pr.args("A", "")...)
	a.waitFor(t, readyTimeout, "ready", isEv("ready"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	atk, err := net.Open(ctx, net.Config{MainPort: 0, SubPort: pr.portA})
	if err != nil {
		t.Fatal(err)
	}
	defer atk.Close()
	for deadline := time.Now().Add(5 * time.Second); !atk.Connected(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("attacker did not connect")
		}
	}
	atkID, err := crypto.GenerateIdentity(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	batch := [][]byte{protocol.AppendPublicKey(nil, protocol.PublicKeyMsg{ReplyRequested: true, DER: atkID.Public().DER()})}
	for i := 1; i < protocol.MaxBatch; i++ {
		h := make([]byte, protocol.HelloSize)
		rand.Read(h)
		h[0], h[1], h[2] = protocol.Version, protocol.TypeHello, byte(1+i%2)
		batch = append(batch, h)
	}
	pid := a.cmd.Process.Pid
	cpu0, err := cpuTicks(pid)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var sent sync.WaitGroup
	var hellos int
	stop := make(chan struct{})
	sent.Add(1)
	go func() {
		defer sent.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if atk.Send(ctx, batch...) == nil {
				hellos += len(batch) - 1
			}
		}
	}()
	time.Sleep(time.Second) // the flood is on before the peer arrives
	b := startDuet(t, "B", pr.args("B", "")...)
	b.waitFor(t, readyTimeout, "ready", isEv("ready"))
	bReady := time.Now()
	b.waitFor(t, sessionTimeout, "B established under the flood", established)
	a.waitFor(t, sessionTimeout, "A established under the flood", established)
	took := time.Since(bReady)
	b.send("through the flood")
	a.waitFor(t, msgTimeout, "message through the flood", func(e event) bool { return e.Event == "message" && e.Text == "through the flood" })
	time.Sleep(time.Second)
	close(stop)
	sent.Wait()
	wall := time.Since(start)
	cpu1, err := cpuTicks(pid)
	if err != nil {
		t.Fatal(err)
	}
	cpu := time.Duration(cpu1-cpu0) * 10 * time.Millisecond
	_, hwm, _ := rssKiB(pid)
	badSig := a.rejections("bad-signature")
	t.Logf("%d forged hellos in %v: A used %v CPU, %d bad-signature verifications, peak RSS %d KiB; B established %v after its ready",
		hellos, wall.Round(time.Millisecond), cpu, badSig, hwm, took.Round(time.Millisecond))
	if hellos < 1_000 {
		t.Fatalf("only %d hellos sent: the flood did not happen", hellos)
	}
	if limit := 100 + int(500*wall.Seconds()); badSig > limit {
		t.Errorf("%d hello signatures verified in %v, budget allows %d", badSig, wall, limit)
	}
	// Total CPU is not asserted: receiving a million messages a second costs
	// CPU whatever duet does with them. The RSA work is what must be bounded,
	// and it is counted above (bad-signature verifications).
	if hwm > 100<<10 {
		t.Errorf("A's peak RSS %d KiB exceeds 100 MiB", hwm)
	}
	// How long B took is a figure (logged above), not an assert: on a
	// loaded machine it varies by seconds. The behaviour asserted is that
	// the session forms under the flood (within sessionTimeout, 30 s) and
	// a message goes through, with the RSA work and memory bounded.
	if !a.running() {
		t.Fatal("A died under the flood")
	}
}

// openFDs counts a process's open file descriptors.
func openFDs(pid int) (int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(ents), err
}

// TestE2ETwentyPeerRestarts restarts B twenty times (SIGKILL each time)
// against one running A: every restart gets a session, a message goes
// through, and A's open file descriptors end where they started.
func TestE2ETwentyPeerRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode")
	}
	pr := newPair(t)
	a, b := startPair(t, pr, "", "idB.pem") // B keeps its key: A has pinned it
	pid := a.cmd.Process.Pid
	base, err := openFDs(pid)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 20; i++ {
		t0 := time.Now()
		b.kill()
		t1 := time.Now()
		b = startDuet(t, fmt.Sprintf("B%d", i), pr.args("B", "idB.pem")...)
		b.waitFor(t, sessionTimeout, "session established", established)
		a.waitN(t, i+1, sessionTimeout, "new session at A", established)
		text := fmt.Sprintf("restart %d", i)
		a.send(text)
		b.waitFor(t, msgTimeout, text, func(e event) bool { return e.Event == "message" && e.Text == text })
		if time.Since(t1) > time.Second {
			t.Logf("restart %d: kill %v, restart to message %v", i, t1.Sub(t0), time.Since(t1))
		}
	}
	b.kill()
	var now int
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if now, err = openFDs(pid); err != nil {
			t.Fatal(err)
		}
		if now <= base+2 || time.Now().After(deadline) {
			break
		}
	}
	_, hwm, _ := rssKiB(pid)
	t.Logf("A's open fds: %d before, %d after 20 peer restarts; peak RSS %d KiB", base, now, hwm)
	if now > base+2 {
		t.Errorf("A holds %d fds after 20 peer restarts, %d before", now, base)
	}
	if !a.running() {
		t.Fatal("A died")
	}
}

// TestE2ERekey: /rekey moves A's direction to a new key epoch; both sides
// report it and chat continues both ways.
func TestE2ERekey(t *testing.T) {
	pr := newPair(t)
	a, b := startPair(t, pr, "", "")
	rekeyed := func(e event) bool { return e.Event == "session" && e.State == "rekeyed" }
	a.send("/rekey")
	a.waitFor(t, msgTimeout, "rekeyed at A", rekeyed)
	a.send("after rekey")
	b.waitFor(t, msgTimeout, "message after rekey", func(e event) bool { return e.Event == "message" && e.Text == "after rekey" })
	b.waitFor(t, msgTimeout, "rekeyed at B", rekeyed)
	b.send("reply")
	a.waitFor(t, msgTimeout, "reply", func(e event) bool { return e.Event == "message" && e.Text == "reply" })
	if n := b.count(isEv("rejected")); n != 0 {
		t.Errorf("B rejected %d records around the rekey", n)
	}
}
