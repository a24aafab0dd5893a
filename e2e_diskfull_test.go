package main

// End-to-end test of a full disk (issue 16, items 1-2): each side's
// identity and database live on their own 2 MiB tmpfs, filled with a file
// while the two exchange messages, then freed. Needs root to mount a tmpfs
// (CI runs as root); skipped otherwise, unless DUET_REQUIRE_TMPFS is set
// (.ci/run sets it), then it fails.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// smallFS mounts a tmpfs of size at a new directory and returns it; it is
// unmounted when the test ends.
func smallFS(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	why := ""
	if os.Geteuid() != 0 {
		why = "not root"
	} else if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		why = fmt.Sprintf("mount -t tmpfs: %v: %s", err, strings.TrimSpace(string(out)))
	}
	if why != "" {
		if os.Getenv("DUET_REQUIRE_TMPFS") != "" {
			t.Fatalf("cannot mount a small tmpfs (%s) and DUET_REQUIRE_TMPFS is set", why)
		}
		t.Skipf("cannot mount a small tmpfs: %s (set DUET_REQUIRE_TMPFS=1 to fail instead)", why)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a file in dir until the file system is full, and returns its
// path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err = f.Write(buf); err != nil {
			break
		}
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling %s: %v, want ENOSPC", dir, err)
	}
	return path
}

// TestE2EDiskFull: while the receiver's disk is full, messages wait
// unshown and unacknowledged and are shown exactly once, in order, without
// possible_duplicate, once space is freed, with no restart; lines typed
// while the sender's disk is full are marked not_saved, then saved,
// delivered once and in order, with no restart. Each side reports the full
// disk once and the room once.
func TestE2EDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode")
	}
	needBinary(t)
	dirA, dirB := smallFS(t, "2m"), smallFS(t, "2m")
	ports := freePorts(t, 2)
	pad := strings.Repeat("x", 2000)
	a := startDuet(t, "A", peerFlags(dirA, "A", "idA.pem", ports[0], ports[1])...)
	b := startDuet(t, "B", peerFlags(dirB, "B", "idB.pem", ports[1], ports[0])...)
	a.waitFor(t, sessionTimeout, "session established", established)
	b.waitFor(t, sessionTimeout, "session established", established)

	// Item 1: the receiver's disk is full.
	filler := fill(t, dirB)
	n1 := sendUntil(a, "r", pad, func(int) bool { return b.within(3*time.Second, diskIs("full")) })
	ev := b.waitFor(t, msgTimeout, "B reports its disk full", diskIs("full"))
	if want := "free space on the file system that holds " + filepath.Join(dirB, "delivery"); !strings.Contains(ev.Error, want) {
		t.Errorf("B's disk event does not say what to free (%q): %v", want, ev)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	b.waitFor(t, msgTimeout, "B reports room again", diskIs("room"))
	b.waitN(t, n1, msgTimeout, "every message shown", textPrefix("r"))
	checkExactlyOnceInOrder(t, b, "r", n1, " "+pad)
	checkAllDelivered(t, a, n1, msgTimeout)

	// Item 2: the sender's disk is full.
	filler = fill(t, dirA)
	n2 := sendUntil(a, "s", pad, func(sent int) bool {
		a.waitN(t, n1+sent, msgTimeout, "every line queued", isEv("queued"))
		return a.count(diskIs("full")) > 0
	})
	a.waitFor(t, msgTimeout, "A reports its disk full", diskIs("full"))
	a.waitFor(t, msgTimeout, "a line marked not_saved", isEv("not_saved"))
	if got := a.count(isEv("error")); got != 0 {
		t.Errorf("A reported %d errors while its disk was full, want none (lines are kept)", got)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	a.waitFor(t, msgTimeout, "A reports room again", func(e event) bool { return e.Event == "disk" && e.State == "room" })
	notSaved := a.count(isEv("not_saved"))
	a.waitN(t, notSaved, msgTimeout, "each line not saved saved", isEv("saved"))
	b.waitN(t, n2, msgTimeout, "every message shown", textPrefix("s"))
	checkExactlyOnceInOrder(t, b, "s", n2, " "+pad)
	checkAllDelivered(t, a, n1+n2, msgTimeout)

	for _, p := range []*proc{a, b} {
		if got := p.count(diskIs("full")); got != 1 {
			t.Errorf("%s: %d disk full events, want 1", p.name, got)
		}
		if got := p.count(func(e event) bool { return e.PossibleDup }); got != 0 {
			t.Errorf("%s: %d possible duplicates, want 0", p.name, got)
		}
		if !p.running() {
			t.Errorf("%s exited", p.name)
		}
	}
	t.Logf("B's disk filled within %d lines; A's within %d, of which it kept %d unsaved", n1, n2, notSaved)
}

// fillBatch and fillMax bound sendUntil: lines are sent fillBatch at a
// time, and fillMax lines of 2 KB are more than a 2 MiB file system holds.
const (
	fillBatch = 20
	fillMax   = 1200
)

// sendUntil sends lines "<prefix>NNNNNN <pad>" from p, fillBatch at a time,
// until full reports true after a batch or fillMax lines are sent, and
// returns how many it sent. How many lines fill a disk is not fixed: bbolt
// reuses the pages it freed, and how many it freed depends on how many
// write transactions the earlier part of the test happened to make.
func sendUntil(p *proc, prefix, pad string, full func(sent int) bool) int {
	sent := 0
	for sent < fillMax {
		for range fillBatch {
			p.send(fmt.Sprintf("%s%06d %s", prefix, sent, pad))
			sent++
		}
		if full(sent) {
			break
		}
	}
	return sent
}

// within reports whether an event satisfying pred arrives within timeout
// (or has arrived already); unlike waitFor it does not fail the test.
func (p *proc) within(timeout time.Duration, pred func(event) bool) bool {
	deadline := time.After(timeout)
	for {
		p.mu.Lock()
		ch := p.changed
		p.mu.Unlock()
		if p.count(pred) > 0 {
			return true
		}
		select {
		case <-ch:
		case <-p.exited:
			return p.count(pred) > 0
		case <-deadline:
			return false
		}
	}
}

// diskIs matches a disk event in the given state ("full" or "room").
func diskIs(state string) func(event) bool {
	return func(e event) bool { return e.Event == "disk" && e.State == state }
}
