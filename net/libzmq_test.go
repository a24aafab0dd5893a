package net

// Interoperability with libzmq itself: duet's guarded transport against a
// small peer written with Debian's python3-zmq (libzmq 4.3), taking both
// socket roles (testdata/libzmq_peer.py). Skipped when python3-zmq is
// missing, unless DUET_REQUIRE_LIBZMQ is set (.ci/run installs it and sets
// it).

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// libzmqPeer is a running testdata/libzmq_peer.py.
type libzmqPeer struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

func startLibzmqPeer(t *testing.T, mainPort, subPort int) *libzmqPeer {
	t.Helper()
	python := "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import zmq").Run(); err != nil {
		if os.Getenv("DUET_REQUIRE_LIBZMQ") != "" {
			t.Fatalf("python3-zmq not usable and DUET_REQUIRE_LIBZMQ is set: %v", err)
		}
		t.Skip("python3-zmq (libzmq) not installed")
	}
	cmd := exec.Command(python, "testdata/libzmq_peer.py", "127.0.0.1", strconv.Itoa(mainPort), strconv.Itoa(subPort))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &libzmqPeer{cmd: cmd, stdin: stdin}
	t.Cleanup(p.stop)
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "ready" {
				ready <- "ready"
			}
		}
		close(ready)
	}()
	select {
	case _, ok := <-ready:
		if !ok {
			t.Fatal("libzmq peer exited before it was ready")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("libzmq peer not ready after 30 s")
	}
	return p
}

func (p *libzmqPeer) stop() {
	if p.cmd.ProcessState != nil {
		return
	}
	p.stdin.Close()
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

// waitEcho sends numbered probes until one comes back, then drains the
// echoes of the others. A message handed to a connection that is just
// going away (or not quite up) is lost, as with any ZeroMQ DEALER: duet's
// protocol resends; so does this probe.
func waitEcho(t *testing.T, tr *Transport, label string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("%s: no echo from the libzmq peer within 30 s", label)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := tr.Send(ctx, []byte(fmt.Sprintf("%s probe %d", label, i)))
		var got []byte
		if err == nil {
			got, err = tr.Recv(ctx)
		}
		cancel()
		if err == nil {
			if !strings.HasPrefix(string(got), label+" probe ") {
				t.Fatalf("%s: unexpected frame %q", label, trunc(got))
			}
			break
		}
	}
	for { // late echoes of earlier probes
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		got, err := tr.Recv(ctx)
		cancel()
		if err != nil {
			return
		}
		if !strings.HasPrefix(string(got), label+" probe ") {
			t.Fatalf("%s: unexpected frame %q", label, trunc(got))
		}
	}
}

// roundTrip sends frames as one message over an established link and
// expects them back, in order, as separate frames from Recv.
func roundTrip(t *testing.T, tr *Transport, frames [][]byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tr.Send(ctx, frames...); err != nil {
		t.Fatalf("send: %v", err)
	}
	for i, want := range frames {
		got, err := tr.Recv(ctx)
		if err != nil {
			t.Fatalf("frame %d of %d: %v", i, len(frames), err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("frame %d: got %q, want %q", i, trunc(got), trunc(want))
		}
	}
}

func TestLibzmqInterop(t *testing.T) {
	mainPort, subPort := freePort(t), freePort(t)
	peer := startLibzmqPeer(t, mainPort, subPort)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr, err := Open(ctx, Config{MainPort: mainPort, PeerHost: "127.0.0.1", SubPort: subPort, SendTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()

	// Both roles: our DEALER dials libzmq's ROUTER, libzmq's DEALER dials
	// our ROUTER; a message goes out one way and comes back the other.
	waitEcho(t, tr, "connect")
	roundTrip(t, tr, [][]byte{[]byte("hello libzmq")})

	// A full batch: 64 frames in one ZeroMQ message, including an empty one.
	var batch [][]byte
	for i := range MaxBatch {
		batch = append(batch, []byte(fmt.Sprintf("frame %02d %s", i, strings.Repeat("x", i*100))))
	}
	batch[7] = []byte{}
	roundTrip(t, tr, batch)

	// Large frames up to the message limit: 16 frames of 60 KiB (960 KiB).
	var large [][]byte
	for i := range 16 {
		large = append(large, bytes.Repeat([]byte{byte('a' + i)}, 60<<10))
	}
	roundTrip(t, tr, large)

	// Reconnect: the libzmq peer goes away and comes back on the same
	// ports; our DEALER redials, its DEALER reconnects to our ROUTER.
	peer.stop()
	startLibzmqPeer(t, mainPort, subPort)
	waitEcho(t, tr, "reconnect")
	roundTrip(t, tr, [][]byte{[]byte("after the restart")})
	roundTrip(t, tr, batch)
}
