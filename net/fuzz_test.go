package net

import (
	"bytes"
	"encoding/binary"
	"errors"
	stdnet "net"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/null"
)

func FuzzGreeting(f *testing.F) {
	f.Add(zmtpGreeting[:])
	libzmq := zmtpGreeting
	libzmq[8] = 1
	libzmq[11] = 1
	f.Add(libzmq[:])
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Add(make([]byte, 64))
	f.Fuzz(func(t *testing.T, b []byte) {
		var g [greetingSize]byte
		copy(g[:], b)
		err := parseGreeting(g[:])
		if err == nil {
			if g[0] != 0xFF || g[9] != 0x7F || g[10] != 3 || string(g[12:16]) != "NULL" || g[32] > 1 {
				t.Fatalf("accepted a bad greeting %x", g)
			}
		} else if !errors.Is(err, ErrBadGreeting) {
			t.Fatalf("unclassified error %v", err)
		}
		_ = parseGreeting(b) // any length
		_ = checkSignature(b)
	})
}

func FuzzReady(f *testing.F) {
	f.Add(readyCommand("DEALER", "duet-0123")[2:])
	f.Add(readyCommand("ROUTER", "")[2:])
	f.Add([]byte("\x05READY\x00"))
	f.Add([]byte("\x05READY\x01A"))
	f.Add([]byte("\x05READY\x0bSocket-Type\xff\xff\xff\xffDEALER"))
	f.Add([]byte("\x05READY\x0bsocket-type\x00\x00\x00\x06DEALER\x08identity\x00\x00\x00\x00"))
	f.Add([]byte("\x05HELLO"))
	f.Fuzz(func(t *testing.T, body []byte) {
		ri, err := parseReady(body)
		if err != nil {
			if !errors.Is(err, ErrBadGreeting) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		// Whatever duet accepts, zmq4's own parser must digest without
		// panicking or failing (it is what zmq4 sees next).
		md := make(zmq4.Metadata)
		if err := md.UnmarshalZMTP(body[6:]); err != nil {
			t.Fatalf("duet accepted what zmq4 rejects: %v", err)
		}
		if len(ri.Identity) > maxIdentity {
			t.Fatal("identity too long")
		}
	})
}

// FuzzHandshake feeds an arbitrary byte stream to the handshake reader.
func FuzzHandshake(f *testing.F) {
	good := append(zmtpGreeting[:], readyCommand("DEALER", "x")...)
	f.Add(good)
	f.Add(append(zmtpGreeting[:], longHeader(flagCommand, 8<<30)...))
	f.Add(append(zmtpGreeting[:], 0x04, 7, 5, 'R', 'E', 'A', 'D', 'Y', 0))
	f.Add(append(zmtpGreeting[:], readyCommand("PUSH", "")...))
	f.Add(zmtpGreeting[:10])
	f.Fuzz(func(t *testing.T, b []byte) {
		r := &countingReader{r: bytes.NewReader(b)}
		hs, err := readHandshake(r, "DEALER")
		if err == nil {
			if !bytes.Equal(hs.raw, b[:len(hs.raw)]) || hs.ready.SocketType != "DEALER" {
				t.Fatal("replay differs from input")
			}
			if len(hs.raw) > greetingSize+9+MaxCommandSize {
				t.Fatalf("handshake of %d bytes", len(hs.raw))
			}
		}
		if r.n > greetingSize+9+MaxCommandSize {
			t.Fatalf("read %d bytes", r.n)
		}
	})
}

type countingReader struct {
	r interface{ Read([]byte) (int, error) }
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// FuzzFrameScanner feeds an arbitrary stream, split at arbitrary points, to
// the frame guard. It checks against a simple reference parser that the
// bytes the guard lets through never contain a complete header beyond the
// limits, and that the split points do not change the outcome.
func FuzzFrameScanner(f *testing.F) {
	f.Add([]byte{0x00, 0x03, 'a', 'b', 'c'}, uint16(1))
	f.Add(append([]byte{0x01, 0x01, 'x'}, longHeader(0, 1<<62)...), uint16(2))
	f.Add(bytes.Repeat([]byte{0x01, 0x01, 'x'}, 70), uint16(5))
	f.Add([]byte{0x04, 0x05, 'P', 'I', 'N', 'G', 0}, uint16(3))
	f.Add(longHeader(flagCommand, 5000), uint16(4))
	f.Add([]byte{0x08, 0x00}, uint16(1))
	f.Add([]byte{0x01, 0x00, 0x04, 0x00}, uint16(1))
	f.Fuzz(func(t *testing.T, stream []byte, split uint16) {
		const maxFrame, maxParts = 300, 4
		whole := newFrameScanner(maxFrame, maxParts, maxFrame*maxParts)
		n1, _, err1 := whole.scan(stream, false)

		parts := newFrameScanner(maxFrame, maxParts, maxFrame*maxParts)
		step := int(split%61) + 1
		delivered := 0
		var err2 error
		for off := 0; off < len(stream); off += step {
			chunk := stream[off:min(off+step, len(stream))]
			n, _, err := parts.scan(chunk, false)
			delivered += n
			if err != nil {
				err2 = err
				break
			}
		}
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("split changed the outcome: %v vs %v", err1, err2)
		}
		// Split feeding may have let through the first bytes of the
		// offending header (never all of it), so its prefix may be longer.
		if err1 != nil && n1 > delivered {
			t.Fatalf("split shortened the deliverable prefix: %d vs %d", n1, delivered)
		}
		refCheck(t, stream[:delivered], maxFrame, maxParts)
		if err1 == nil && n1 != len(stream) {
			t.Fatalf("consumed %d of %d without error", n1, len(stream))
		}
		if err1 != nil && !errors.Is(err1, ErrFrameTooLarge) && !errors.Is(err1, ErrTooManyParts) && !errors.Is(err1, ErrBadFrame) {
			t.Fatalf("unclassified error %v", err1)
		}
		refCheck(t, stream[:n1], maxFrame, maxParts)
	})
}

// refCheck parses the delivered prefix naively and fails if it holds a
// complete header that breaks the limits.
func refCheck(t *testing.T, b []byte, maxFrame uint64, maxParts int) {
	parts := 0
	for len(b) > 0 {
		fl := b[0]
		if fl&flagReserved != 0 {
			t.Fatalf("delivered reserved flags %#x", fl)
		}
		var size uint64
		hl := 2
		if fl&flagLong != 0 {
			hl = 9
			if len(b) < 9 {
				return
			}
			size = binary.BigEndian.Uint64(b[1:9])
		} else {
			if len(b) < 2 {
				return
			}
			size = uint64(b[1])
		}
		if fl&flagCommand != 0 {
			if size > MaxCommandSize || parts > 0 || fl&flagMore != 0 {
				t.Fatalf("delivered a bad command header")
			}
		} else {
			parts++
			if size > maxFrame || parts > maxParts {
				t.Fatalf("delivered a frame header of %d bytes / part %d", size, parts)
			}
		}
		if fl&flagMore == 0 {
			parts = 0
		}
		if uint64(len(b)-hl) < size {
			return
		}
		b = b[hl+int(size):]
	}
}

// FuzzGuardedConn runs zmq4's own ZMTP reader over a guardedConn fed an
// arbitrary stream after a valid handshake: whatever the stream, zmq4 must
// neither panic nor allocate beyond the limits (the guard stops it first).
func FuzzGuardedConn(f *testing.F) {
	f.Add([]byte{0x00, 0x03, 'a', 'b', 'c'}, uint8(1))
	f.Add(append([]byte{0x00, 0x03, 'a', 'b', 'c'}, longHeader(0, 8<<30)...), uint8(7))
	f.Add(longHeader(flagMore, 1<<62), uint8(3))
	f.Add(bytes.Repeat([]byte{0x01, 0x01, 'x'}, 100), uint8(2))
	f.Add([]byte{0x04, 0x05, 4, 'P', 'I', 'N', 'G'}, uint8(1))
	f.Add(longHeader(flagCommand, 1<<40), uint8(1))
	f.Fuzz(func(t *testing.T, stream []byte, chunk uint8) {
		tr := &Transport{cfg: Config{MaxFrameSize: 1024, MaxParts: 8, SendTimeout: time.Second}, conns: map[*guardedConn]struct{}{}}
		fc := &fakeConn{r: bytes.NewReader(stream), chunk: int(chunk%16) + 1}
		replay := append(zmtpGreeting[:], readyCommand("DEALER", "fuzz")...)
		gc := newGuardedConn(tr, fc, sideAccepted, replay)
		zc, err := zmq4.Open(gc, null.Security(), zmq4.Router, zmq4.SocketIdentity("r"), true, nil)
		if err != nil {
			t.Fatalf("zmq4.Open over the replay: %v", err)
		}
		for range 1000 {
			msg, err := zc.RecvMsg()
			if err != nil {
				return
			}
			total := 0
			for _, fr := range msg.Frames {
				if len(fr) > 1024 {
					t.Fatalf("zmq4 got a frame of %d bytes", len(fr))
				}
				total += len(fr)
			}
			if len(msg.Frames) > 8 {
				t.Fatalf("zmq4 got %d frames", len(msg.Frames))
			}
		}
	})
}

// fakeConn serves a byte stream in chunks and discards writes.
type fakeConn struct {
	r     *bytes.Reader
	chunk int
}

func (c *fakeConn) Read(p []byte) (int, error) {
	if len(p) > c.chunk {
		p = p[:c.chunk]
	}
	return c.r.Read(p)
}
func (c *fakeConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *fakeConn) Close() error                     { return nil }
func (c *fakeConn) LocalAddr() stdnet.Addr           { return &stdnet.TCPAddr{} }
func (c *fakeConn) RemoteAddr() stdnet.Addr          { return &stdnet.TCPAddr{} }
func (c *fakeConn) SetDeadline(time.Time) error      { return nil }
func (c *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }
