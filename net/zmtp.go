package net

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ZMTP 3.x wire constants (https://rfc.zeromq.org/spec/23/).
const (
	greetingSize = 64
	sigSize      = 10

	flagMore     = 0x01
	flagLong     = 0x02
	flagCommand  = 0x04
	flagReserved = 0xF8

	// MaxCommandSize bounds a ZMTP command frame (READY, PING, ...), header
	// excluded. duet's READY is under 100 bytes; libzmq's is under 200.
	MaxCommandSize = 4 << 10
	// maxIdentity is ZMTP's limit on the Identity property.
	maxIdentity = 255
)

// zmtpGreeting is the 64-byte ZMTP 3.0 NULL greeting, byte for byte what
// zmq4 v0.17.0 writes (signature, version 3.0, "NULL", as-server 0, zero
// filler). duet writes it before zmq4 does and swallows zmq4's copy.
var zmtpGreeting = func() [greetingSize]byte {
	var g [greetingSize]byte
	g[0] = 0xFF
	g[9] = 0x7F
	g[10] = 3
	g[11] = 0
	copy(g[12:32], "NULL")
	g[32] = 0
	return g
}()

// checkSignature validates the first 10 bytes of a greeting, so garbage is
// refused after one short read.
func checkSignature(b []byte) error {
	if len(b) < sigSize {
		return fmt.Errorf("%w: short signature", ErrBadGreeting)
	}
	if b[0] != 0xFF || b[9] != 0x7F {
		return fmt.Errorf("%w: bad signature", ErrBadGreeting)
	}
	return nil
}

// parseGreeting validates a peer's 64-byte ZMTP greeting: signature, major
// version 3 (any minor: libzmq sends 3.1), mechanism NULL, as-server 0 or 1.
// The 8 signature padding bytes and the filler are not checked (libzmq puts
// a 1 in the padding).
func parseGreeting(b []byte) error {
	if len(b) != greetingSize {
		return fmt.Errorf("%w: greeting of %d bytes", ErrBadGreeting, len(b))
	}
	if err := checkSignature(b[:sigSize]); err != nil {
		return err
	}
	if b[10] != 3 {
		return fmt.Errorf("%w: ZMTP version %d.%d", ErrBadGreeting, b[10], b[11])
	}
	mech := b[12:32]
	if string(mech[:4]) != "NULL" {
		return fmt.Errorf("%w: mechanism is not NULL", ErrBadGreeting)
	}
	for _, c := range mech[4:] {
		if c != 0 {
			return fmt.Errorf("%w: mechanism is not NULL", ErrBadGreeting)
		}
	}
	if b[32] > 1 {
		return fmt.Errorf("%w: as-server byte %#x", ErrBadGreeting, b[32])
	}
	return nil
}

// readyInfo is what duet keeps of a peer's READY command.
type readyInfo struct {
	SocketType string
	Identity   string
}

// parseReady validates the body of a ZMTP command frame that must be READY
// with well-formed metadata (every length checked against what is left,
// property names restricted to the ZMTP name charset, no duplicates,
// Socket-Type present, Identity at most 255 bytes). It never panics and
// allocates nothing beyond the two strings it returns.
func parseReady(body []byte) (readyInfo, error) {
	var ri readyInfo
	if len(body) < 1 {
		return ri, fmt.Errorf("%w: empty command", ErrBadGreeting)
	}
	n := int(body[0])
	if n != 5 || len(body) < 1+n || string(body[1:1+n]) != "READY" {
		return ri, fmt.Errorf("%w: command is not READY", ErrBadGreeting)
	}
	p := body[1+n:]
	var haveType, haveID bool
	seen := 0
	for len(p) > 0 {
		seen++
		if seen > 64 {
			return ri, fmt.Errorf("%w: too many properties", ErrBadGreeting)
		}
		klen := int(p[0])
		if klen == 0 {
			return ri, fmt.Errorf("%w: empty property name", ErrBadGreeting)
		}
		if len(p) < 1+klen+4 {
			return ri, fmt.Errorf("%w: truncated property", ErrBadGreeting)
		}
		key := p[1 : 1+klen]
		for _, c := range key {
			if !isNameChar(c) {
				return ri, fmt.Errorf("%w: bad property name", ErrBadGreeting)
			}
		}
		vlen := binary.BigEndian.Uint32(p[1+klen : 1+klen+4])
		rest := p[1+klen+4:]
		if uint64(vlen) > uint64(len(rest)) {
			return ri, fmt.Errorf("%w: truncated property value", ErrBadGreeting)
		}
		val := rest[:vlen]
		p = rest[vlen:]
		switch {
		case asciiEqualFold(key, "Socket-Type"):
			if haveType {
				return ri, fmt.Errorf("%w: duplicate Socket-Type", ErrBadGreeting)
			}
			haveType = true
			ri.SocketType = string(val)
		case asciiEqualFold(key, "Identity"):
			if haveID {
				return ri, fmt.Errorf("%w: duplicate Identity", ErrBadGreeting)
			}
			if len(val) > maxIdentity {
				return ri, fmt.Errorf("%w: identity too long", ErrBadGreeting)
			}
			haveID = true
			ri.Identity = string(val)
		}
	}
	if !haveType {
		return ri, fmt.Errorf("%w: no Socket-Type", ErrBadGreeting)
	}
	return ri, nil
}

func isNameChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	case c == '-', c == '_', c == '.', c == '+':
		return true
	}
	return false
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// readyCommand builds a complete READY command frame (header included) with
// the given socket type and identity, as zmq4 would send it.
func readyCommand(sockType, identity string) []byte {
	body := []byte{5}
	body = append(body, "READY"...)
	body = appendProp(body, "Socket-Type", sockType)
	if identity != "" {
		body = appendProp(body, "Identity", identity)
	}
	var hdr []byte
	if len(body) > 255 {
		hdr = make([]byte, 9)
		hdr[0] = flagCommand | flagLong
		binary.BigEndian.PutUint64(hdr[1:], uint64(len(body)))
	} else {
		hdr = []byte{flagCommand, byte(len(body))}
	}
	return append(hdr, body...)
}

func appendProp(b []byte, k, v string) []byte {
	b = append(b, byte(len(k)))
	b = append(b, k...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

// handshake is the result of reading a peer's greeting and READY.
type handshake struct {
	raw   []byte // greeting + READY frame exactly as received, replayed to zmq4
	ready readyInfo
}

// readHandshake reads and validates a peer's ZMTP greeting and READY command
// from r, checking the signature after 10 bytes and the command size before
// reading the command body. want is the Socket-Type the peer must have. It
// allocates at most greetingSize+9+MaxCommandSize bytes.
func readHandshake(r io.Reader, want string) (handshake, error) {
	var hs handshake
	buf := make([]byte, greetingSize, greetingSize+9+64)
	if _, err := io.ReadFull(r, buf[:sigSize]); err != nil {
		return hs, ioErr(err, "greeting")
	}
	if err := checkSignature(buf[:sigSize]); err != nil {
		return hs, err
	}
	if _, err := io.ReadFull(r, buf[sigSize:greetingSize]); err != nil {
		return hs, ioErr(err, "greeting")
	}
	if err := parseGreeting(buf); err != nil {
		return hs, err
	}
	var fl [1]byte
	if _, err := io.ReadFull(r, fl[:]); err != nil {
		return hs, ioErr(err, "READY")
	}
	f := fl[0]
	if f&flagCommand == 0 || f&(flagMore|flagReserved) != 0 {
		return hs, fmt.Errorf("%w: expected a READY command frame, flags %#x", ErrBadGreeting, f)
	}
	buf = append(buf, f)
	var size uint64
	if f&flagLong != 0 {
		var sz [8]byte
		if _, err := io.ReadFull(r, sz[:]); err != nil {
			return hs, ioErr(err, "READY")
		}
		size = binary.BigEndian.Uint64(sz[:])
		buf = append(buf, sz[:]...)
	} else {
		var sz [1]byte
		if _, err := io.ReadFull(r, sz[:]); err != nil {
			return hs, ioErr(err, "READY")
		}
		size = uint64(sz[0])
		buf = append(buf, sz[0])
	}
	if size > MaxCommandSize {
		return hs, fmt.Errorf("%w: command frame of %d bytes in place of READY", ErrFrameTooLarge, size)
	}
	start := len(buf)
	buf = append(buf, make([]byte, size)...)
	if _, err := io.ReadFull(r, buf[start:]); err != nil {
		return hs, ioErr(err, "READY")
	}
	ri, err := parseReady(buf[start:])
	if err != nil {
		return hs, err
	}
	if ri.SocketType != want {
		return hs, fmt.Errorf("%w: peer is %q, want %q", ErrWrongSocketType, truncate(ri.SocketType, 16), want)
	}
	hs.raw = buf
	hs.ready = ri
	return hs, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// ioErr classifies an I/O error during the handshake.
func ioErr(err error, what string) error {
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		return fmt.Errorf("%w: reading %s: %v", ErrGreetingTimeout, what, err)
	}
	return fmt.Errorf("%w: reading %s: %v", ErrBadGreeting, what, err)
}

// frameScanner follows a ZMTP frame stream byte by byte without buffering
// it, enforcing size and part limits. It holds O(1) state whatever it is fed.
type frameScanner struct {
	maxFrame uint64
	maxCmd   uint64
	maxParts int
	maxMsg   uint64 // data bytes in one message

	st      uint8
	flags   byte
	size    [8]byte
	sizeN   uint8
	sizeLen uint8
	remain  uint64
	parts   int    // data frames seen so far in the current message
	msgLen  uint64 // data bytes announced so far in the current message
	err     error

	frames    uint64 // completed frames
	doneBytes uint64 // data bytes of completed messages
}

const (
	scanFlags = iota
	scanSize
	scanBody
)

func newFrameScanner(maxFrame, maxParts, maxMsg int) frameScanner {
	return frameScanner{maxFrame: uint64(maxFrame), maxCmd: MaxCommandSize, maxParts: maxParts, maxMsg: uint64(maxMsg)}
}

// unlimitedScanner tracks frame boundaries of a trusted stream (what zmq4
// writes) without limits.
func unlimitedScanner() frameScanner {
	return frameScanner{maxFrame: ^uint64(0), maxCmd: ^uint64(0), maxParts: int(^uint(0) >> 1), maxMsg: ^uint64(0)}
}

// atBoundary reports whether the stream so far ends at the end of a message.
func (s *frameScanner) atBoundary() bool { return s.st == scanFlags && s.parts == 0 }

// scan consumes b. It returns the number of bytes of b consumed; with
// stopAtFrame it returns as soon as one frame is complete (done is then
// true). On a violation it returns, with the error, the offset in b where
// the offending frame's header begins (0 if it began in an earlier call):
// the bytes before it are valid, the header itself must never reach zmq4.
// After a violation every call returns the same error.
func (s *frameScanner) scan(b []byte, stopAtFrame bool) (n int, done bool, err error) {
	if s.err != nil {
		return 0, false, s.err
	}
	hdrStart := -1
	i := 0
	fail := func(e error) (int, bool, error) {
		s.err = e
		if hdrStart < 0 {
			return 0, false, e
		}
		return hdrStart, false, e
	}
	for i < len(b) {
		switch s.st {
		case scanFlags:
			hdrStart = i
			f := b[i]
			i++
			if f&flagReserved != 0 {
				return fail(fmt.Errorf("%w: reserved flag bits %#x", ErrBadFrame, f))
			}
			if f&flagCommand != 0 {
				if f&flagMore != 0 || s.parts > 0 {
					return fail(fmt.Errorf("%w: command frame inside a message", ErrBadFrame))
				}
			} else {
				s.parts++
				if s.parts > s.maxParts {
					return fail(fmt.Errorf("%w: more than %d frames in one message", ErrTooManyParts, s.maxParts))
				}
			}
			s.flags = f
			s.sizeN = 0
			s.sizeLen = 1
			if f&flagLong != 0 {
				s.sizeLen = 8
			}
			s.st = scanSize
		case scanSize:
			k := copy(s.size[s.sizeN:s.sizeLen], b[i:])
			i += k
			s.sizeN += uint8(k)
			if s.sizeN < s.sizeLen {
				continue
			}
			var size uint64
			if s.sizeLen == 1 {
				size = uint64(s.size[0])
			} else {
				size = binary.BigEndian.Uint64(s.size[:])
			}
			limit := s.maxFrame
			if s.flags&flagCommand != 0 {
				limit = s.maxCmd
			}
			if size > limit {
				return fail(fmt.Errorf("%w: frame header claims %d bytes (limit %d)", ErrFrameTooLarge, size, limit))
			}
			if s.flags&flagCommand == 0 {
				if size > s.maxMsg-s.msgLen {
					return fail(fmt.Errorf("%w: message of more than %d bytes", ErrFrameTooLarge, s.maxMsg))
				}
				s.msgLen += size
			}
			hdrStart = -1
			s.remain = size
			s.st = scanBody
			if size == 0 {
				s.finish()
				if stopAtFrame {
					return i, true, nil
				}
			}
		case scanBody:
			k := len(b) - i
			if uint64(k) > s.remain {
				k = int(s.remain)
			}
			i += k
			s.remain -= uint64(k)
			if s.remain == 0 {
				s.finish()
				if stopAtFrame {
					return i, true, nil
				}
			}
		}
	}
	return i, false, nil
}

func (s *frameScanner) finish() {
	s.st = scanFlags
	s.frames++
	if s.flags&flagMore == 0 {
		s.doneBytes += s.msgLen
		s.parts, s.msgLen = 0, 0
	}
}
