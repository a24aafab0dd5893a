package net

import "errors"

// Sentinel errors. Use errors.Is: returned errors wrap these with detail.
var (
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("net: transport closed")
	// ErrNotConnected is returned by Send when no connection to the peer is
	// established (the peer is down or not yet reached). Nothing was sent;
	// it is transient: the DEALER keeps redialling.
	ErrNotConnected = errors.New("net: not connected to peer")
	// ErrSendFailed is returned by Send when writing to the peer failed or
	// stalled past SendTimeout; the connection is then dropped and redialled.
	ErrSendFailed = errors.New("net: send failed")
	// ErrEmptyBatch is returned by Send without messages.
	ErrEmptyBatch = errors.New("net: no message to send")

	// ErrFrameTooLarge: a frame (or command frame) larger than allowed.
	ErrFrameTooLarge = errors.New("net: frame too large")
	// ErrTooManyParts: more frames in one message than allowed.
	ErrTooManyParts = errors.New("net: too many frames in one message")
	// ErrBadFrame: a frame with reserved flag bits or a command inside a
	// multipart message.
	ErrBadFrame = errors.New("net: malformed frame")
	// ErrBadGreeting: the peer's ZMTP greeting or READY command is malformed
	// (or the peer hung up during it).
	ErrBadGreeting = errors.New("net: bad ZMTP greeting")
	// ErrWrongSocketType: the peer's READY names another socket type than
	// the one duet expects (DEALER towards our ROUTER, ROUTER towards our
	// DEALER).
	ErrWrongSocketType = errors.New("net: wrong peer socket type")
	// ErrGreetingTimeout: greeting and READY did not arrive within
	// GreetingTimeout.
	ErrGreetingTimeout = errors.New("net: greeting timeout")
	// ErrTooManyPending: too many connections in greeting at once.
	ErrTooManyPending = errors.New("net: too many pending connections")
	// ErrTooManyConns: too many established connections.
	ErrTooManyConns = errors.New("net: too many connections")
	// ErrPortInUse is returned by Open when the main port is already bound
	// (typically by another duet).
	ErrPortInUse = errors.New("port already in use")
)

// connError is what a guarded connection returns from Read after a
// violation. It is a net.Error that is not a timeout, so zmq4 marks the
// connection closed (and a DEALER redials).
type connError struct{ err error }

func (e *connError) Error() string   { return e.err.Error() }
func (e *connError) Unwrap() error   { return e.err }
func (e *connError) Timeout() bool   { return false }
func (e *connError) Temporary() bool { return false }

// writeError is what a guarded connection returns from Write when the write
// failed or stalled. It claims to be a timeout so that zmq4's writer does not
// mark the connection closed itself: in zmq4 v0.17.0 that would run the
// DEALER's redial inside the writer while it holds the writer lock, and the
// redial's addConn needs that lock (a deadlock, upstream #132). The guarded
// connection closes the socket instead, so zmq4's reader sees the failure and
// redials from its own goroutine.
type writeError struct{ err error }

func (e *writeError) Error() string   { return "net: write: " + e.err.Error() }
func (e *writeError) Unwrap() error   { return e.err }
func (e *writeError) Timeout() bool   { return true }
func (e *writeError) Temporary() bool { return true }
