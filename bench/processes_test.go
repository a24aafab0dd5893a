package bench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestLatText(t *testing.T) {
	for _, i := range []int{0, 7, 299, 9999999} {
		s := latText(i)
		if len(s) != 48 {
			t.Errorf("latText(%d) is %d bytes", i, len(s))
		}
		line := []byte(`{"event":"message","id":"1","seq":5,"text":"` + s + `","sent_at":"x"}` + "\n")
		if got, ok := parseLat(line); !ok || got != i {
			t.Errorf("parseLat(latText(%d)) = %d, %v", i, got, ok)
		}
		if got, ok := parseLat([]byte(s + "\n")); !ok || got != i {
			t.Errorf("parseLat of the raw line %d = %d, %v", i, got, ok)
		}
	}
	if _, ok := parseLat([]byte(`{"event":"message","text":"xxxx"}`)); ok {
		t.Error("parseLat found a sample in a throughput message")
	}
}

// fakeDuet is a shell script standing in for duet: it records its pid in
// $PIDS, "creates" identities, and plays raw peers that misbehave as
// $FAKE says: "stuck" (the receiver never prints a message) or "die" (it
// fails at once, with a message on stderr).
const fakeDuet = `#!/bin/sh
echo $$ >> "$PIDS"
case "$1" in
fingerprint) exit 0 ;;
bench-raw-peer)
	case "$FAKE:$2" in
	stuck:--recv) echo "ready 1"; exec sleep 600 ;;
	*:--send) echo ready; exec cat >/dev/null ;;
	esac ;;
esac
echo "fake duet: cannot bind: address already in use" >&2
exit 1
`

func runFakeBench(t *testing.T, mode string) ([]int, error) {
	t.Helper()
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "duet")
	if err := os.WriteFile(exe, []byte(fakeDuet), 0o700); err != nil {
		t.Fatal(err)
	}
	pids := filepath.Join(dir, "pids")
	t.Setenv("PIDS", pids)
	t.Setenv("FAKE", mode)
	var out bytes.Buffer
	_, err := RunProcesses(context.Background(), &out, ProcessOptions{Exe: exe, Runs: 1, Messages: 10, Samples: 2, Timeout: time.Second})
	if out.Len() > 0 {
		t.Errorf("a failed bench printed a table:\n%s", out.String())
	}
	b, _ := os.ReadFile(pids)
	var list []int
	for _, f := range strings.Fields(string(b)) {
		pid, _ := strconv.Atoi(f)
		list = append(list, pid)
	}
	return list, err
}

// TestProcBenchStuck: a measure that makes no progress fails after the
// timeout, naming the measure, and no process outlives the bench.
func TestProcBenchStuck(t *testing.T) {
	start := time.Now()
	pids, err := runFakeBench(t, "stuck")
	if err == nil || !strings.Contains(err.Error(), "run 1 of 1, raw zmq4: warm-up message: timed out, nothing moved for 1s: 0 of 1 messages arrived") {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v", d)
	}
	if len(pids) != 4 { // two fingerprints, two raw peers
		t.Errorf("pids %v, want 4", pids)
	}
	for _, pid := range pids {
		if p, err := os.FindProcess(pid); err == nil && p.Signal(syscall.Signal(0)) == nil {
			t.Errorf("process %d still runs", pid)
			p.Kill()
		}
	}
}

// TestProcBenchChildFails: a process that fails at start is retried on
// other ports, then reported with its stderr.
func TestProcBenchChildFails(t *testing.T) {
	pids, err := runFakeBench(t, "die")
	if err == nil || !strings.Contains(err.Error(), "B (receiver) exited before it was ready") || !strings.Contains(err.Error(), "fake duet: cannot bind: address already in use") {
		t.Fatalf("got %v", err)
	}
	if len(pids) != 2+3 { // two fingerprints, three attempts
		t.Errorf("pids %v, want 5", pids)
	}
}
