package main

// Process-level tests of protocol 2's old-version refusal through duet
// mitm (issue 19: "every new refusal has a test over pipes and a
// process-level one through duet mitm"). In TestE2EMITMOldVersion the
// version-1 peer is played by v1Peer below: it needs no build of an older
// duet, so it runs on any checkout. TestE2EMITMRealV1Peer runs the last
// protocol-1 duet itself when the git history has it.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"duet/crypto"
	"duet/protocol"
)

// v1Peer is what a version-1 duet does before any session, as far as a
// version-2 duet can tell: it sends its PUBLIC_KEY (asking for an answer)
// every 2 s, its step timeout, and reads what comes back. Its PUBLIC_KEY
// is version 2's layout with byte 0 = 1 (the layout is the same in both
// versions, docs/PROTOCOL.md section 7; checked against the version-1
// vectors' own PUBLIC_KEY), under a key pair of its own.
type v1Peer struct {
	fp  crypto.Fingerprint
	msg []byte // its PUBLIC_KEY

	mu  sync.Mutex
	got [][]byte // what it received, in order
}

// startV1Peer binds bind and sends to sub until stop (or the test's
// end) closes it.
func startV1Peer(t *testing.T, bind, sub int) (p *v1Peer, stop func()) {
	t.Helper()
	id, err := crypto.GenerateIdentity(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pk := protocol.PublicKeyMsg{ReplyRequested: true, DER: id.Public().DER()}
	rand.Read(pk.Challenge[:])
	p = &v1Peer{fp: id.Public().Fingerprint(), msg: protocol.AppendPublicKey(nil, pk)}
	p.msg[0] = protocol.VersionOld
	if vec := v1VectorPublicKey(t); len(vec) != len(p.msg) || vec[0] != p.msg[0] || vec[1] != p.msg[1] {
		t.Fatalf("the version-1 peer's PUBLIC_KEY (%d bytes, %x) is not shaped like the version-1 vectors' (%d bytes, %x)", len(p.msg), p.msg[:2], len(vec), vec[:2])
	}
	ctx, cancel := context.WithCancel(context.Background())
	tr := attacker(t, ctx, bind, sub)
	var wg sync.WaitGroup
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); tr.Close(); wg.Wait() }) }
	t.Cleanup(stop)
	wg.Go(func() {
		for {
			m, err := tr.Recv(ctx)
			if err != nil {
				return
			}
			p.mu.Lock()
			p.got = append(p.got, m)
			p.mu.Unlock()
		}
	})
	wg.Go(func() {
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			_ = tr.Send(ctx, p.msg)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	return p, stop
}

// received returns what the peer has received so far.
func (p *v1Peer) received() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.got...)
}

// v1VectorPublicKey is A's PUBLIC_KEY from protocol 1's vectors
// (testdata/vectors/handshake.json, kept byte for byte).
func v1VectorPublicKey(t *testing.T) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "vectors", "handshake.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		PublicKeyA string `json:"msg_public_key_a"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(v.PublicKeyA)
	if err != nil || len(b) < 2 || b[0] != protocol.VersionOld {
		t.Fatalf("version-1 public key in the vectors: %v", err)
	}
	return b
}

// mitmVersion is the "version" of a duet mitm line (0 when absent).
func mitmVersion(e event) int {
	var v struct {
		Version int `json:"version"`
	}
	_ = json.Unmarshal([]byte(e.raw), &v)
	return v.Version
}

// TestE2EMITMOldVersion: a version-2 duet (A) behind duet mitm, and a
// version-1 peer on B's side whose PUBLIC_KEY crosses the relay. The
// relay passes it on untouched and its log names it (PUBLIC_KEY,
// "version":1); A refuses it as old-version, in words naming protocol 1,
// for each retry, stays up, makes no session, reaches no handshake step
// and records nothing in known_peers; what reaches the version-1 peer is
// A's version-2 PUBLIC_KEY, which a version-1 duet's own rule refuses.
// Then a version-2 B in the old peer's place makes a session with A
// through the same relay.
func TestE2EMITMOldVersion(t *testing.T) {
	s := startMITM(t)
	a := startDuet(t, "A", s.peerArgs("A", "a.pem")...)
	a.waitFor(t, readyTimeout, "A ready", isEv("ready"))
	old, stopOld := startV1Peer(t, s.bMain, s.bSub)

	s.mitm.waitFor(t, msgTimeout, "the relay names the version-1 PUBLIC_KEY it passes to A", func(e event) bool {
		return e.Event == "mitm" && e.Flow == "b->a" && e.Action == "relayed" && e.Type == "PUBLIC_KEY" && mitmVersion(e) == 1
	})
	oldVersion := func(e event) bool { return e.Event == "rejected" && e.Reason == "old-version" }
	r := a.waitFor(t, msgTimeout, "A refuses it: old-version", oldVersion)
	if r.Seq != nil || !strings.Contains(r.Detail, "protocol 1") {
		t.Errorf("old-version line %s: want no seq and a detail naming protocol 1", r)
	}
	a.waitN(t, 2, sessionTimeout, "a second old-version line: the old peer's retries are refused too", oldVersion)
	s.mitm.waitFor(t, msgTimeout, "the relay passes A's PUBLIC_KEY (version 2) to the old peer", func(e event) bool {
		return e.Event == "mitm" && e.Flow == "a->b" && e.Type == "PUBLIC_KEY" && mitmVersion(e) == 0
	})
	waitAny(t, msgTimeout, "A's PUBLIC_KEY at the version-1 peer", func() bool {
		for _, m := range old.received() {
			if len(m) >= 2 && m[1] == protocol.TypePublicKey {
				return true
			}
		}
		return false
	})
	for _, m := range old.received() {
		if len(m) < 1 || m[0] != protocol.Version {
			t.Errorf("the version-1 peer received %x...: want only version-2 messages (which its rule refuses as malformed)", m[:min(len(m), 2)])
		}
	}

	if !a.running() {
		t.Fatal("A died")
	}
	for _, e := range a.snapshot() {
		if established(e) || e.Event == "handshake" && e.State == "done" || e.Event == "stalled" {
			t.Errorf("A took the version-1 peer as a candidate: %s", e)
		}
	}
	kp := filepath.Join(s.dir, "kp_A")
	if b, err := os.ReadFile(kp); err == nil && strings.Contains(string(b), hex.EncodeToString(old.fp[:])) {
		t.Errorf("A recorded the version-1 peer's key in known_peers:\n%s", b)
	}

	stopOld() // the old peer's port, for the version-2 B
	b := startDuet(t, "B", s.peerArgs("B", "b.pem")...)
	rb := b.waitFor(t, readyTimeout, "B ready", isEv("ready"))
	sa := a.waitFor(t, sessionTimeout, "A's session with the version-2 B", established)
	b.waitFor(t, sessionTimeout, "B's session", established)
	if sa.PeerFingerprint != rb.Fingerprint || sa.PeerFingerprint == old.fp.String() {
		t.Errorf("A's peer %s, want B's key %s", sa.PeerFingerprint, rb.Fingerprint)
	}
	a.send("after the old peer")
	b.waitFor(t, msgTimeout, "B shows A's message", shows("after the old peer"))
}

// v1Commit is the last commit of duet that speaks protocol 1.
const v1Commit = "791c3cf"

// buildV1Duet builds duet as of v1Commit from this checkout's git history,
// without network (GOPROXY=off: its go.mod and go.sum are today's, so the
// modules are those today's build used). It skips the test, saying why,
// when the history or git is not there (a shallow or exported checkout)
// or the build fails: TestE2EMITMOldVersion covers the refusal without it.
func buildV1Duet(t *testing.T) string {
	t.Helper()
	needBinary(t)
	if out, err := exec.Command("git", "rev-parse", "--verify", "--quiet", v1Commit+"^{commit}").CombinedOutput(); err != nil {
		t.Skipf("no git history with %s, the last protocol-1 duet, in this checkout (%v: %s); TestE2EMITMOldVersion covers the refusal", v1Commit, err, bytes.TrimSpace(out))
	}
	dir := t.TempDir()
	archive := exec.Command("git", "archive", "--format=tar", v1Commit)
	untar := exec.Command("tar", "-x", "-C", dir)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	untar.Stdin = pipe
	if err := untar.Start(); err != nil {
		t.Skipf("tar: %v", err)
	}
	if err := archive.Run(); err != nil {
		t.Skipf("git archive %s: %v", v1Commit, err)
	}
	if err := untar.Wait(); err != nil {
		t.Skipf("unpacking %s: %v", v1Commit, err)
	}
	bin := filepath.Join(dir, "duet-v1")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=readonly")
	if out, err := build.CombinedOutput(); err != nil {
		t.Skipf("building %s offline: %v\n%s", v1Commit, err, out)
	}
	return bin
}

// startV1Duet is startDuet with the protocol-1 binary bin. It swaps the
// package's duetBin for the one exec in spawnDuet: the end-to-end tests
// of this package never run in parallel.
func startV1Duet(t *testing.T, bin, name string, args ...string) *proc {
	t.Helper()
	saved := duetBin
	duetBin = bin
	defer func() { duetBin = saved }()
	return startDuet(t, name, args...)
}

// TestE2EMITMRealV1Peer: the last protocol-1 duet itself (built from the
// git history; skipped without it) against today's through duet mitm.
// The relay names its PUBLIC_KEY as protocol 1's; today's duet refuses it
// as old-version; the old duet shows what docs/PROTOCOL.md section 7 says
// a version-1 peer shows: malformed rejections ("version not 1") and no
// session. Neither takes the other's key. Once the old peer is upgraded
// (today's duet on the same identity), the two make a session through the
// same relay, with the key the old one had.
func TestE2EMITMRealV1Peer(t *testing.T) {
	v1 := buildV1Duet(t)
	s := startMITM(t)
	a := startDuet(t, "A", s.peerArgs("A", "a.pem")...)
	old := startV1Duet(t, v1, "B (protocol 1)", s.peerArgs("B", "b.pem")...)
	rOld := old.waitFor(t, readyTimeout, "the old B ready", isEv("ready"))

	s.mitm.waitFor(t, msgTimeout, "the relay names the old B's PUBLIC_KEY as protocol 1's", func(e event) bool {
		return e.Event == "mitm" && e.Flow == "b->a" && e.Type == "PUBLIC_KEY" && mitmVersion(e) == 1
	})
	oldVersion := func(e event) bool { return e.Event == "rejected" && e.Reason == "old-version" }
	a.waitN(t, 2, sessionTimeout, "A refuses the old B's PUBLIC_KEY and its retry: old-version", oldVersion)
	r := old.waitFor(t, msgTimeout, "the old B refuses A's version-2 messages: malformed", func(e event) bool {
		return e.Event == "rejected" && e.Reason == "malformed"
	})
	if !strings.Contains(r.Detail, "version") {
		t.Errorf("the old B's malformed line %s: want its detail to name the version", r)
	}
	for _, p := range []*proc{a, old} {
		if !p.running() {
			t.Fatalf("%s died", p.name)
		}
		if n := p.count(established); n != 0 {
			t.Fatalf("%s made a session across protocol versions", p.name)
		}
	}
	for _, kp := range []string{"kp_A", "kp_B"} {
		if b, err := os.ReadFile(filepath.Join(s.dir, kp)); err == nil && len(bytes.TrimSpace(b)) > 0 {
			t.Errorf("%s records a key across protocol versions:\n%s", kp, b)
		}
	}

	old.kill()
	b := startDuet(t, "B upgraded", s.peerArgs("B", "b.pem")...)
	sa := a.waitFor(t, sessionTimeout, "A's session with the upgraded B", established)
	b.waitFor(t, sessionTimeout, "the upgraded B's session", established)
	if sa.PeerFingerprint != rOld.Fingerprint {
		t.Errorf("A's peer %s, want the old B's key %s (the same identity file)", sa.PeerFingerprint, rOld.Fingerprint)
	}
	a.send("hello, upgraded")
	b.waitFor(t, msgTimeout, "the upgraded B shows A's message", shows("hello, upgraded"))
}
