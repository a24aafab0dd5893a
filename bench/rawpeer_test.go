package bench

import (
	"bufio"
	"context"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRawPeerRoundTrip runs the two raw bench peers in process over
// loopback: lines written to the sender come out of the receiver, one each,
// in order, after both printed their ready lines.
func TestRawPeerRoundTrip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	recvR, recvW := io.Pipe()
	recvDone := make(chan error, 1)
	go func() { recvDone <- RawPeerRecv(ctx, 0, recvW); recvW.Close() }()
	out := bufio.NewReader(recvR)
	ready, err := out.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(ready, "ready ")))
	if err != nil || !strings.HasPrefix(ready, "ready ") || port <= 0 {
		t.Fatalf("receiver's ready line %q", ready)
	}

	inR, inW := io.Pipe()
	sendOutR, sendOutW := io.Pipe()
	sendDone := make(chan error, 1)
	go func() { sendDone <- RawPeerSend(ctx, port, inR, sendOutW); sendOutW.Close() }()
	if line, err := bufio.NewReader(sendOutR).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("sender's ready line %q, %v", line, err)
	}

	lines := []string{"hello", strings.Repeat("x", 1024), "a line with spaces", "é ✓ 🔒", strings.Repeat("y", 64<<10)}
	for i, l := range lines {
		if _, err := io.WriteString(inW, l+"\n"); err != nil {
			t.Fatal(err)
		}
		// One at a time: each must arrive on its own, flushed, without
		// the next one pushing it out.
		got, err := out.ReadString('\n')
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if got != l+"\n" {
			t.Fatalf("line %d: got %d bytes %.40q, want %d bytes %.40q", i, len(got), got, len(l)+1, l+"\n")
		}
	}
	// A burst arrives whole and in order.
	var b strings.Builder
	for i := 0; i < 1000; i++ {
		b.WriteString("burst " + strconv.Itoa(i) + "\n")
	}
	go io.WriteString(inW, b.String())
	for i := 0; i < 1000; i++ {
		got, err := out.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if want := "burst " + strconv.Itoa(i) + "\n"; got != want {
			t.Fatalf("burst line %d: got %q, want %q", i, got, want)
		}
	}

	// End of input ends the sender cleanly; cancelling ends the receiver.
	inW.Close()
	select {
	case err := <-sendDone:
		if err != nil {
			t.Fatalf("sender: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sender did not end at end of input")
	}
	cancel()
	go io.Copy(io.Discard, out)
	select {
	case err := <-recvDone:
		if err != nil {
			t.Fatalf("receiver: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("receiver did not end when cancelled")
	}
}

// TestRawPeerSendRefusesLongLine: a line beyond the bound is an error, not
// a silently split message.
func TestRawPeerSendRefusesLongLine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recvR, recvW := io.Pipe()
	go func() { RawPeerRecv(ctx, 0, recvW); recvW.Close() }()
	ready, err := bufio.NewReader(recvR).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, recvR)
	port, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(ready, "ready ")))
	err = RawPeerSend(ctx, port, strings.NewReader(strings.Repeat("z", rawLineMax+10)+"\n"), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("got %v, want a line-too-long error", err)
	}
}
