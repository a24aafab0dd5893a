package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	stdnet "net"
	"strconv"

	"github.com/go-zeromq/zmq4"
)

// The raw peers are the two processes of `duet bench --processes`'s
// baseline: stock zmq4 (DEALER -> ROUTER, zmq4's own "tcp" transport, no
// duet guards or encryption) between two real processes, driven through
// stdin and stdout exactly as a headless duet is, so that the bench
// compares like with like. Never use them to talk to a peer.

// rawLineMax bounds one input line (a duet message is at most 64 KiB).
const rawLineMax = 128 << 10

// RawPeerSend dials a DEALER to 127.0.0.1:port, writes "ready" and a newline
// to out, then sends each line of in (without its "\n") as one single-frame
// message, until in ends or ctx is done.
func RawPeerSend(ctx context.Context, port int, in io.Reader, out io.Writer) error {
	dealer := zmq4.NewDealer(ctx, zmq4.WithLogger(log.New(io.Discard, "", 0)))
	defer dealer.Close()
	if err := dealer.Dial("tcp://" + stdnet.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err != nil {
		return fmt.Errorf("bench: raw peer: %w", err)
	}
	if _, err := io.WriteString(out, "ready\n"); err != nil {
		return err
	}
	r := bufio.NewReaderSize(in, rawLineMax)
	for {
		line, err := r.ReadSlice('\n')
		if len(line) > 0 && err == nil {
			// Send writes synchronously, so the reader's buffer may be
			// reused afterwards.
			if err := dealer.Send(zmq4.NewMsg(line[:len(line)-1])); err != nil {
				return fmt.Errorf("bench: raw peer: %w", err)
			}
			continue
		}
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case errors.Is(err, bufio.ErrBufferFull):
			return fmt.Errorf("bench: raw peer: input line longer than %d bytes", rawLineMax)
		}
		return err
	}
}

// RawPeerRecv binds a ROUTER on 127.0.0.1:port (0: a free port), writes
// "ready PORT" and a newline to out, then writes each message's payload and a
// newline to out, until ctx is done. Output is buffered but flushed
// whenever no further message is pending, so a lone message is not held
// back (as a headless duet writes each message event at once).
func RawPeerRecv(ctx context.Context, port int, out io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	router := zmq4.NewRouter(ctx, zmq4.WithLogger(log.New(io.Discard, "", 0)))
	defer router.Close()
	if err := router.Listen("tcp://" + stdnet.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err != nil {
		return fmt.Errorf("bench: raw peer: %w", err)
	}
	bound := port
	if a, ok := router.Addr().(*stdnet.TCPAddr); ok {
		bound = a.Port
	}
	if _, err := fmt.Fprintf(out, "ready %d\n", bound); err != nil {
		return err
	}
	type recv struct {
		payload []byte
		err     error
	}
	msgs := make(chan recv, 1024)
	go func() {
		for {
			m, err := router.Recv()
			switch {
			case err != nil:
			case len(m.Frames) < 2:
				err = fmt.Errorf("bench: raw peer: message of %d frames", len(m.Frames))
			}
			var r recv
			if err != nil {
				r.err = err
			} else {
				r.payload = m.Frames[1]
			}
			select {
			case msgs <- r:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	w := bufio.NewWriterSize(out, 64<<10)
	for {
		var r recv
		select {
		case r = <-msgs:
		case <-ctx.Done():
			w.Flush()
			return nil
		}
		if r.err != nil {
			w.Flush()
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("bench: raw peer: %w", r.err)
		}
		if bytes.IndexByte(r.payload, '\n') >= 0 {
			return errors.New("bench: raw peer: payload holds a newline")
		}
		w.Write(r.payload)
		if err := w.WriteByte('\n'); err != nil {
			return err
		}
		if len(msgs) == 0 {
			if err := w.Flush(); err != nil {
				return err
			}
		}
	}
}
