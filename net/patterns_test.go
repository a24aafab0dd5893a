package net

import (
	"context"
	"encoding/binary"
	"io"
	"log"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
)

// TestZmq4Patterns measures stock zmq4 v0.17.0 socket patterns across a
// peer restart (the receiver's socket closed, a new one bound on the same
// port), over the stock "tcp" transport. It documents why duet uses
// DEALER -> ROUTER with automatic reconnect and unlimited redials (see
// docs/DESIGN.md). It leaks goroutines on purpose (deadlocked senders), so it
// runs only with DUET_ZMQ_EXPERIMENTS=1.
func TestZmq4Patterns(t *testing.T) {
	if os.Getenv("DUET_ZMQ_EXPERIMENTS") == "" {
		t.Skip("set DUET_ZMQ_EXPERIMENTS=1")
	}
	type pat struct {
		name       string
		send, recv func() zmq4.Socket
		outage     time.Duration
	}
	quiet := zmq4.WithLogger(log.New(io.Discard, "", 0))
	bg := context.Background()
	sendOpts := func(retries int) []zmq4.Option {
		o := []zmq4.Option{quiet, zmq4.WithAutomaticReconnect(true), zmq4.WithTimeout(time.Second)}
		if retries != 0 {
			o = append(o, zmq4.WithDialerMaxRetries(retries))
		}
		return o
	}
	pats := []pat{
		{"DEALER->ROUTER reconnect, retries -1", func() zmq4.Socket { return zmq4.NewDealer(bg, sendOpts(-1)...) }, func() zmq4.Socket { return zmq4.NewRouter(bg, quiet) }, 500 * time.Millisecond},
		{"DEALER->ROUTER reconnect, default retries, 3 s outage", func() zmq4.Socket { return zmq4.NewDealer(bg, sendOpts(0)...) }, func() zmq4.Socket { return zmq4.NewRouter(bg, quiet) }, 3 * time.Second},
		{"PUSH->PULL reconnect, retries -1", func() zmq4.Socket { return zmq4.NewPush(bg, sendOpts(-1)...) }, func() zmq4.Socket { return zmq4.NewPull(bg, quiet) }, 500 * time.Millisecond},
		{"PAIR reconnect, retries -1", func() zmq4.Socket { return zmq4.NewPair(bg, sendOpts(-1)...) }, func() zmq4.Socket { return zmq4.NewPair(bg, quiet) }, 500 * time.Millisecond},
	}
	gap := 5 * time.Millisecond
	if os.Getenv("DUET_ZMQ_FAST") != "" {
		gap = 0 // send flat out: a write error may then come before the reader's EOF
	}
	for _, p := range pats {
		t.Run(p.name, func(t *testing.T) {
			port := freePort(t)
			ep := "tcp://127.0.0.1:" + itoa(port)
			var mu sync.Mutex
			counts := map[uint32]int{}
			var restartAt, firstAfter time.Time
			receiver := func(r zmq4.Socket) {
				for {
					m, err := r.Recv()
					if err != nil {
						return
					}
					f := m.Frames[len(m.Frames)-1]
					if len(f) < 4 {
						continue
					}
					seq := binary.BigEndian.Uint32(f)
					mu.Lock()
					counts[seq]++
					if !restartAt.IsZero() && firstAfter.IsZero() {
						firstAfter = time.Now()
					}
					mu.Unlock()
				}
			}
			r := p.recv()
			if err := r.Listen(ep); err != nil {
				t.Fatal(err)
			}
			go receiver(r)
			s := p.send()
			defer s.Close()
			if err := s.Dial(ep); err != nil {
				t.Fatal(err)
			}
			var seq uint32
			stuck := false
			var sendErrs int
			send := func() {
				seq++
				buf := binary.BigEndian.AppendUint32(nil, seq)
				done := make(chan error, 1)
				go func() { done <- s.Send(zmq4.NewMsg(buf)) }()
				select {
				case err := <-done:
					if err != nil {
						sendErrs++
					}
				case <-time.After(5 * time.Second):
					stuck = true
				}
			}
			for range 50 {
				send()
				time.Sleep(2 * time.Millisecond)
			}
			r.Close()
			outageStart := seq
			end := time.Now().Add(p.outage)
			for time.Now().Before(end) && !stuck {
				send()
				time.Sleep(gap)
			}
			outageEnd := seq
			r2 := p.recv()
			if err := r2.Listen(ep); err != nil {
				t.Fatal(err)
			}
			defer r2.Close()
			mu.Lock()
			restartAt = time.Now()
			mu.Unlock()
			go receiver(r2)
			end = time.Now().Add(3 * time.Second)
			for time.Now().Before(end) && !stuck {
				send()
				time.Sleep(gap)
			}
			time.Sleep(100 * time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			dups, lostOutage, after := 0, 0, 0
			for k, v := range counts {
				if v > 1 {
					dups += v - 1
				}
				if k > outageEnd {
					after++
				}
			}
			for k := outageStart + 1; k <= outageEnd; k++ {
				if counts[k] == 0 {
					lostOutage++
				}
			}
			lat := "never"
			if !firstAfter.IsZero() {
				lat = firstAfter.Sub(restartAt).Round(time.Millisecond).String()
			}
			t.Logf("%s: sent %d; Send stuck >5 s: %v; Send errors %d; first message %s after restart; delivered after restart %d of %d; outage messages lost %d of %d; duplicates %d",
				p.name, seq, stuck, sendErrs, lat, after, seq-outageEnd, lostOutage, outageEnd-outageStart, dups)
		})
	}
}

func itoa(n int) string {
	b := []byte{}
	for n > 0 || len(b) == 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}
