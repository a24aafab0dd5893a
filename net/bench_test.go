package net

import (
	"context"
	"io"
	"log"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
)

func benchTransport(b *testing.B, size, batch int) {
	a, r := pair(b, nil)
	deliver(b, a, r, []byte("warm"), 2*time.Second)
	ctx := context.Background()
	msgs := make([][]byte, batch)
	for i := range msgs {
		msgs[i] = make([]byte, size)
	}
	n := b.N * batch
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range n {
			if _, err := r.Recv(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	b.SetBytes(int64(size * batch))
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if err := a.Send(ctx, msgs...); err != nil {
			b.Fatal(err)
		}
	}
	<-done
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "msgs/s")
}

func BenchmarkTransport64B(b *testing.B)          { benchTransport(b, 64, 1) }
func BenchmarkTransport1KiB(b *testing.B)         { benchTransport(b, 1024, 1) }
func BenchmarkTransportBatch16x64B(b *testing.B)  { benchTransport(b, 64, 16) }
func BenchmarkTransportBatch16x1KiB(b *testing.B) { benchTransport(b, 1024, 16) }

// benchRaw is stock zmq4 DEALER -> ROUTER over its own "tcp" transport, for
// comparison. multi selects SendMulti (one writev per message) over Send.
func benchRaw(b *testing.B, size, batch int, multi bool) {
	quiet := zmq4.WithLogger(log.New(io.Discard, "", 0))
	router := zmq4.NewRouter(context.Background(), quiet)
	defer router.Close()
	if err := router.Listen("tcp://127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	dealer := zmq4.NewDealer(context.Background(), quiet)
	defer dealer.Close()
	if err := dealer.Dial("tcp://" + router.Addr().String()); err != nil {
		b.Fatal(err)
	}
	frames := make([][]byte, batch)
	for i := range frames {
		frames[i] = make([]byte, size)
	}
	n := b.N * batch
	done := make(chan struct{})
	go func() {
		defer close(done)
		got := 0
		for got < n {
			m, err := router.Recv()
			if err != nil {
				b.Error(err)
				return
			}
			got += len(m.Frames) - 1
		}
	}()
	b.SetBytes(int64(size * batch))
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		var err error
		if multi {
			err = dealer.SendMulti(zmq4.NewMsgFrom(frames...))
		} else {
			err = dealer.Send(zmq4.NewMsgFrom(frames...))
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	<-done
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "msgs/s")
}

func BenchmarkRawZmq4Send64B(b *testing.B)               { benchRaw(b, 64, 1, false) }
func BenchmarkRawZmq4SendMulti64B(b *testing.B)          { benchRaw(b, 64, 1, true) }
func BenchmarkRawZmq4Send1KiB(b *testing.B)              { benchRaw(b, 1024, 1, false) }
func BenchmarkRawZmq4SendMulti1KiB(b *testing.B)         { benchRaw(b, 1024, 1, true) }
func BenchmarkRawZmq4SendMultiBatch16x64B(b *testing.B)  { benchRaw(b, 64, 16, true) }
func BenchmarkRawZmq4SendMultiBatch16x1KiB(b *testing.B) { benchRaw(b, 1024, 16, true) }
