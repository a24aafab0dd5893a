package mitm

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"duet/protocol"
	"duet/protocol/internal/prototest"
)

// testHello is an encoded version-2 hello of role, every field random.
func testHello(t *testing.T, role byte) (*protocol.Hello, []byte) {
	t.Helper()
	h := &protocol.Hello{Role: role, Timestamp: time.Now().UnixNano()}
	n := protocol.MLKEMEncapKeySize
	if role == protocol.RoleResponder {
		n = protocol.MLKEMCiphertextSize
	}
	h.KEM = make([]byte, n)
	for _, b := range [][]byte{h.Cookie[:], h.Nonce[:], h.Ephemeral[:], h.KEM, h.Signature[:]} {
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
	}
	return h, protocol.AppendHello(nil, h)
}

// TestStripShare: the stripped hello of either role is exactly version
// 1's layout, 319 bytes: prefix, role, cookie, nonce, timestamp, X25519
// key and signature at their version-1 offsets, the ML-KEM share gone; a
// version-2 receiver's parser refuses it as a downgrade. Anything that is
// not a version-2 hello of its role's size is not touched.
func TestStripShare(t *testing.T) {
	for _, c := range []struct {
		role byte
		size int
	}{{protocol.RoleInitiator, protocol.HelloASize}, {protocol.RoleResponder, protocol.HelloBSize}} {
		h, msg := testHello(t, c.role)
		if len(msg) != c.size {
			t.Fatalf("role %d hello of %d bytes, want %d", c.role, len(msg), c.size)
		}
		orig := bytes.Clone(msg)
		v1, ok := StripShare(msg)
		if !ok || len(v1) != 319 {
			t.Fatalf("role %d: StripShare = %d bytes, %v; want 319, true", c.role, len(v1), ok)
		}
		if !bytes.Equal(msg, orig) {
			t.Errorf("role %d: StripShare changed its input", c.role)
		}
		var want []byte
		want = append(want, protocol.Version, protocol.TypeHello, c.role)
		want = append(want, h.Cookie[:]...)
		want = append(want, h.Nonce[:]...)
		want = append(want, byte(h.Timestamp>>56), byte(h.Timestamp>>48), byte(h.Timestamp>>40), byte(h.Timestamp>>32),
			byte(h.Timestamp>>24), byte(h.Timestamp>>16), byte(h.Timestamp>>8), byte(h.Timestamp))
		want = append(want, h.Ephemeral[:]...)
		want = append(want, h.Signature[:]...)
		if !bytes.Equal(v1, want) {
			t.Errorf("role %d: stripped hello is not the version-1 layout of its fields:\n got %x\nwant %x", c.role, v1, want)
		}
		if _, err := protocol.ParseHello(v1); !errors.Is(err, protocol.ErrDowngrade) {
			t.Errorf("role %d: ParseHello(stripped) = %v, want ErrDowngrade", c.role, err)
		}
	}
	_, a := testHello(t, protocol.RoleInitiator)
	wrongRole := bytes.Clone(a)
	wrongRole[2] = protocol.RoleResponder
	for _, msg := range [][]byte{nil, {protocol.Version}, a[:protocol.HelloV1Size], a[:len(a)-1], append(bytes.Clone(a), 0), wrongRole, rec0(),
		protocol.AppendPublicKey(nil, protocol.PublicKeyMsg{DER: prototest.Identities(t)[0].Public().DER()})} {
		if v1, ok := StripShare(msg); ok || v1 != nil {
			t.Errorf("StripShare(%d bytes, type %x) = %d bytes, %v; want untouched", len(msg), msg[min(1, len(msg)):min(2, len(msg))], len(v1), ok)
		}
	}
}

// TestDowngradeProcess: with downgrade armed on a flow, each hello of the
// flow, of either role, goes out stripped and is reported (Stripped, its
// size before and after); other messages, and the other flow, pass
// unchanged; it stays on for every hello until disarmed, and after Disarm
// hellos pass whole.
func TestDowngradeProcess(t *testing.T) {
	var log eventLog
	m := New(log.emit)
	if err := m.Arm(context.Background(), FlowAB, Downgrade); err != nil {
		t.Fatal(err)
	}
	if evs := log.events(); len(evs) != 1 || evs[0].Action != Armed || evs[0].Attack != Downgrade {
		t.Fatalf("arming: %+v", evs)
	}
	_, helloA := testHello(t, protocol.RoleInitiator)
	_, helloB := testHello(t, protocol.RoleResponder)
	for i := range 2 { // twice: it stays on
		for _, hello := range [][]byte{helloA, helloB} {
			out, evs, _ := m.process(FlowAB, hello)
			want, _ := StripShare(hello)
			if len(out) != 1 || !bytes.Equal(out[0], want) || len(out[0]) != protocol.HelloV1Size {
				t.Fatalf("round %d: hello of %d bytes went out as %d messages (%v)", i, len(hello), len(out), evs)
			}
			if len(evs) != 1 || evs[0].Action != Stripped || evs[0].Attack != Downgrade || evs[0].Type != protocol.TypeHello ||
				evs[0].Size != protocol.HelloV1Size || evs[0].SizeBefore != len(hello) {
				t.Errorf("round %d: event %+v", i, evs)
			}
		}
	}
	pk := protocol.AppendPublicKey(nil, protocol.PublicKeyMsg{DER: prototest.Identities(t)[0].Public().DER()})
	for _, c := range []struct {
		f   Flow
		msg []byte
	}{{FlowAB, rec0()}, {FlowAB, pk}, {FlowBA, helloA}, {FlowBA, helloB}} {
		if out, evs, _ := m.process(c.f, c.msg); len(out) != 1 || !bytes.Equal(out[0], c.msg) || evs[0].Action != Relayed {
			t.Errorf("%s: message of %d bytes changed with downgrade armed on a->b: %+v", c.f, len(c.msg), evs)
		}
	}
	m.Disarm(FlowAB)
	for _, hello := range [][]byte{helloA, helloB} {
		if out, evs, _ := m.process(FlowAB, hello); len(out) != 1 || !bytes.Equal(out[0], hello) || evs[0].Action != Relayed {
			t.Errorf("after Disarm, a hello of %d bytes: %+v", len(hello), evs)
		}
	}
}

// TestDowngradeRefused, over pipes: with downgrade on what A sends, a
// new handshake (B restarts) fails: B refuses the stripped hello as
// "downgrade", whichever handshake role A has, and no session is made
// while it lasts; the old session goes on. Once disarmed, the peers'
// retries make a session.
func TestDowngradeRefused(t *testing.T) {
	id := prototest.Identities(t)
	ra, rb := newRecorder(), newRecorder()
	var log eventLog
	m := New(log.emit)
	aEnd, bEnd := runRelay(t, m)
	ca, cb := testConfig(id[0]), testConfig(id[1])
	a, _ := startNode(t, ca, aEnd, ra.Emit)
	_, stopB1 := startNode(t, cb, bEnd, rb.Emit)
	ra.WaitFor(t, 10*time.Second, "A established", isEstablished)
	rb.WaitFor(t, 10*time.Second, "B established", isEstablished)

	if err := m.Arm(context.Background(), FlowAB, Downgrade); err != nil {
		t.Fatal(err)
	}
	stopB1() // B restarts: a new handshake, through the stripping MITM
	rb2 := newRecorder()
	startNode(t, cb, bEnd, rb2.Emit)
	rb2.WaitFor(t, 10*time.Second, "restarted B refuses A's stripped hello (downgrade)", rejected(protocol.ReasonDowngrade))
	// A's retries are stripped too: wait for a second refusal, then check
	// that none of the attempts so far made a session.
	deadline := time.Now().Add(10 * time.Second)
	for rb2.Count(rejected(protocol.ReasonDowngrade)) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("one downgrade refusal only: the attack did not stay on: %v", rb2.Snapshot())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := rb2.Count(isEstablished); n != 0 {
		t.Fatal("restarted B made a session through a stripping MITM")
	}
	if n := ra.Count(isEstablished); n != 1 {
		t.Fatalf("A established %d sessions while its hellos were stripped, want the first only", n)
	}
	if log.count(func(ev Event) bool {
		return ev.Action == Stripped && ev.Flow == FlowAB && ev.Size == protocol.HelloV1Size &&
			(ev.SizeBefore == protocol.HelloASize || ev.SizeBefore == protocol.HelloBSize)
	}) == 0 {
		t.Fatalf("no hello reported stripped: %+v", log.events())
	}

	m.Disarm(FlowAB)
	rb2.WaitFor(t, 10*time.Second, "restarted B established once downgrade is off", isEstablished)
	for deadline := time.Now().Add(10 * time.Second); ra.Count(isEstablished) < 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("A made no new session once downgrade is off: %v", ra.Snapshot())
		}
	}
	if _, err := a.Send("after the downgrade"); err != nil {
		t.Fatal(err)
	}
	rb2.WaitFor(t, 10*time.Second, "B shows A's message in the new session", showed("after the downgrade"))
}
